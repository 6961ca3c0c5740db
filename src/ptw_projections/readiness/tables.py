"""The readiness read model's tables: one outlook per permit (with the permit's folded state), the states of the
other streams readiness reads, which workers and isolations each permit reads, and the reference data."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Text, Uuid

from ptw_projections import reference
from ptw_projections.folding import state_column
from ptw_projections.types import UtcDateTime


def outlooks(metadata: MetaData, name: str) -> Table:
    """RDY-01 for the next action, evaluated at `evaluated_at` and good until `holds_until` (None: for good)."""
    return Table(
        name,
        metadata,
        Column("permit_id", Uuid, primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("organisation_id", Uuid, nullable=False),
        Column("template_id", Uuid, nullable=False),
        Column("version", Integer, nullable=False),
        Column("next_action", String(16)),
        Column("allowed", Boolean, nullable=False),
        # The rule of each blocker in evaluation order, as ",GAS-08,COMP-04," (the commas make `blocked_by` a
        # plain LIKE); `blocker_count` counts findings, several of which may cite one rule.
        Column("blockers", Text, nullable=False),
        Column("blocker_count", Integer, nullable=False),
        Column("evaluated_at", UtcDateTime, nullable=False),
        Column("holds_until", UtcDateTime),
        state_column(),
        Index(f"ix_{name}_project_action", "project_id", "next_action", "allowed"),
        Index(f"ix_{name}_organisation", "organisation_id"),
        Index(f"ix_{name}_template", "template_id"),
    )


def streams(metadata: MetaData, name: str) -> Table:
    """Folded states of the workers, isolations, organisations and SIMOPS registers readiness reads."""
    return Table(
        name,
        metadata,
        Column("stream_id", Uuid, primary_key=True),
        state_column(),
    )


def reads(metadata: MetaData, name: str) -> Table:
    """Which worker and isolation streams each permit's readiness reads, to find the permits an event affects."""
    return Table(
        name,
        metadata,
        Column("permit_id", Uuid, primary_key=True),
        Column("stream_id", Uuid, primary_key=True),
        Index(f"ix_{name}_stream", "stream_id"),
    )


def conflicts(metadata: MetaData, name: str) -> Table:
    """The two permits of each SIMOPS conflict, for the register's decisions (which name only the conflict)."""
    return Table(
        name,
        metadata,
        Column("conflict_id", Uuid, primary_key=True),
        Column("older", Uuid, nullable=False),
        Column("newer", Uuid, nullable=False),
    )


def retired_templates(metadata: MetaData, name: str) -> Table:
    """TPL-01: templates retired (a draft of one cannot be submitted)."""
    return Table(name, metadata, Column("template_id", Uuid, primary_key=True))


DEFINITIONS = {
    "outlooks": outlooks,
    "streams": streams,
    "reads": reads,
    "conflicts": conflicts,
    "retired_templates": retired_templates,
    **reference.DEFINITIONS,
}
