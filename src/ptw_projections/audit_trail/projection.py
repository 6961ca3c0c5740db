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
from ptw_projections.bulk import insert_values, upsert_rows
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
    version: ClassVar[int] = 2  # 2: a map that only grew is shown by what it added
    definitions: ClassVar[Mapping[str, TableDefinition]] = DEFINITIONS

    def __init__(self) -> None:
        types = state_types()
        self.folders = {kind: Folder(kind, types[kind], keeps_every_write=True) for kind in FOLDED}

    def apply(self, conn: Connection, tables: Mapping[str, Table], events: Sequence[Positioned]) -> None:
        streams, audit_events = tables["audit_streams"], tables["audit_events"]
        assert tuple(audit_events.c.keys()) == COLUMNS
        by_kind: dict[str, dict[UUID, None]] = defaultdict(dict)
        for _, recorded in events:
            kind = type(recorded.payload).stream
            if kind in self.folders:
                by_kind[kind][recorded.stream_id] = None
        states: dict[UUID, Any] = {}
        for kind, ids in by_kind.items():
            states.update(self.folders[kind].load(conn, streams, "stream_id", ids))
        rows = []
        for position, recorded in events:
            kind = type(recorded.payload).stream
            folder = self.folders.get(kind)
            if folder is None:
                rows.append(_row(position, recorded, kind, None, {}))
                continue
            before = states.get(recorded.stream_id)
            after = states[recorded.stream_id] = folder.evolve(before, recorded)
            permit_number = after.number if kind == "permit" else None
            rows.append(_row(position, recorded, kind, permit_number, changed_fields(before, after)))
        insert_values(conn, audit_events, rows)
        upsert_rows(
            conn,
            streams,
            [
                {"stream_id": sid, "kind": kind, "state": self.folders[kind].encode(states[sid])}
                for kind, ids in by_kind.items()
                for sid in ids
            ],
            ["stream_id"],
        )
        for kind, ids in by_kind.items():
            self.folders[kind].keep({sid: states[sid] for sid in ids})


# The columns of `audit_events` in table order: rows are built as tuples in this order for COPY.
COLUMNS = (
    "position",
    "event_id",
    "project_id",
    "stream_id",
    "stream_type",
    "permit_id",
    "permit_number",
    "version",
    "type",
    "schema_version",
    "occurred_at",
    "actor_id",
    "actor_kind",
    "roles",
    "on_behalf_of",
    "delegation_id",
    "device_id",
    "correlation_id",
    "causation_id",
    "rule",
    "summary",
    "changes",
    "hash",
)


def _row(
    position: int,
    recorded: Recorded[Any],
    kind: str,
    permit_number: str | None,
    changes: dict[str, Any],
) -> tuple[Any, ...]:
    m = recorded.metadata
    return (
        position,
        recorded.event_id,
        m.project_id,
        recorded.stream_id,
        kind,
        recorded.stream_id if kind == "permit" else None,
        permit_number,
        recorded.version,
        recorded.type,
        recorded.schema_version,
        recorded.occurred_at,
        m.actor.id,
        m.actor.kind,
        ",".join(m.actor.roles),
        m.on_behalf_of,
        m.delegation_id,
        m.device_id,
        m.correlation_id,
        m.causation_id,
        m.rule,
        summary(recorded, changes),
        _json.encode(changes).decode(),
        recorded.hash,
    )
