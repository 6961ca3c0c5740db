"""The readiness projection: each permit's outlook (next action, allowed, blockers, until when it holds), kept by
the domain's own readiness evaluation over states this projection folds itself (ADR 0014).

Exactly once and rebuildable (AUD-07): a permit is re-evaluated after a batch when an event of the batch could
change its readiness — its own, a worker's or isolation's it reads, its organisation's (policy, gas profiles,
member links), its template's retirement, its project's settings, its footprint on the SIMOPS register or
one of its conflicts — and it is evaluated at the
`occurred_at` of the last such event. Its row is therefore a function of the events up to that event, whatever
the batch boundaries, and equals a fresh rebuild at the same position.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from uuid import UUID

from sqlalchemy import Connection, Table, delete, select

from ptw_domain.events import simops as sev
from ptw_domain.events.organisation import TemplateRetired
from ptw_domain.isolation.state import IsolationState
from ptw_domain.organisation import OrganisationState
from ptw_domain.people.workers import WorkerState
from ptw_domain.permit.outlook import outlook
from ptw_domain.permit.state import PermitState
from ptw_domain.simops.model import Register
from ptw_projections.bulk import insert_rows, upsert_rows
from ptw_projections.folding import Folder
from ptw_projections.projection import Positioned, Projection, TableDefinition
from ptw_projections.readiness.inputs import Inputs
from ptw_projections.readiness.tables import DEFINITIONS
from ptw_projections.reference import STREAMS as REFERENCE_STREAMS
from ptw_projections.reference import ReferenceData

# Permits found by a column of their outlook row: memberships no event changes.
_BY_COLUMN = {"organisation": "organisation_id", "template": "template_id", "project": "project_id"}


class Readiness(Projection):
    name: ClassVar[str] = "readiness"
    version: ClassVar[int] = 1
    definitions: ClassVar[Mapping[str, TableDefinition]] = DEFINITIONS
    streams: ClassVar[frozenset[str] | None] = (
        frozenset({"permit", "worker", "isolation", "organisation", "simops_register", "conflict"})
        | REFERENCE_STREAMS
    )

    def __init__(self) -> None:
        self.permits = Folder("permit", PermitState)
        self.others: dict[str, Folder[Any]] = {
            "worker": Folder("worker", WorkerState),
            "isolation": Folder("isolation", IsolationState),
            "organisation": Folder("organisation", OrganisationState),
            "simops_register": Folder("simops_register", Register),
        }
        self.reference = ReferenceData()

    def apply(self, conn: Connection, tables: Mapping[str, Table], events: Sequence[Positioned]) -> None:
        batch = _Batch()
        self._fold(conn, tables, events, batch)
        insert_rows(
            conn,
            tables["conflicts"],
            [{"conflict_id": cid, "older": o, "newer": n} for cid, (o, n) in batch.parties.items()],
        )
        rows = [
            {"stream_id": sid, "state": self.others[k].encode(batch.others[sid])}
            for sid, k in batch.changed.items()
        ]
        upsert_rows(conn, tables["streams"], rows, ["stream_id"])
        for kind, folder in self.others.items():
            folder.keep({sid: batch.others[sid] for sid, k in batch.changed.items() if k == kind})
        for by, stream_id, event in batch.fans:
            for permit_id in self._by_column(conn, tables["outlooks"], batch.permits, by, stream_id):
                batch.hit(permit_id, event)
        inputs = Inputs(conn, tables, self.permits, self.others, self.reference, dict(batch.permits))
        inputs.streams |= batch.others
        # What each permit hit so far reads, as at the batch's end; then the worker and isolation events reach
        # the permits reading their streams then (a permit whose reading changed in the batch was hit by the
        # permit or organisation event that changed it, later than any event of a stream it stopped reading).
        self._record_reads(conn, tables["reads"], inputs, inputs.load(list(batch.hits)))
        reads = tables["reads"]
        for stream_id, event in batch.read_fans:
            for permit_id in conn.execute(
                select(reads.c.permit_id).where(reads.c.stream_id == stream_id)
            ).scalars():
                batch.hit(permit_id, event)
        self._evaluate(conn, tables["outlooks"], inputs, batch.hits)

    def _fold(
        self, conn: Connection, tables: Mapping[str, Table], events: Sequence[Positioned], batch: _Batch
    ) -> None:
        """Fold the batch's events in order, noting which permits each affects (or how to find them)."""
        ids: dict[str, set[UUID]] = {}
        for _, recorded in events:
            ids.setdefault(type(recorded.payload).stream, set()).add(recorded.stream_id)
        batch.permits = self.permits.load(conn, tables["outlooks"], "permit_id", ids.get("permit", set()))
        for kind, folder in self.others.items():
            batch.others |= folder.load(conn, tables["streams"], "stream_id", ids.get(kind, set()))
        for event in events:
            recorded = event.event
            payload, sid = recorded.payload, recorded.stream_id
            kind = type(payload).stream
            if kind == "permit":
                batch.permits[sid] = self.permits.evolve(batch.permits.get(sid), recorded)
                batch.hit(sid, event)
            elif kind in self.others:
                before = batch.others.get(sid)
                batch.others[sid] = self.others[kind].evolve(before, recorded)
                batch.changed[sid] = kind
                if kind == "simops_register":
                    for permit_id in self._near(before, batch.others[sid], payload):
                        batch.hit(permit_id, event)
                elif kind == "organisation":
                    batch.fans.append(("organisation", sid, event))
                else:
                    batch.read_fans.append((sid, event))
            elif kind == "conflict":  # SIM-06: a conflict detected, changed, decided on or cleared
                if isinstance(payload, sev.ConflictDetected):
                    batch.parties[sid] = (payload.older, payload.newer)
                for permit_id in self._parties(conn, tables["conflicts"], batch.parties, sid):
                    batch.hit(permit_id, event)
            elif kind in REFERENCE_STREAMS:
                settings_of = self.reference.record(conn, tables, recorded)
                if settings_of is not None:
                    batch.fans.append(("project", settings_of, event))
                if isinstance(payload, TemplateRetired):
                    conn.execute(tables["retired_templates"].insert(), [{"template_id": payload.template_id}])
                    batch.fans.append(("template", payload.template_id, event))

    def _near(self, before: Register | None, after: Register, payload: Any) -> set[UUID]:
        """The permits a register event concerns: the permit whose footprint changed, or every permit on the
        register when its zone map or interaction matrix changes. The permits whose conflicts it changes are
        reached through the conflict streams the same command records (SIM-09/11 keeps them in agreement with
        the register), decisions included."""
        if isinstance(payload, sev.SimopsFootprintRecorded):
            return {payload.footprint.permit_id}
        if isinstance(payload, sev.SimopsFootprintRemoved):
            return {payload.permit_id}
        if isinstance(payload, sev.SimopsDecisionRecorded):
            return set()
        return set(after.footprints) | (set(before.footprints) if before is not None else set())

    def _parties(
        self, conn: Connection, conflicts: Table, known: Mapping[UUID, tuple[UUID, UUID]], conflict_id: UUID
    ) -> tuple[UUID, UUID]:
        pair = known.get(conflict_id)
        if pair is None:
            row = conn.execute(
                select(conflicts.c.older, conflicts.c.newer).where(conflicts.c.conflict_id == conflict_id)
            ).one()
            pair = (row.older, row.newer)
        return pair

    def _by_column(
        self, conn: Connection, outlooks: Table, permits: Mapping[UUID, PermitState], by: str, stream_id: UUID
    ) -> Iterable[UUID]:
        """The permits of an organisation, template or project: the rows, and the permits new in this batch."""
        column = outlooks.c[_BY_COLUMN[by]]
        yield from conn.execute(select(outlooks.c.permit_id).where(column == stream_id)).scalars()
        for permit_id, state in permits.items():
            of = {"organisation": state.organisation_id, "template": state.template.template_id}
            if of.get(by, state.project_id) == stream_id:
                yield permit_id

    def _record_reads(self, conn: Connection, table: Table, inputs: Inputs, permit_ids: list[UUID]) -> None:
        now = {pid: inputs.reads(inputs.states[pid]) for pid in permit_ids}
        held: dict[UUID, set[UUID]] = {pid: set() for pid in permit_ids}
        for chunk in _chunks(permit_ids):
            for row in conn.execute(select(table).where(table.c.permit_id.in_(chunk))):
                held[row.permit_id].add(row.stream_id)
        moved = [pid for pid in permit_ids if held[pid] != now[pid]]
        if moved:
            conn.execute(delete(table).where(table.c.permit_id.in_(moved)))
            insert_rows(
                conn, table, [{"permit_id": p, "stream_id": s} for p in moved for s in sorted(now[p])]
            )

    def _evaluate(
        self, conn: Connection, outlooks: Table, inputs: Inputs, hits: Mapping[UUID, Positioned]
    ) -> None:
        """RDY-01 for every affected permit, at the instant of the last event that affected it."""
        rows = []
        for pid in inputs.load(list(hits)):
            s = inputs.states[pid]
            seen = outlook(inputs.context(s, hits[pid].event.occurred_at))
            rows.append(
                {
                    "permit_id": pid,
                    "project_id": s.project_id,
                    "organisation_id": s.organisation_id,
                    "template_id": s.template.template_id,
                    "version": s.version,
                    "next_action": seen.action.value if seen.action else None,
                    "allowed": seen.allowed,
                    "blockers": "".join(f",{rule}" for rule in seen.blockers) + ",",
                    "blocker_count": len(seen.blockers),
                    "evaluated_at": seen.evaluated_at,
                    "holds_until": seen.holds_until,
                    "state": self.permits.encode(s),
                }
            )
        upsert_rows(conn, outlooks, rows, ["permit_id"])
        self.permits.keep(inputs.states)


@dataclass
class _Batch:
    """What folding a batch found: states it changed and the permits its events affect."""

    permits: dict[UUID, PermitState] = field(default_factory=dict)
    others: dict[UUID, Any] = field(default_factory=dict)
    changed: dict[UUID, str] = field(default_factory=dict)  # stream id -> kind, the streams it folded
    hits: dict[UUID, Positioned] = field(default_factory=dict)  # permit -> the last event affecting it
    fans: list[tuple[str, UUID, Positioned]] = field(default_factory=list)  # organisation/template/project
    read_fans: list[tuple[UUID, Positioned]] = field(default_factory=list)  # worker and isolation events
    parties: dict[UUID, tuple[UUID, UUID]] = field(default_factory=dict)

    def hit(self, permit_id: UUID, event: Positioned) -> None:
        if permit_id not in self.hits or self.hits[permit_id].position < event.position:
            self.hits[permit_id] = event


def _chunks(items: list[UUID], size: int = 500) -> Iterable[list[UUID]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
