"""The board's history (BRD-01): for permits, isolations and conflicts, the intervals of record time during which
each was on the board, with what its card showed.

An interval `[recorded_from, recorded_to)` runs from the event that put a version in place to the next event of
the same stream. Closed intervals are stored once per UTC day they overlap (`day`), so the board at any instant
reads only that day's rows plus the still-open intervals (`day = -1`): a past instant costs the same as now,
however long the history.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text, Uuid

from ptw_projections import reference
from ptw_projections.folding import state_column
from ptw_projections.types import UtcDateTime

OPEN_DAY = -1


def _intervals(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("stream_id", Uuid, primary_key=True),
        Column("version", Integer, primary_key=True),
        Column("day", Integer, primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("recorded_from", UtcDateTime, nullable=False),
        Column("recorded_to", UtcDateTime),
        Column("status", String(32), nullable=False),
        Column("expires_at", UtcDateTime),
        Column("card", Text, nullable=False),
        Index(f"ix_{name}_project_day", "project_id", "day"),
    )


def board_streams(metadata: MetaData, name: str) -> Table:
    """Each stream's folded state and its current interval (if it is on the board)."""
    return Table(
        name,
        metadata,
        Column("stream_id", Uuid, primary_key=True),
        Column("kind", String(32), nullable=False),
        Column("version", Integer, nullable=False),
        Column("recorded_from", UtcDateTime, nullable=False),
        Column("on_board", Integer, nullable=False),
        state_column(),
    )


DEFINITIONS = {
    "board_permits": _intervals,
    "board_isolations": _intervals,
    "board_conflicts": _intervals,
    "board_streams": board_streams,
    **reference.DEFINITIONS,
}
