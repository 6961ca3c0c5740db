"""The permit list projection: folds permits and conflicts with the domain's evolve and keeps one row each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from uuid import UUID

import msgspec
from sqlalchemy import Connection, Table, delete

from ptw_domain.events.base import Recorded
from ptw_domain.permit.content import Priority
from ptw_domain.permit.expiry import expiry_due
from ptw_domain.permit.state import PermitState
from ptw_domain.simops.streams import ConflictState
from ptw_projections.bulk import insert_rows, upsert_rows
from ptw_projections.folding import Folder
from ptw_projections.permit_list.tables import DEFINITIONS
from ptw_projections.projection import Positioned, Projection, TableDefinition
from ptw_projections.reference import STREAMS as REFERENCE_STREAMS
from ptw_projections.reference import ReferenceData

PRIORITY_RANK = {p: rank for rank, p in enumerate(Priority)}
_json = msgspec.json.Encoder()


def party_roles(state: PermitState) -> set[tuple[str, str]]:
    """(person, role) pairs of the people who hold a party role on the permit (RM-01 assignee)."""
    parties = {(state.requestor, "requestor"), (state.performing_authority, "performing_authority")}
    if state.verifier is not None:
        parties.add((state.verifier.person_id, "verifier"))
    parties.update((m.person_id, "approver") for m in state.approvers)
    for person, role in (
        (state.verified_by, "verifier"),
        (state.approved_by, "approver"),
        (state.issuer_of_record, "issuer"),
    ):
        if person:
            parties.add((person, role))
    return parties


def search_text(state: PermitState) -> str:
    """What `q` searches (RM-01): number, title, description, location, equipment and work order."""
    c = state.content
    parts = [state.number, c.title, c.description, c.location, *c.equipment_tags, c.work_order_id or ""]
    return "\n".join(parts).lower()


class PermitList(Projection):
    name: ClassVar[str] = "permit_list"
    # 2: chain head, content by version (RM-06); 3: filter and search indexes; 4: the area index by status;
    # 5: the area index by planned start
    version: ClassVar[int] = 5
    definitions: ClassVar[Mapping[str, TableDefinition]] = DEFINITIONS
    streams: ClassVar[frozenset[str] | None] = frozenset({"permit", "conflict"}) | REFERENCE_STREAMS

    def __init__(self) -> None:
        self.permits = Folder("permit", PermitState, keeps_every_write=True)
        self.conflicts = Folder("conflict", ConflictState, keeps_every_write=True)
        self.reference = ReferenceData()

    def apply(self, conn: Connection, tables: Mapping[str, Table], events: Sequence[Positioned]) -> None:
        permit_events: list[Recorded[Any]] = []
        conflict_events: list[Recorded[Any]] = []
        for _, recorded in events:
            stream = type(recorded.payload).stream
            if stream == "permit":
                permit_events.append(recorded)
            elif stream == "conflict":
                conflict_events.append(recorded)
            elif stream in REFERENCE_STREAMS:
                self.reference.record(conn, tables, recorded)
        if permit_events:
            self._permits(conn, tables, permit_events)
        if conflict_events:
            self._conflicts(conn, tables, conflict_events)

    def _permits(self, conn: Connection, tables: Mapping[str, Table], events: list[Recorded[Any]]) -> None:
        t = tables["permits"]
        ids = list(dict.fromkeys(r.stream_id for r in events))
        states = self.permits.load(conn, t, "permit_id", ids)
        # What the party and tag rows say now, to rewrite only the permits whose sets the batch changed.
        held = {pid: (party_roles(s), _tags(s)) for pid, s in states.items()}
        heads: dict[UUID, str] = {}
        contents = []
        for recorded in events:
            before = states.get(recorded.stream_id)
            after = self.permits.evolve(before, recorded)
            states[recorded.stream_id] = after
            heads[recorded.stream_id] = recorded.hash
            if before is None or _scope_changed(before, after):
                contents.append(
                    {
                        "permit_id": recorded.stream_id,
                        "from_version": after.version,
                        "content": self.permits.encode(after.content),
                        "template": self.permits.encode(after.template),
                    }
                )
        insert_rows(conn, tables["permit_contents"], contents)
        rows, parties, tags, moved = [], [], [], []
        for permit_id in ids:
            s = states[permit_id]
            template = self.reference.template(conn, tables, s.project_id, s.template)
            due = expiry_due(s, template)
            c = s.content
            rows.append(
                {
                    "permit_id": permit_id,
                    "project_id": s.project_id,
                    "number": s.number,
                    "title": c.title,
                    "category": s.category,
                    "template_key": s.template.key,
                    "template_version": s.template.version,
                    "status": s.status.value,
                    "priority": c.priority.value,
                    "priority_rank": PRIORITY_RANK[c.priority],
                    "risk_score": s.risk_score,
                    "risk_level": s.risk_level.value,
                    "effective_risk_level": s.effective_risk_level.value,
                    "area": c.area,
                    "location": c.location,
                    "requestor": s.requestor,
                    "performing_authority": s.performing_authority,
                    "created_at": s.created_at,
                    "planned_start": c.planned_start,
                    "planned_end": c.planned_end,
                    "valid_until": s.valid_until,
                    "expires_at": due[0] if due else None,
                    "search_text": search_text(s),
                    "version": s.version,
                    "chain_head": heads[permit_id],
                    "state": self.permits.encode(s),
                }
            )
            now = (party_roles(s), _tags(s))
            if held.get(permit_id) != now:
                moved.append(permit_id)
                parties += [{"permit_id": permit_id, "person_id": p, "role": r} for p, r in sorted(now[0])]
                tags += [{"permit_id": permit_id, "tag": tag} for tag in now[1]]
        upsert_rows(conn, t, rows, ["permit_id"])
        self.permits.keep(states)
        if moved:
            for name, fresh in (("permit_parties", parties), ("permit_tags", tags)):
                table = tables[name]
                conn.execute(delete(table).where(table.c.permit_id.in_(moved)))
                insert_rows(conn, table, fresh)

    def _conflicts(self, conn: Connection, tables: Mapping[str, Table], events: list[Recorded[Any]]) -> None:
        t = tables["conflicts"]
        ids = list(dict.fromkeys(r.stream_id for r in events))
        states = self.conflicts.load(conn, t, "conflict_id", ids)
        self.conflicts.fold(states, events)
        rows = [
            {
                "conflict_id": cid,
                "project_id": s.project_id,
                "older": s.older,
                "newer": s.newer,
                "rule": s.rule,
                "severity": s.severity,
                "open": s.open,
                "state": self.conflicts.encode(s),
            }
            for cid, s in ((cid, states[cid]) for cid in ids)
        ]
        upsert_rows(conn, t, rows, ["conflict_id"])
        self.conflicts.keep(states)


def _tags(state: PermitState) -> tuple[str, ...]:
    return tuple(dict.fromkeys(state.content.equipment_tags))


def _scope_changed(before: PermitState, after: PermitState) -> bool:
    """Did the event change what a signature covers (content or template; the cycle is the signature's own)?"""
    return (before.content is not after.content and before.content != after.content) or (
        before.template is not after.template and before.template != after.template
    )
