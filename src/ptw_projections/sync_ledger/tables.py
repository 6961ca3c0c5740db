"""The sync ledger's tables (SYNC-07, SYNC-12): the permits on the project's sync review list, one row each, and
one row per recorded offline outcome for the health figures."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary, MetaData, String, Table, Text, Uuid

from ptw_projections.types import UtcDateTime


def review(metadata: MetaData, name: str) -> Table:
    """SYNC-07: a permit on the review list with the latest offline command whose guards failed on it (the
    encoded `SyncReviewItem`); the position of that command's ledger event orders the list."""
    return Table(
        name,
        metadata,
        Column("permit_id", Uuid, primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("position", BigInteger, nullable=False),
        Column("item", LargeBinary, nullable=False),
        Index(f"ix_{name}_project_position", "project_id", "position"),
    )


def outcomes(metadata: MetaData, name: str) -> Table:
    """SYNC-12: one row per ledger stream (one offline command's outcome), by the time it was recorded."""
    return Table(
        name,
        metadata,
        Column("ledger_id", Uuid, primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("recorded_at", UtcDateTime, nullable=False),
        Column("outcome", String(16), nullable=False),
        Column("reason", String(64)),
        Column("device_id", Text, nullable=False),
        Index(f"ix_{name}_project_recorded", "project_id", "recorded_at"),
    )


DEFINITIONS = {"review": review, "outcomes": outcomes}
