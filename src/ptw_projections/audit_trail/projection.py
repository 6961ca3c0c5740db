"""The audit trail projection (RM-11): one row per event with its envelope, summary and changed fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import msgspec
from sqlalchemy import Connection, Table

from ptw_domain.events.base import Recorded
from ptw_projections.audit_trail.changes import changed_fields, summary
from ptw_projections.audit_trail.tables import DEFINITIONS
from ptw_projections.bulk import insert_values
from ptw_projections.folding import Versions
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
    """The states compared are kept in memory only: a state it does not hold is read from the store at the
    version before the event (`History`), so a batch writes its rows and nothing else."""

    name: ClassVar[str] = "audit_trail"
    # 2: a map that only grew is shown by what it added; 3: states read from the store, not kept in a table
    version: ClassVar[int] = 3
    definitions: ClassVar[Mapping[str, TableDefinition]] = DEFINITIONS

    def __init__(self) -> None:
        self.states = {kind: Versions[Any](kind) for kind in FOLDED}

    def apply(self, conn: Connection, tables: Mapping[str, Table], events: Sequence[Positioned]) -> None:
        audit_events = tables["audit_events"]
        assert tuple(audit_events.c.keys()) == COLUMNS
        history = self.history
        assert history is not None, "the runner gives the projection the store's history"
        rows = []
        for position, recorded in events:
            kind = type(recorded.payload).stream
            states = self.states.get(kind)
            if states is None:
                rows.append(_row(position, recorded, kind, None, {}))
                continue
            before = states.before(recorded, history)
            after = states.after(recorded, before)
            permit_number = after.number if kind == "permit" else None
            rows.append(_row(position, recorded, kind, permit_number, changed_fields(before, after)))
        insert_values(conn, audit_events, rows)


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
