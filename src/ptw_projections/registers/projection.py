"""The registers projection (RM-10): isolations, personal locks and SIMOPS conflicts, folded with the domain's
own evolve functions. The few facts an event carries but a state does not keep (when an isolation opened, was
verified or ended; when a conflict was decided) are kept in columns beside the state and read back with it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import msgspec
from sqlalchemy import Connection, Table, delete, select

from ptw_domain.events import isolation as ev
from ptw_domain.events import simops as sev
from ptw_domain.events.base import Recorded
from ptw_domain.isolation.state import IsolationState, IsolationStatus
from ptw_domain.people.workers import WorkerState
from ptw_domain.permit.state import PermitState
from ptw_domain.simops.model import SEVERITY_RANK
from ptw_domain.simops.streams import ConflictState
from ptw_projections.database import upsert
from ptw_projections.folding import Folder
from ptw_projections.projection import Positioned, Projection, TableDefinition
from ptw_projections.registers.tables import DEFINITIONS

S = TypeVar("S")
Facts = dict[str, Any]

OPEN = frozenset({IsolationStatus.ASSIGNED, IsolationStatus.ISOLATED, IsolationStatus.VERIFIED})
ISOLATION_FACTS = (
    "opened_at",
    "verified_at",
    "ended_at",
    "ended_by",
    "operations_held_at",
    "operations_reason",
)
CONFLICT_FACTS = ("detected_at", "updated_at", "decided_at", "cleared_reason")
_json = msgspec.json.Encoder()


class RowFolder(Folder[S]):
    """A folder that reads named columns of each row in the same query as its state."""

    def load_rows(
        self, conn: Connection, table: Table, key: str, ids: Iterable[UUID], columns: Sequence[str]
    ) -> tuple[dict[UUID, S], dict[UUID, Facts]]:
        wanted = list(ids)
        states: dict[UUID, S] = {}
        facts: dict[UUID, Facts] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            query = select(table.c[key], table.c.state, *(table.c[c] for c in columns))
            for row in conn.execute(query.where(table.c[key].in_(chunk))):
                states[row[0]] = self._decoder.decode(row[1])
                facts[row[0]] = dict(zip(columns, row[2:], strict=True))
        return states, facts


class Registers(Projection):
    name: ClassVar[str] = "registers"
    version: ClassVar[int] = 2  # 2: conflicts keep their matrix and zone-map versions (SIM-10)
    definitions: ClassVar[Mapping[str, TableDefinition]] = DEFINITIONS

    def __init__(self) -> None:
        self.isolations = RowFolder("isolation", IsolationState)
        self.conflicts = RowFolder("conflict", ConflictState)
        self.permits = Folder("permit", PermitState)
        self.workers = Folder("worker", WorkerState)

    def apply(self, conn: Connection, tables: Mapping[str, Table], events: Sequence[Positioned]) -> None:
        by_kind: dict[str, list[Recorded[Any]]] = {
            "isolation": [],
            "permit": [],
            "worker": [],
            "conflict": [],
        }
        for _, recorded in events:
            kind = type(recorded.payload).stream
            if kind in by_kind:
                by_kind[kind].append(recorded)
        if by_kind["isolation"]:
            self._isolations(conn, tables, by_kind["isolation"])
        if by_kind["permit"]:
            self._permits(conn, tables, by_kind["permit"])
        if by_kind["worker"]:
            self._workers(conn, tables, by_kind["worker"])
        if by_kind["conflict"]:
            self._conflicts(conn, tables, by_kind["conflict"])

    def _isolations(self, conn: Connection, tables: Mapping[str, Table], events: list[Recorded[Any]]) -> None:
        t, links = tables["register_isolations"], tables["register_isolation_links"]
        ids = list(dict.fromkeys(r.stream_id for r in events))
        states, facts = self.isolations.load_rows(conn, t, "isolation_id", ids, ISOLATION_FACTS)
        linked_before = {i: s.links for i, s in states.items()}
        for recorded in events:
            states[recorded.stream_id] = self.isolations.evolve(states.get(recorded.stream_id), recorded)
            facts[recorded.stream_id] = isolation_facts(facts.get(recorded.stream_id), recorded)
        rows = [self._isolation_row(states[i], facts[i]) for i in ids]
        conn.execute(upsert(conn, t, ["isolation_id"]), rows)
        changed = [i for i in ids if linked_before.get(i) != states[i].links]
        if changed:
            conn.execute(delete(links).where(links.c.isolation_id.in_(changed)))
            fresh = [
                {"isolation_id": i, "permit_id": p, "project_id": states[i].project_id, "required": required}
                for i in changed
                for p, required in states[i].links.items()
            ]
            if fresh:
                conn.execute(links.insert(), fresh)

    def _isolation_row(self, s: IsolationState, facts: Facts) -> dict[str, Any]:
        point = s.point
        return {
            "isolation_id": s.isolation_id,
            "project_id": s.project_id,
            "point_id": s.point_id,
            "point_code": point.point_code,
            "point_type": point.point_type,
            "energy_type": point.energy_type,
            "energy_source_id": point.energy_source_id,
            "area": point.area,
            "equipment_tag": point.equipment_tag,
            "location": point.location,
            "achievable_category": point.achievable_category,
            "status": s.status.value,
            "open": s.status in OPEN,
            "in_place": s.in_place,
            "achieved_category": s.achieved_category,
            "lock_ids": _json.encode(list(s.lock_ids)).decode(),
            "isolated_by": s.isolated_by,
            "isolated_at": s.isolated_at,
            "verified_by": s.verified_by,
            "operations_held_by": s.operations_held_by,
            "version": s.version,
            "state": self.isolations.encode(s),
            **facts,
        }

    def _permits(self, conn: Connection, tables: Mapping[str, Table], events: list[Recorded[Any]]) -> None:
        t, locks = tables["register_permits"], tables["register_personal_locks"]
        ids = list(dict.fromkeys(r.stream_id for r in events))
        states = self.permits.load(conn, t, "permit_id", ids)
        locked_before = {i: s.isolations.locks for i, s in states.items()}
        self.permits.fold(states, events)
        rows = [
            {
                "permit_id": i,
                "project_id": s.project_id,
                "number": s.number,
                "status": s.status.value,
                "version": s.version,
                "state": self.permits.encode(s),
            }
            for i, s in ((i, states[i]) for i in ids)
        ]
        conn.execute(upsert(conn, t, ["permit_id"]), rows)
        changed = [i for i in ids if locked_before.get(i, ()) != states[i].isolations.locks]
        if changed:
            conn.execute(delete(locks).where(locks.c.permit_id.in_(changed)))
            fresh = [
                {
                    "permit_id": i,
                    "lock_id": lock.lock_id,
                    "project_id": states[i].project_id,
                    "worker_id": lock.worker_id,
                    "applied_at": lock.applied_at,
                }
                for i in changed
                for lock in states[i].isolations.locks
            ]
            if fresh:
                conn.execute(locks.insert(), fresh)

    def _workers(self, conn: Connection, tables: Mapping[str, Table], events: list[Recorded[Any]]) -> None:
        t = tables["register_workers"]
        ids = list(dict.fromkeys(r.stream_id for r in events))
        states = self.workers.load(conn, t, "worker_id", ids)
        self.workers.fold(states, events)
        rows = [
            {
                "worker_id": i,
                "organisation_id": s.organisation_id,
                "name": s.name,
                "company": s.company,
                "person_id": s.person_id,
                "version": s.version,
                "state": self.workers.encode(s),
            }
            for i, s in ((i, states[i]) for i in ids)
        ]
        conn.execute(upsert(conn, t, ["worker_id"]), rows)

    def _conflicts(self, conn: Connection, tables: Mapping[str, Table], events: list[Recorded[Any]]) -> None:
        t = tables["register_conflicts"]
        ids = list(dict.fromkeys(r.stream_id for r in events))
        states, facts = self.conflicts.load_rows(conn, t, "conflict_id", ids, CONFLICT_FACTS)
        for recorded in events:
            states[recorded.stream_id] = self.conflicts.evolve(states.get(recorded.stream_id), recorded)
            facts[recorded.stream_id] = conflict_facts(facts.get(recorded.stream_id), recorded)
        rows = [self._conflict_row(states[i], facts[i]) for i in ids]
        conn.execute(upsert(conn, t, ["conflict_id"]), rows)

    def _conflict_row(self, s: ConflictState, facts: Facts) -> dict[str, Any]:
        latest = s.decisions[-1] if s.decisions else None
        return {
            "conflict_id": s.conflict_id,
            "project_id": s.project_id,
            "older": s.older,
            "newer": s.newer,
            "rule": s.rule,
            "severity": s.severity,
            "severity_rank": SEVERITY_RANK.get(s.severity, -1),
            "register_state": conflict_state(s),
            "facts_hash": s.facts_hash,
            "overlap_start": s.facts.overlap_start,
            "overlap_end": s.facts.overlap_end,
            "matrix_version": s.facts.matrix_version,
            "zone_map_version": s.facts.zone_map_version,
            "decision": latest.decision if latest else None,
            "decision_controls": latest.controls if latest else None,
            "decided_by": latest.by if latest else None,
            "decision_facts_hash": latest.facts_hash if latest else None,
            "version": s.version,
            "state": self.conflicts.encode(s),
            **facts,
            "cleared_reason": facts["cleared_reason"] if s.cleared else None,
        }


def conflict_state(s: ConflictState) -> str:
    """The register's word for a conflict (SIM-08): cleared, open, or accepted (with controls, for its current
    facts)."""
    if s.cleared:
        return "cleared"
    return "open" if s.open else "accepted"


def isolation_facts(before: Facts | None, recorded: Recorded[Any]) -> Facts:
    """The times and words of an isolation's events that its state does not keep."""
    e = recorded.payload
    if isinstance(e, ev.IsolationOpened) or before is None:
        return {**dict.fromkeys(ISOLATION_FACTS), "opened_at": recorded.occurred_at}
    if isinstance(e, ev.IsolationVerified):
        return {**before, "verified_at": e.verified_at}
    if isinstance(e, ev.PointDeisolated | ev.IsolationWithdrawn):
        return {**before, "ended_at": recorded.occurred_at, "ended_by": e.by}
    if isinstance(e, ev.IsolationTransferredToOperations):
        return {**before, "operations_held_at": recorded.occurred_at, "operations_reason": e.reason}
    return before


def conflict_facts(before: Facts | None, recorded: Recorded[Any]) -> Facts:
    """When a conflict was detected, last changed and last decided, and why it was last cleared."""
    e = recorded.payload
    facts = before if before is not None else dict.fromkeys(CONFLICT_FACTS)
    facts = {**facts, "updated_at": recorded.occurred_at}
    if isinstance(e, sev.ConflictDetected):
        facts["detected_at"] = recorded.occurred_at
    elif isinstance(e, sev.ConflictResolved):
        facts["decided_at"] = recorded.occurred_at
    elif isinstance(e, sev.ConflictCleared):
        facts["cleared_reason"] = e.reason
    return facts
