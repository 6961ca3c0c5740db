"""The "my tasks" projection (RM-09): folds permits, isolations and conflicts with the domain's own evolve and
keeps one row per open task, derived with the domain's own rules of who may do what:

* verify — the nominated verifier (T07, LIFE-09), barred: SOD-01 (`verify_barred`); SLA `verification_sla_hours`
  from submission (KPI-02, ESC-02);
* approve — each nominated approver (T10), barred: SOD-01 (`approve_barred`); SLA `approval_sla_hours` from
  verification (KPI-03);
* decide_extension — the approver role (SEC-04, EXT-05), barred: the requester (SOD-05); ends at the permit's
  expiry (EXT-05/08);
* acknowledge_handover — the incoming person (HOV-04), barred: the outgoing person (SOD-07); ends at expiry;
* verify_isolation — the isolating authority role and the PA of each linked permit (ISO-07), barred: the isolator
  (SOD-03);
* resolve_conflict — area authority and safety officer (SIM-08), barred: the newer permit's parties (SOD-06);
* close — approver and area authority (T18, LIFE-21), once readiness's clock-free close guards pass (CLO-04..07),
  barred: SOD-04 (`close_barred`);
* review_missed_handover — the area authority role (HOV-03: "for a suspended permit the area authority is
  alerted"), from the grace end of the earliest missed boundary the permit was already suspended at, while it stays
  suspended and until an acknowledged performing handover clears the miss (HOV-04); ends at expiry. The push
  notification itself belongs to the notifications issue; this task is where the alert is visible meanwhile.

A permit's tasks depend on its state, its (immutable) template and the states of the isolations it has assigned
(CLO-05); an isolation's on its state and the PAs of its linked permits; a conflict's on its state and its newer
permit. Each batch recomputes the tasks of every source whose inputs moved, so the rows are a function of the
events up to the batch's end whatever the batching (AUD-07).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

import msgspec
from sqlalchemy import Connection, Table, delete, select

from ptw_domain.events.base import Recorded
from ptw_domain.events.project import ProjectSettings
from ptw_domain.handover.shifts import status_at, window
from ptw_domain.isolation.acts import VERIFY_ROLES
from ptw_domain.isolation.state import IsolationState, IsolationStatus
from ptw_domain.permit import decide as _decide  # noqa: F401 - registers every readiness guard
from ptw_domain.permit.authority import ALLOWED_FROM
from ptw_domain.permit.context import PermitContext, ProjectFacts
from ptw_domain.permit.expiry import expiry_due
from ptw_domain.permit.guards import approve_barred, close_barred, verify_barred
from ptw_domain.permit.readiness import Action, evaluate_action
from ptw_domain.permit.state import PermitState
from ptw_domain.permit.status import Status
from ptw_domain.roles import DEFAULT_ROLE_POLICY, STEP_ROLES, Role, Step
from ptw_domain.simops.handling import RESOLVE_ROLES, resolve_barred
from ptw_domain.simops.streams import ConflictState
from ptw_domain.templates import ResolvedTemplate
from ptw_projections.bulk import insert_rows, upsert_rows
from ptw_projections.folding import Folder
from ptw_projections.projection import Positioned, Projection, TableDefinition
from ptw_projections.reference import STREAMS as REFERENCE_STREAMS
from ptw_projections.reference import ReferenceData
from ptw_projections.tasks.tables import DEFINITIONS

Row = dict[str, Any]
_INSTANT = timedelta(microseconds=1)  # "before" an instant, as the status history records changes at instants
_settings = msgspec.json.Decoder(ProjectSettings)


class Kind:
    """Task kinds (RM-09)."""

    VERIFY = "verify"
    APPROVE = "approve"
    DECIDE_EXTENSION = "decide_extension"
    ACKNOWLEDGE_HANDOVER = "acknowledge_handover"
    VERIFY_ISOLATION = "verify_isolation"
    RESOLVE_CONFLICT = "resolve_conflict"
    CLOSE = "close"
    REVIEW_MISSED_HANDOVER = "review_missed_handover"


KINDS = (
    Kind.VERIFY,
    Kind.APPROVE,
    Kind.DECIDE_EXTENSION,
    Kind.ACKNOWLEDGE_HANDOVER,
    Kind.VERIFY_ISOLATION,
    Kind.RESOLVE_CONFLICT,
    Kind.CLOSE,
    Kind.REVIEW_MISSED_HANDOVER,
)


def person_grant(person_id: str) -> str:
    return f"person:{person_id}"


def role_grant(role: Role | str) -> str:
    return f"role:{role}"


class Task(msgspec.Struct, frozen=True, kw_only=True):
    """One open task as the projection derives it."""

    kind: str
    subject_id: UUID
    permit: PermitState
    since: datetime
    assignee: str | None = None
    roles: frozenset[Role] = frozenset()
    also: frozenset[str] = frozenset()  # persons granted besides the assignee or the roles
    barred: frozenset[str] = frozenset()
    sla_hours: int | None = None
    ends_at: datetime | None = None

    @property
    def task_id(self) -> str:
        suffix = f":{self.assignee}" if self.assignee is not None else ""
        return f"{self.kind}:{self.subject_id}{suffix}"


def _barred(parties: Mapping[str, str | None]) -> frozenset[str]:
    return frozenset(p for p in parties.values() if p)


def permit_tasks(ctx: PermitContext) -> list[Task]:
    """The open tasks a permit's own state gives (verify, approve, extension, handover, close)."""
    s, template = ctx.state, ctx.template
    out: list[Task] = []
    if s.status in ALLOWED_FROM["VerifyPermit"] and s.verifier is not None and s.submitted_at is not None:
        out.append(
            Task(
                kind=Kind.VERIFY,
                subject_id=s.permit_id,
                permit=s,
                since=s.submitted_at,
                assignee=s.verifier.person_id,
                barred=_barred(verify_barred(s)),
                sla_hours=template.verification_sla_hours,
            )
        )
    if s.status in ALLOWED_FROM["ApprovePermit"] and s.verified_at is not None and s.approved_by is None:
        out += [
            Task(
                kind=Kind.APPROVE,
                subject_id=s.permit_id,
                permit=s,
                since=s.verified_at,
                assignee=m.person_id,
                barred=_barred(approve_barred(s)),
                sla_hours=template.approval_sla_hours,
            )
            for m in s.approvers
        ]
    due = expiry_due(s, template)
    ends_at = due[0] if due else None
    pending = s.pending_extension
    if pending is not None and s.status in ALLOWED_FROM["DecideExtension"]:
        out.append(
            Task(
                kind=Kind.DECIDE_EXTENSION,
                subject_id=pending.extension_id,
                permit=s,
                since=pending.requested_at,
                roles=STEP_ROLES[Step.APPROVE],
                barred=frozenset({pending.requested_by}),  # SOD-05
                ends_at=ends_at,
            )
        )
    if s.status in ALLOWED_FROM["AcknowledgeHandover"]:
        out += [
            Task(
                kind=Kind.ACKNOWLEDGE_HANDOVER,
                subject_id=h.handover_id,
                permit=s,
                since=h.recorded_at,
                assignee=h.incoming,
                barred=frozenset({h.outgoing}),  # SOD-07
                ends_at=ends_at,
            )
            for h in s.handover.handovers
            if not h.acknowledged and not h.superseded
        ]
    alert_since = missed_while_suspended(ctx)
    if alert_since is not None:
        out.append(
            Task(
                kind=Kind.REVIEW_MISSED_HANDOVER,
                subject_id=s.permit_id,
                permit=s,
                since=alert_since,
                roles=frozenset({Role.AREA_AUTHORITY}),
                ends_at=ends_at,
            )
        )
    if (
        s.status in ALLOWED_FROM["ClosePermit"]
        and s.hand_back is not None
        and evaluate_action(ctx, Action.CLOSE, warnings=()).allowed  # actor-free guards only (RDY-05)
    ):
        out.append(
            Task(
                kind=Kind.CLOSE,
                subject_id=s.permit_id,
                permit=s,
                since=s.hand_back.at,
                roles=STEP_ROLES[Step.CLOSE],
                barred=_barred(close_barred(s)),
            )
        )
    return out


def missed_while_suspended(ctx: PermitContext) -> datetime | None:
    """HOV-03: the grace end of the earliest recorded, uncleared missed boundary of a suspended permit that was
    already suspended before that grace ended (a miss that itself suspended an active permit is the PA's and
    issuer's to clear through resume, HOV-04; the area authority is alerted for the permit that was suspended)."""
    s = ctx.state
    if s.status is not Status.SUSPENDED:
        return None
    _, grace = window(ctx)
    dues = [
        b + grace
        for b in s.handover.missed
        if not s.handover.cleared(b) and status_at(s, b + grace - _INSTANT) is Status.SUSPENDED
    ]
    return min(dues, default=None)


def isolation_tasks(iso: IsolationState, linked: Sequence[PermitState]) -> list[Task]:
    """ISO-07: an isolated, unverified isolation awaits verification by an isolating authority or the PA of a
    linked permit, never its isolator (SOD-03). It is shown against its linked permit with the lowest number."""
    if iso.status is not IsolationStatus.ISOLATED or not linked or iso.isolated_at is None:
        return []
    first = min(linked, key=lambda p: (p.number, str(p.permit_id)))
    return [
        Task(
            kind=Kind.VERIFY_ISOLATION,
            subject_id=iso.isolation_id,
            permit=first,
            since=iso.isolated_at,
            roles=VERIFY_ROLES,
            also=frozenset(p.performing_authority for p in linked),
            barred=frozenset({iso.isolated_by}) if iso.isolated_by else frozenset(),
        )
    ]


def conflict_tasks(conflict: ConflictState, newer: PermitState | None, opened_at: datetime) -> list[Task]:
    """SIM-08: an open conflict awaits a decision by an area authority or safety officer, not one of the newer
    permit's parties (SOD-06); it is shown against the newer permit, the one it blocks (SIM-06)."""
    if not conflict.open or newer is None:
        return []
    return [
        Task(
            kind=Kind.RESOLVE_CONFLICT,
            subject_id=conflict.conflict_id,
            permit=newer,
            since=opened_at,
            roles=RESOLVE_ROLES,
            barred=resolve_barred(newer),
        )
    ]


class Tasks(Projection):
    name: ClassVar[str] = "tasks"
    version: ClassVar[int] = 3  # 2: projects keep their organisation; 3: review_missed_handover (HOV-03)
    definitions: ClassVar[Mapping[str, TableDefinition]] = DEFINITIONS
    streams: ClassVar[frozenset[str] | None] = (
        frozenset({"permit", "isolation", "conflict"}) | REFERENCE_STREAMS
    )

    def __init__(self) -> None:
        self.permits = Folder("permit", PermitState)
        self.isolations = Folder("isolation", IsolationState)
        self.conflicts = Folder("conflict", ConflictState)
        self.reference = ReferenceData()

    def apply(self, conn: Connection, tables: Mapping[str, Table], events: Sequence[Positioned]) -> None:
        by_kind: dict[str, list[Recorded[Any]]] = {"permit": [], "isolation": [], "conflict": []}
        for _, recorded in events:
            kind = type(recorded.payload).stream
            if kind in by_kind:
                by_kind[kind].append(recorded)
            elif kind in REFERENCE_STREAMS:
                self.reference.record(conn, tables, recorded)
        permits = self._fold(self.permits, conn, tables["task_permits"], "permit_id", by_kind["permit"])
        isolations = self._fold(
            self.isolations, conn, tables["task_isolations"], "isolation_id", by_kind["isolation"]
        )
        conflicts, opened = self._fold_conflicts(conn, tables, by_kind["conflict"])
        touched_permits, touched_isolations = set(permits), set(isolations)

        # sources whose inputs moved besides their own events
        permit_sources = set(permits) | set(
            _select_in(conn, tables["task_isolation_assignments"], "isolation_id", "permit_id", isolations)
        )
        isolation_sources = set(isolations) | {
            a.isolation_id for s in permits.values() for a in s.isolations.assignments
        }
        conflict_sources = set(conflicts) | set(
            _select_in(conn, tables["task_conflicts"], "newer", "conflict_id", permits)
        )
        # states those sources read
        isolations.update(
            self.isolations.load(
                conn, tables["task_isolations"], "isolation_id", isolation_sources - set(isolations)
            )
        )
        permits.update(
            self.permits.load(conn, tables["task_permits"], "permit_id", permit_sources - set(permits))
        )
        missing = conflict_sources - set(conflicts)
        loaded, loaded_opened = self._load_conflicts(conn, tables, missing)
        conflicts.update(loaded)
        opened.update(loaded_opened)
        wanted_permits = {p for i in isolation_sources if i in isolations for p in isolations[i].links} | {
            conflicts[c].newer for c in conflict_sources
        }
        permits.update(
            self.permits.load(conn, tables["task_permits"], "permit_id", wanted_permits - set(permits))
        )
        wanted_isolations = {
            a.isolation_id for p in permit_sources for a in permits[p].isolations.assignments
        }
        isolations.update(
            self.isolations.load(
                conn, tables["task_isolations"], "isolation_id", wanted_isolations - set(isolations)
            )
        )

        found: list[tuple[UUID, Task]] = []
        projects: dict[UUID, ProjectFacts] = {}
        for pid in permit_sources:
            ctx = self._context(conn, tables, permits[pid], isolations, projects)
            found += [(pid, t) for t in permit_tasks(ctx)]
        for iid in isolation_sources:
            iso = isolations.get(iid)
            if iso is not None:
                linked = [permits[p] for p in iso.links if p in permits]
                found += [(iid, t) for t in isolation_tasks(iso, linked)]
        for cid in conflict_sources:
            conflict = conflicts[cid]
            found += [(cid, t) for t in conflict_tasks(conflict, permits.get(conflict.newer), opened[cid])]

        self._write_states(conn, tables, permits, touched_permits, isolations, touched_isolations)
        folded = dict.fromkeys(r.stream_id for r in by_kind["conflict"])
        self._write_conflicts(conn, tables, {c: conflicts[c] for c in folded}, opened)
        self._write_tasks(conn, tables, permit_sources | isolation_sources | conflict_sources, found)

    # --- folding ---------------------------------------------------------------------------------------------

    @staticmethod
    def _fold(
        folder: Folder[Any], conn: Connection, table: Table, key: str, events: list[Recorded[Any]]
    ) -> dict[UUID, Any]:
        if not events:
            return {}
        states = folder.load(conn, table, key, dict.fromkeys(r.stream_id for r in events))
        folder.fold(states, events)
        return states

    def _load_conflicts(
        self, conn: Connection, tables: Mapping[str, Table], ids: Iterable[UUID]
    ) -> tuple[dict[UUID, ConflictState], dict[UUID, datetime]]:
        t = tables["task_conflicts"]
        wanted = list(ids)
        states: dict[UUID, ConflictState] = {}
        opened: dict[UUID, datetime] = {}
        for start in range(0, len(wanted), 500):
            query = select(t.c.conflict_id, t.c.state, t.c.opened_at)
            for row in conn.execute(query.where(t.c.conflict_id.in_(wanted[start : start + 500]))):
                states[row[0]] = self.conflicts.decode(row[1])
                opened[row[0]] = row[2]
        return states, opened

    def _fold_conflicts(
        self, conn: Connection, tables: Mapping[str, Table], events: list[Recorded[Any]]
    ) -> tuple[dict[UUID, ConflictState], dict[UUID, datetime]]:
        """Fold conflicts, keeping when each was detected or last reopened (the resolve task's `since`)."""
        if not events:
            return {}, {}
        states, opened = self._load_conflicts(conn, tables, dict.fromkeys(r.stream_id for r in events))
        for recorded in events:
            before = states.get(recorded.stream_id)
            after = states[recorded.stream_id] = self.conflicts.evolve(before, recorded)
            if before is None or (after.open and not before.open):
                opened[recorded.stream_id] = recorded.occurred_at
        return states, opened

    def _context(
        self,
        conn: Connection,
        tables: Mapping[str, Table],
        s: PermitState,
        isolations: Mapping[UUID, IsolationState],
        projects: dict[UUID, ProjectFacts],
    ) -> PermitContext:
        template: ResolvedTemplate = self.reference.template(conn, tables, s.project_id, s.template)
        # The close guards and the facts below read no clock; `now` is only there because a context needs one.
        return PermitContext(
            state=s,
            template=template,
            template_retired=False,
            policy=DEFAULT_ROLE_POLICY,
            project=projects.get(s.project_id)
            or projects.setdefault(s.project_id, self._project(conn, tables, s)),
            now=s.history[-1].at if s.history else s.created_at,
            isolations={
                a.isolation_id: isolations[a.isolation_id]
                for a in s.isolations.assignments
                if a.isolation_id in isolations
            },
        )

    @staticmethod
    def _project(conn: Connection, tables: Mapping[str, Table], s: PermitState) -> ProjectFacts:
        t = tables["projects"]
        row = conn.execute(select(t).where(t.c.project_id == s.project_id)).one()
        return ProjectFacts(
            project_id=s.project_id,
            organisation_id=s.organisation_id,
            code=row.code,
            time_zone=row.time_zone,
            settings=_settings.decode(row.settings),
        )

    # --- writing ---------------------------------------------------------------------------------------------

    def _write_states(
        self,
        conn: Connection,
        tables: Mapping[str, Table],
        permits: Mapping[UUID, PermitState],
        touched_permits: set[UUID],
        isolations: Mapping[UUID, IsolationState],
        touched_isolations: set[UUID],
    ) -> None:
        upsert_rows(
            conn,
            tables["task_permits"],
            [
                {
                    "permit_id": p,
                    "project_id": permits[p].project_id,
                    "state": self.permits.encode(permits[p]),
                }
                for p in touched_permits
            ],
            ["permit_id"],
        )
        upsert_rows(
            conn,
            tables["task_isolations"],
            [
                {
                    "isolation_id": i,
                    "project_id": isolations[i].project_id,
                    "state": self.isolations.encode(isolations[i]),
                }
                for i in touched_isolations
            ],
            ["isolation_id"],
        )
        if touched_permits:
            assigned = tables["task_isolation_assignments"]
            ids = list(touched_permits)
            for start in range(0, len(ids), 500):
                conn.execute(delete(assigned).where(assigned.c.permit_id.in_(ids[start : start + 500])))
            insert_rows(
                conn,
                assigned,
                [
                    {"permit_id": p, "isolation_id": i}
                    for p in ids
                    for i in dict.fromkeys(permits[p].isolations.isolation_ids())
                ],
            )

    def _write_conflicts(
        self,
        conn: Connection,
        tables: Mapping[str, Table],
        conflicts: Mapping[UUID, ConflictState],
        opened: Mapping[UUID, datetime],
    ) -> None:
        rows = [
            {
                "conflict_id": cid,
                "project_id": s.project_id,
                "newer": s.newer,
                "opened_at": opened[cid],
                "state": self.conflicts.encode(s),
            }
            for cid, s in conflicts.items()
        ]
        upsert_rows(conn, tables["task_conflicts"], rows, ["conflict_id"])

    def _write_tasks(
        self,
        conn: Connection,
        tables: Mapping[str, Table],
        sources: set[UUID],
        found: list[tuple[UUID, Task]],
    ) -> None:
        ids = list(sources)
        for name in ("tasks", "task_grants", "task_exclusions"):
            t = tables[name]
            for start in range(0, len(ids), 500):
                conn.execute(delete(t).where(t.c.source_id.in_(ids[start : start + 500])))
        rows: list[Row] = []
        grants: list[Row] = []
        exclusions: list[Row] = []
        for source, task in found:
            task_id = task.task_id
            s = task.permit
            rows.append(
                {
                    "task_id": task_id,
                    "project_id": s.project_id,
                    "source_id": source,
                    "kind": task.kind,
                    "permit_id": s.permit_id,
                    "permit_number": s.number,
                    "permit_title": s.content.title,
                    "subject_id": task.subject_id,
                    "assignee": task.assignee,
                    "roles": ",".join(sorted(task.roles)) or None,
                    "since": task.since,
                    "sla_hours": task.sla_hours,
                    "due_at": (
                        task.since + timedelta(hours=task.sla_hours) if task.sla_hours is not None else None
                    ),
                    "ends_at": task.ends_at,
                }
            )
            granted = {role_grant(r) for r in task.roles} | {person_grant(p) for p in task.also}
            if task.assignee is not None:
                granted.add(person_grant(task.assignee))
            grants += [{"task_id": task_id, "grantee": g, "source_id": source} for g in sorted(granted)]
            exclusions += [
                {"task_id": task_id, "person_id": p, "source_id": source} for p in sorted(task.barred)
            ]
        insert_rows(conn, tables["tasks"], rows)
        insert_rows(conn, tables["task_grants"], grants)
        insert_rows(conn, tables["task_exclusions"], exclusions)


def _select_in(conn: Connection, table: Table, key: str, column: str, ids: Iterable[UUID]) -> list[UUID]:
    wanted = list(ids)
    out: list[UUID] = []
    for start in range(0, len(wanted), 500):
        out += conn.execute(
            select(table.c[column]).where(table.c[key].in_(wanted[start : start + 500]))
        ).scalars()
    return out
