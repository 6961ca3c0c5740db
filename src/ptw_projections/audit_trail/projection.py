"""The audit trail projection (RM-11): one row per event with its envelope, summary and changed fields."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from uuid import UUID

import msgspec
from sqlalchemy import Connection, Table

from ptw_domain.events.base import Recorded
from ptw_domain.store.mapper import state_types
from ptw_projections.audit_trail.changes import changed_fields, summary
from ptw_projections.audit_trail.tables import DEFINITIONS
from ptw_projections.bulk import insert_rows, upsert_rows
from ptw_projections.folding import Folder
from ptw_projections.projection import Positioned, Projection, TableDefinition

# Streams whose states are folded for before/after values. The SIMOPS register (a project-wide index) and the
# idempotency records are shown by their payload only: their states say nothing a reviewer reads.
FOLDED = (
    "permit",
    "project",
    "organisation",
    "template",
    "delegation",
    "worker",
    "isolation_point",
    "isolation",
    "conflict",
)
_json = msgspec.json.Encoder()


class AuditTrail(Projection):
    name: ClassVar[str] = "audit_trail"
    version: ClassVar[int] = 1
    definitions: ClassVar[Mapping[str, TableDefinition]] = DEFINITIONS

    def __init__(self) -> None:
        types = state_types()
        self.folders = {kind: Folder(kind, types[kind], keeps_every_write=True) for kind in FOLDED}

    def apply(self, conn: Connection, tables: Mapping[str, Table], events: Sequence[Positioned]) -> None:
        streams = tables["audit_streams"]
        by_kind: dict[str, list[UUID]] = defaultdict(list)
        for _, recorded in events:
            kind = type(recorded.payload).stream
            if kind in self.folders:
                by_kind[kind].append(recorded.stream_id)
        states: dict[UUID, Any] = {}
        for kind, ids in by_kind.items():
            states.update(self.folders[kind].load(conn, streams, "stream_id", dict.fromkeys(ids)))
        touched: dict[UUID, str] = {}
        rows = []
        for position, recorded in events:
            kind = type(recorded.payload).stream
            changes: dict[str, Any] = {}
            permit_number = None
            if kind in self.folders:
                before = states.get(recorded.stream_id)
                after = self.folders[kind].evolve(before, recorded)
                states[recorded.stream_id] = after
                touched[recorded.stream_id] = kind
                changes = changed_fields(before, after)
                permit_number = after.number if kind == "permit" else None
            rows.append(_row(position, recorded, kind, permit_number, changes))
        insert_rows(conn, tables["audit_events"], rows)
        upsert_rows(
            conn,
            streams,
            [
                {"stream_id": sid, "kind": kind, "state": self.folders[kind].encode(states[sid])}
                for sid, kind in touched.items()
            ],
            ["stream_id"],
        )
        for kind, folder in self.folders.items():
            folder.keep({sid: states[sid] for sid, k in touched.items() if k == kind})


def _row(
    position: int,
    recorded: Recorded[Any],
    kind: str,
    permit_number: str | None,
    changes: dict[str, Any],
) -> dict[str, Any]:
    m = recorded.metadata
    return {
        "position": position,
        "event_id": recorded.event_id,
        "project_id": m.project_id,
        "stream_id": recorded.stream_id,
        "stream_type": kind,
        "permit_id": recorded.stream_id if kind == "permit" else None,
        "permit_number": permit_number,
        "version": recorded.version,
        "type": recorded.type,
        "schema_version": recorded.schema_version,
        "occurred_at": recorded.occurred_at,
        "actor_id": m.actor.id,
        "actor_kind": m.actor.kind,
        "roles": ",".join(m.actor.roles),
        "on_behalf_of": m.on_behalf_of,
        "delegation_id": m.delegation_id,
        "device_id": m.device_id,
        "correlation_id": m.correlation_id,
        "causation_id": m.causation_id,
        "rule": m.rule,
        "summary": summary(recorded, changes),
        "changes": _json.encode(changes).decode(),
        "hash": recorded.hash,
    }
