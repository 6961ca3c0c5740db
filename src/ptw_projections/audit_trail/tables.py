"""The audit trail's table (RM-11): one row per event."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, Uuid

from ptw_projections.types import UtcDateTime


def audit_events(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("position", BigInteger, primary_key=True, autoincrement=False),
        Column("event_id", Uuid, nullable=False),
        Column("project_id", Uuid),
        Column("stream_id", Uuid, nullable=False),
        Column("stream_type", String(32), nullable=False),
        Column("permit_id", Uuid),
        Column("permit_number", String(64)),
        Column("version", Integer, nullable=False),
        Column("type", String(64), nullable=False),
        Column("schema_version", Integer, nullable=False),
        Column("occurred_at", UtcDateTime, nullable=False),
        Column("actor_id", String(200), nullable=False),
        Column("actor_kind", String(16), nullable=False),
        Column("roles", Text, nullable=False),
        Column("on_behalf_of", String(200)),
        Column("delegation_id", Uuid),
        Column("device_id", String(200)),
        Column("correlation_id", String(200)),
        Column("causation_id", String(200)),
        Column("rule", String(32)),
        Column("summary", Text, nullable=False),
        Column("changes", Text, nullable=False),
        Column("hash", String(64), nullable=False),
        Index(f"ix_{name}_project_position", "project_id", "position"),
        Index(f"ix_{name}_stream", "stream_id", "version"),
        Index(f"ix_{name}_permit", "permit_id", "position"),
        Index(f"ix_{name}_actor", "actor_id", "position"),
        Index(f"ix_{name}_occurred", "project_id", "occurred_at"),
    )


DEFINITIONS = {"audit_events": audit_events}
