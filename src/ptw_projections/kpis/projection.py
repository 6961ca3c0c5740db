"""The KPI projection: folds permits, isolations and conflicts with the domain's own evolve and keeps, per permit,
the clock-free facts the KPIs and compliance reports compare with an explicit `as_of` (TIME-05).

Every fact is computed by the domain: expiry (`expiry_due`), the retest due (`retest_due`, GAS-10), the handover
owed (`owed_boundary`, HOV-01/04), the isolation guards of ISO-09/ISO-10 (KPI-05). They take a `PermitContext`,
built here from the permit's state, its resolved template and its project; none of them reads `now`.

A permit's row depends on its own state, its (immutable) template, its project's settings and the isolations it
has assigned, so it is recomputed whenever any of these moves: a permit event, an event of one of its isolations,
or a settings change of its project (live permits: the shift boundaries decide the handover owed). Rows are thus a
function of the events up to the batch's end, whatever the batching (AUD-07, `ptw projections verify`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

import msgspec
from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from ptw_domain.events import gas as gev
from ptw_domain.events import handover as hev
from ptw_domain.events import isolation as iev
from ptw_domain.events import permit as ev
from ptw_domain.events import records as rev
from ptw_domain.events import simops as sev
from ptw_domain.events.base import Recorded
from ptw_domain.events.project import ProjectSettings
from ptw_domain.gas.guards import retest_due
from ptw_domain.handover.shifts import owed_boundary, window
from ptw_domain.isolation.guards import (
    required_isolations,
    required_isolations_verified,
    structured_isolation_assigned,
)
from ptw_domain.isolation.state import IsolationState, IsolationStatus
from ptw_domain.permit.context import PermitContext, ProjectFacts
from ptw_domain.permit.expiry import expiry_due
from ptw_domain.permit.state import PermitState
from ptw_domain.permit.status import LIVE, Status
from ptw_domain.roles import DEFAULT_ROLE_POLICY
from ptw_domain.simops.streams import ConflictState
from ptw_domain.templates import ResolvedTemplate
from ptw_projections.bulk import insert_rows, upsert_rows
from ptw_projections.folding import Folder
from ptw_projections.kpis.tables import DEFINITIONS
from ptw_projections.projection import Positioned, Projection, TableDefinition
from ptw_projections.reference import ReferenceData
from ptw_projections.types import day_of

_json = msgspec.json.Encoder()
_MICROSECOND = timedelta(microseconds=1)
_settings = msgspec.json.Decoder(ProjectSettings)
Row = dict[str, Any]

# RPT-03 kinds of exception facts recorded by events, with the rule each one cites.
SOD_RELAXATION = "sod_relaxation"
LOCK_REMOVAL_EXCEPTION = "lock_removal_exception"
GAS_FAILURE = "gas_failure"
AUTOMATIC_SUSPENSION = "automatic_suspension"
MISSED_HANDOVER = "missed_handover"
CONFLICT_ACCEPTED = "conflict_accepted_with_controls"
EXPIRED_WHILE_LIVE = "expired_while_live"
INCOMPLETE_HAND_BACK = "incomplete_hand_back"
SIGNATURE_INVALIDATION = "signature_invalidation"
DEFERRED_TO_OPERATIONS = "deisolation_deferred_to_operations"

_SUSPENSION_RULES = {
    ev.SuspensionReason.GAS_TEST_FAILED: "GAS-11",
    ev.SuspensionReason.GAS_RETEST_OVERDUE: "GAS-10",
    ev.SuspensionReason.HANDOVER_MISSED: "HOV-03",
}


class Fact(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    rule: str
    permit_id: UUID | None
    detail: dict[str, Any]


class Kpis(Projection):
    name: ClassVar[str] = "kpis"
    # 2: reference data shared with the other read models; 3: permits per recorded status (KPI-01), approvals keep
    # their duration (KPI-07), the windows' indexes cover what KPI-07/08 read; 4: incidents linked (RPT-02/04), permits created per day (KPI-08), isolation-lock exceptions
    # (RPT-03); 5: open conflicts per severity (KPI-10), partial indexes for KPI-05/11/12
    version: ClassVar[int] = 5
    definitions: ClassVar[Mapping[str, TableDefinition]] = DEFINITIONS
    streams: ClassVar[frozenset[str] | None] = frozenset(
        {"permit", "isolation", "conflict", "template", "project"}
    )

    def __init__(self) -> None:
        self.permits = Folder("permit", PermitState)
        self.isolations = Folder("isolation", IsolationState)
        self.conflicts = Folder("conflict", ConflictState)
        # Template versions and overrides never change once published: their resolution is cached for good.
        self.reference = ReferenceData()

    # --- the batch -----------------------------------------------------------------------------------------

    def apply(self, conn: Connection, tables: Mapping[str, Table], events: Sequence[Positioned]) -> None:
        kinds: dict[str, list[UUID]] = {"permit": [], "isolation": [], "conflict": []}
        for _, recorded in events:
            kind = type(recorded.payload).stream
            if kind in kinds:
                kinds[kind].append(recorded.stream_id)
        permits = self.permits.load(conn, tables["kpi_permits"], "permit_id", dict.fromkeys(kinds["permit"]))
        counts: Counter[tuple[UUID, str]] = Counter()  # KPI-01: the batch's net moves between statuses
        created: Counter[tuple[UUID, int, str, str]] = Counter()  # KPI-08: the same for the creation days
        for s in permits.values():
            counts[(s.project_id, s.status.value)] -= 1
            created[_created_key(s)] -= 1
        isolations = self.isolations.load(
            conn, tables["kpi_isolations"], "isolation_id", dict.fromkeys(kinds["isolation"])
        )
        conflicts = self.conflicts.load(
            conn, tables["kpi_conflicts"], "conflict_id", dict.fromkeys(kinds["conflict"])
        )
        opened: Counter[tuple[UUID, str]] = Counter()  # KPI-10: the same for the open conflicts' severities
        for c in conflicts.values():
            if c.open:
                opened[(c.project_id, c.severity)] -= 1
        facts: list[Row] = []
        approvals: list[Row] = []
        incidents: list[Row] = []
        resettled: set[UUID] = set()  # projects whose settings changed
        for position, recorded in events:
            kind = type(recorded.payload).stream
            sid = recorded.stream_id
            if kind == "permit":
                before = permits.get(sid)
                after = permits[sid] = self.permits.evolve(before, recorded)
                if isinstance(recorded.payload, ev.PermitApproved):
                    assert after.submitted_at is not None and after.approved_at is not None
                    approvals.append(
                        {
                            "permit_id": sid,
                            "cycle": after.cycle,
                            "project_id": after.project_id,
                            "submitted_at": after.submitted_at,
                            "approved_at": after.approved_at,
                            "waited_us": (after.approved_at - after.submitted_at) // _MICROSECOND,
                        }
                    )
                found = permit_fact(recorded, before, after)
                if found is not None:
                    facts.append(_fact_row(position, after.project_id, recorded, found))
                if isinstance(recorded.payload, rev.IncidentLinked):
                    incidents.append(_incident_row(after.project_id, recorded))
            elif kind == "isolation":
                before_iso = isolations.get(sid)
                after_iso = isolations[sid] = self.isolations.evolve(before_iso, recorded)
                found = isolation_fact(recorded, before_iso, after_iso)
                if found is not None:
                    facts.append(_fact_row(position, after_iso.project_id, recorded, found))
            elif kind == "conflict":
                after_conflict = conflicts[sid] = self.conflicts.evolve(conflicts.get(sid), recorded)
                found = conflict_fact(recorded, after_conflict)
                if found is not None:
                    facts.append(_fact_row(position, after_conflict.project_id, recorded, found))
            elif kind in ("template", "project"):
                changed = self.reference.record(conn, tables, recorded)
                if changed is not None:
                    resettled.add(changed)
        for s in permits.values():
            counts[(s.project_id, s.status.value)] += 1
            created[_created_key(s)] += 1
        _add_counts(conn, tables["kpi_status_counts"], ("project_id", "status"), counts)
        _add_counts(
            conn, tables["kpi_created_days"], ("project_id", "day", "template_key", "category"), created
        )
        for c in conflicts.values():
            if c.open:
                opened[(c.project_id, c.severity)] += 1
        _add_counts(conn, tables["kpi_conflict_counts"], ("project_id", "severity"), opened)
        if isolations:
            self._write_isolations(conn, tables, isolations)
        if conflicts:
            self._write_conflicts(conn, tables, conflicts)
        if permits or isolations or resettled:
            self._write_permits(conn, tables, permits, isolations, resettled)
        insert_rows(conn, tables["kpi_approvals"], approvals)
        insert_rows(conn, tables["kpi_facts"], facts)
        insert_rows(conn, tables["kpi_incidents"], incidents)

    # --- reference data ----------------------------------------------------------------------------------

    def _projects(
        self, conn: Connection, tables: Mapping[str, Table], ids: Iterable[UUID]
    ) -> dict[UUID, ProjectFacts]:
        t = tables["projects"]
        wanted = list(dict.fromkeys(ids))
        out: dict[UUID, ProjectFacts] = {}
        for start in range(0, len(wanted), 500):
            for row in conn.execute(select(t).where(t.c.project_id.in_(wanted[start : start + 500]))):
                out[row.project_id] = ProjectFacts(
                    project_id=row.project_id,
                    organisation_id=row.organisation_id,
                    code=row.code,
                    time_zone=row.time_zone,
                    settings=_settings.decode(row.settings),
                )
        return out

    # --- isolations and conflicts ------------------------------------------------------------------------

    def _write_isolations(
        self, conn: Connection, tables: Mapping[str, Table], states: Mapping[UUID, IsolationState]
    ) -> None:
        rows = [
            {
                "isolation_id": iid,
                "project_id": s.project_id,
                "point_code": s.point.point_code,
                "status": s.status.value,
                "in_place": s.in_place,
                "operations_held": s.operations_held_by is not None,
                "isolated_at": s.isolated_at,
                "state": self.isolations.encode(s),
            }
            for iid, s in states.items()
        ]
        upsert_rows(conn, tables["kpi_isolations"], rows, ["isolation_id"])
        links = tables["kpi_isolation_links"]
        ids = list(states)
        conn.execute(delete(links).where(links.c.isolation_id.in_(ids)))
        insert_rows(
            conn, links, [{"isolation_id": iid, "permit_id": p} for iid, s in states.items() for p in s.links]
        )

    def _write_conflicts(
        self, conn: Connection, tables: Mapping[str, Table], states: Mapping[UUID, ConflictState]
    ) -> None:
        rows = [
            {
                "conflict_id": cid,
                "project_id": s.project_id,
                "older": s.older,
                "newer": s.newer,
                "severity": s.severity,
                "open": s.open,
                "state": self.conflicts.encode(s),
            }
            for cid, s in states.items()
        ]
        upsert_rows(conn, tables["kpi_conflicts"], rows, ["conflict_id"])

    # --- permits ---------------------------------------------------------------------------------------------

    def _write_permits(
        self,
        conn: Connection,
        tables: Mapping[str, Table],
        permits: dict[UUID, PermitState],
        isolations: dict[UUID, IsolationState],
        resettled: set[UUID],
    ) -> None:
        t, assigned = tables["kpi_permits"], tables["kpi_isolation_assignments"]
        moved = set(permits)
        # permits whose rows depend on what moved besides their own events
        others: set[UUID] = set()
        touched = list(isolations)
        for start in range(0, len(touched), 500):
            chunk = touched[start : start + 500]
            others.update(
                conn.execute(select(assigned.c.permit_id).where(assigned.c.isolation_id.in_(chunk))).scalars()
            )
        if resettled:
            live = [s.value for s in LIVE]
            others.update(
                conn.execute(
                    select(t.c.permit_id).where(t.c.project_id.in_(list(resettled)), t.c.status.in_(live))
                ).scalars()
            )
        permits.update(self.permits.load(conn, t, "permit_id", others - set(permits)))
        if not permits:
            return
        wanted = {a.isolation_id for s in permits.values() for a in s.isolations.assignments}
        states = dict(isolations)
        states.update(
            self.isolations.load(conn, tables["kpi_isolations"], "isolation_id", wanted - set(states))
        )
        projects = self._projects(conn, tables, (s.project_id for s in permits.values()))
        rows = []
        for s in permits.values():
            template = self.reference.template(conn, tables, s.project_id, s.template)
            isos = {
                a.isolation_id: states[a.isolation_id]
                for a in s.isolations.assignments
                if a.isolation_id in states
            }
            rows.append(self._permit_row(s, template, projects[s.project_id], isos))
        upsert_rows(conn, t, rows, ["permit_id"])
        if moved:
            ids = list(moved)
            conn.execute(delete(assigned).where(assigned.c.permit_id.in_(ids)))
            insert_rows(
                conn,
                assigned,
                [
                    {"permit_id": pid, "isolation_id": iid}
                    for pid in ids
                    for iid in dict.fromkeys(permits[pid].isolations.isolation_ids())
                ],
            )

    def _permit_row(
        self,
        s: PermitState,
        template: ResolvedTemplate,
        project: ProjectFacts,
        isolations: Mapping[UUID, IsolationState],
    ) -> Row:
        # The facts below read no clock; `now` is only there because a context needs one.
        ctx = PermitContext(
            state=s,
            template=template,
            template_retired=False,
            policy=DEFAULT_ROLE_POLICY,
            project=project,
            now=s.history[-1].at if s.history else s.created_at,
            isolations=isolations,
        )
        c = s.content
        due = expiry_due(s, template)
        required = required_isolations(ctx)
        verified = sum(iso is not None and iso.status is IsolationStatus.VERIFIED for _, iso in required)
        pending = template.requires_structured_isolation and bool(
            structured_isolation_assigned(ctx) or required_isolations_verified(ctx)
        )
        last = s.gas.last_pass()
        owed = owed_boundary(ctx)
        suspension = s.suspensions[0] if s.status is Status.SUSPENDED and s.suspensions else None
        return {
            "permit_id": s.permit_id,
            "project_id": s.project_id,
            "number": s.number,
            "title": c.title,
            "category": s.category,
            "template_key": s.template.key,
            "priority": c.priority.value,
            "effective_risk_level": s.effective_risk_level.value,
            "area": c.area,
            "location": c.location,
            "requestor": s.requestor,
            "created_at": s.created_at,
            "planned_start": c.planned_start,
            "planned_end": c.planned_end,
            "valid_until": s.valid_until,
            "status": s.status.value,
            "expires_at": due[0] if due else None,
            "submitted_at": s.submitted_at,
            "verified_at": s.verified_at,
            "approved_at": s.approved_at,
            "verification_sla_hours": template.verification_sla_hours,
            "approval_sla_hours": template.approval_sla_hours,
            "verification_due_at": _plus_hours(s.submitted_at, template.verification_sla_hours),
            "approval_due_at": _plus_hours(s.verified_at, template.approval_sla_hours),
            "pending_since": _pending_since(s),
            "isolation_pending": pending,
            "required_isolations": len(required),
            "verified_isolations": verified,
            "suspension_reason": suspension.reason_code if suspension else None,
            "suspended_at": suspension.at if suspension else None,
            "last_gas_pass_at": last.completed_at if last else None,
            "retest_due_at": retest_due(ctx),
            "handover_due_at": owed,
            "handover_missed_at": owed + window(ctx)[1] if owed else None,
            "handed_back_at": s.hand_back.at if s.hand_back else None,
            "version": s.version,
            "state": self.permits.encode(s),
        }


# --- RPT-03 facts recorded by events ---------------------------------------------------------------------------


def permit_fact(recorded: Recorded[Any], before: PermitState | None, after: PermitState) -> Fact | None:
    e = recorded.payload
    pid = recorded.stream_id
    if isinstance(e, ev.PermitActivated | ev.PermitResumed) and e.sod_relaxed:
        act = "activate" if isinstance(e, ev.PermitActivated) else "resume"
        return Fact(
            kind=SOD_RELAXATION,
            rule="SOD-09",
            permit_id=pid,
            detail={"action": act, "issuer": e.issuer, "acceptor": e.acceptor},
        )
    if isinstance(e, iev.LockRemovalExceptionRecorded):
        return Fact(
            kind=LOCK_REMOVAL_EXCEPTION,
            rule="LOCK-02",
            permit_id=pid,
            detail={
                "lock_id": e.lock_id,
                "applier_worker_id": str(e.applier_worker_id),
                "verified_absent_by": e.verified_absent_by,
                "recorded_by": e.recorded_by,
            },
        )
    if isinstance(e, gev.GasTestSessionCompleted) and e.verdict == "fail":
        return Fact(
            kind=GAS_FAILURE,
            rule="GAS-06",
            permit_id=pid,
            detail={"session_id": str(e.session_id), "failing_gases": list(e.failing_gases)},
        )
    if isinstance(e, ev.PermitSuspended) and e.by_system:
        return Fact(
            kind=AUTOMATIC_SUSPENSION,
            rule=_SUSPENSION_RULES.get(e.reason_code, "LIFE-18"),
            permit_id=pid,
            detail={"reason_code": e.reason_code.value, "cause_ref": e.cause_ref},
        )
    if isinstance(e, hev.HandoverMissed):
        return Fact(
            kind=MISSED_HANDOVER,
            rule="HOV-03",
            permit_id=pid,
            detail={"boundary": e.boundary.isoformat(), "due_at": e.due_at.isoformat()},
        )
    if isinstance(e, ev.PermitExpired) and e.previous_status in LIVE:
        return Fact(
            kind=EXPIRED_WHILE_LIVE,
            rule="LIFE-23",
            permit_id=pid,
            detail={"previous_status": e.previous_status, "expired_at": e.expired_at.isoformat()},
        )
    if isinstance(e, ev.PermitCompleted) and e.outcome is ev.HandBackOutcome.INCOMPLETE:
        return Fact(
            kind=INCOMPLETE_HAND_BACK,
            rule="CLO-08",
            permit_id=pid,
            detail={"handed_back_by": e.handed_back_by, "remaining_hazards": e.remaining_hazards},
        )
    if isinstance(e, ev.SignaturesInvalidated):
        return Fact(
            kind=SIGNATURE_INVALIDATION,
            rule="SIG-07" if e.reason == "core_change" else "SIG-08",
            permit_id=pid,
            detail={
                "reason": e.reason,
                "signatures": len(e.signature_ids),
                "changed_fields": list(e.changed_fields),
            },
        )
    return None


def isolation_fact(
    recorded: Recorded[Any], before: IsolationState | None, after: IsolationState
) -> Fact | None:
    e = recorded.payload
    if isinstance(e, iev.IsolationLockExceptionRecorded):  # RPT-03: isolation locks too (LOCK-02, ISO-13)
        return Fact(
            kind=LOCK_REMOVAL_EXCEPTION,
            rule="LOCK-02",
            permit_id=e.permit_id,
            detail={
                "lock_id": e.lock_id,
                "isolation_id": str(after.isolation_id),
                "owner": e.owner,
                "verified_absent_by": e.verified_absent_by,
                "recorded_by": e.recorded_by,
            },
        )
    if isinstance(e, iev.IsolationTransferredToOperations):
        linked = sorted(str(p) for p in (before.links if before else {}))
        return Fact(
            kind=DEFERRED_TO_OPERATIONS,
            rule="ISO-14",
            permit_id=None,
            detail={
                "isolation_id": str(after.isolation_id),
                "point_code": after.point.point_code,
                "received_by": e.received_by,
                "reason": e.reason,
                "permits": linked,
            },
        )
    return None


def conflict_fact(recorded: Recorded[Any], after: ConflictState) -> Fact | None:
    e = recorded.payload
    if isinstance(e, sev.ConflictResolved) and e.decision == "accept_with_controls":
        return Fact(
            kind=CONFLICT_ACCEPTED,
            rule="SIM-08",
            permit_id=after.newer,
            detail={
                "conflict_id": str(after.conflict_id),
                "older": str(after.older),
                "newer": str(after.newer),
                "rule": after.rule,
                "severity": after.severity,
                "controls": e.controls,
                "by": e.by,
            },
        )
    return None


def _fact_row(position: int, project_id: UUID, recorded: Recorded[Any], fact: Fact) -> Row:
    return {
        "position": position,
        "kind": fact.kind,
        "project_id": project_id,
        "permit_id": fact.permit_id,
        "at": recorded.occurred_at,
        "rule": fact.rule,
        "detail": _text(fact.detail),
    }


def _incident_row(project_id: UUID, recorded: Recorded[Any]) -> Row:
    """RPT-04: the domain records an incident once per permit, so (permit, reference) is unique."""
    linked: rev.IncidentLinked = recorded.payload
    return {
        "permit_id": recorded.stream_id,
        "incident_ref": linked.incident_ref,
        "project_id": project_id,
        "linked_at": recorded.occurred_at,
        "occurred_at": linked.occurred_at,
    }


def _created_key(s: PermitState) -> tuple[UUID, int, str, str]:
    return (s.project_id, day_of(s.created_at), s.template.key, s.category)


def _add_counts(conn: Connection, t: Table, key: tuple[str, ...], counts: Counter[Any]) -> None:
    """Adds the batch's net moves to counters keyed by `key` (the project first) and drops those that reach 0, so
    the table is the same whatever the batching (AUD-07)."""
    rows = [{**dict(zip(key, k, strict=True)), "n": n} for k, n in sorted(counts.items()) if n]
    if not rows:
        return
    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(t)
    conn.execute(
        stmt.on_conflict_do_update(index_elements=list(key), set_={"n": t.c.n + stmt.excluded.n}),
        rows,
    )
    projects = list(dict.fromkeys(r["project_id"] for r in rows))
    conn.execute(delete(t).where(t.c.project_id.in_(projects), t.c.n == 0))


def _pending_since(s: PermitState) -> datetime | None:
    if s.status is Status.SUBMITTED:
        return s.submitted_at
    if s.status is Status.UNDER_REVIEW:
        return s.verified_at
    return None


def _plus_hours(at: datetime | None, hours: int) -> datetime | None:
    return at + timedelta(hours=hours) if at is not None else None


def _text(value: Any) -> str:
    return _json.encode(value).decode()
