"""The registers' tables (RM-10): isolations with their links, the permits and workers they name, the personal
locks on each permit's lockout, and SIMOPS conflicts. Each folded stream keeps its state beside its row."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Text, Uuid

from ptw_projections.folding import state_column
from ptw_projections.types import UtcDateTime


def isolations(metadata: MetaData, name: str) -> Table:
    """One row per isolation; the point columns are the snapshot taken when the isolation opened (ISO-03)."""
    return Table(
        name,
        metadata,
        Column("isolation_id", Uuid, primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("point_id", Uuid, nullable=False),
        Column("point_code", String(64), nullable=False),
        Column("point_type", String(32), nullable=False),
        Column("energy_type", String(32), nullable=False),
        Column("energy_source_id", String(200)),
        Column("area", String(200), nullable=False),
        Column("equipment_tag", String(200)),
        Column("location", Text, nullable=False),
        Column("achievable_category", String(8), nullable=False),
        Column("status", String(16), nullable=False),
        Column("open", Boolean, nullable=False),  # assigned, isolated or verified
        Column("in_place", Boolean, nullable=False),  # isolated or verified
        Column("achieved_category", String(8)),
        Column("lock_ids", Text, nullable=False),  # JSON list: the isolation's own locks (ISO-06)
        Column("opened_at", UtcDateTime, nullable=False),
        Column("isolated_by", String(200)),
        Column("isolated_at", UtcDateTime),
        Column("verified_by", String(200)),
        Column("verified_at", UtcDateTime),
        Column("ended_at", UtcDateTime),  # de-isolated or withdrawn
        Column("ended_by", String(200)),
        Column("operations_held_by", String(200)),  # ISO-14
        Column("operations_held_at", UtcDateTime),
        Column("operations_reason", Text),
        Column("version", Integer, nullable=False),
        state_column(),
        Index(f"ix_{name}_project_open", "project_id", "open", "point_code"),
        Index(f"ix_{name}_point", "point_id"),
    )


def isolation_links(metadata: MetaData, name: str) -> Table:
    """The permits an isolation is linked to now (its `links`), each required or not (ISO-05)."""
    return Table(
        name,
        metadata,
        Column("isolation_id", Uuid, primary_key=True),
        Column("permit_id", Uuid, primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("required", Boolean, nullable=False),
        Index(f"ix_{name}_permit", "permit_id"),
    )


def permits(metadata: MetaData, name: str) -> Table:
    """What the registers show of a permit: number and status (holding, LIFE-03, is decided from it)."""
    return Table(
        name,
        metadata,
        Column("permit_id", Uuid, primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("number", String(64), nullable=False),
        Column("status", String(16), nullable=False),
        Column("version", Integer, nullable=False),
        state_column(),
    )


def personal_locks(metadata: MetaData, name: str) -> Table:
    """LOCK-01: the personal locks currently on a permit's group lockout."""
    return Table(
        name,
        metadata,
        Column("permit_id", Uuid, primary_key=True),
        Column("lock_id", String(200), primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("worker_id", Uuid, nullable=False),
        Column("applied_at", UtcDateTime, nullable=False),
        Index(f"ix_{name}_project", "project_id", "applied_at"),
        Index(f"ix_{name}_worker", "worker_id"),
    )


def workers(metadata: MetaData, name: str) -> Table:
    """Who a lock's worker is (organisation-wide streams; only reached through a project's locks)."""
    return Table(
        name,
        metadata,
        Column("worker_id", Uuid, primary_key=True),
        Column("organisation_id", Uuid, nullable=False),
        Column("name", String(200), nullable=False),
        Column("company", String(200), nullable=False),
        Column("person_id", String(200)),
        Column("version", Integer, nullable=False),
        state_column(),
    )


def conflicts(metadata: MetaData, name: str) -> Table:
    """One row per SIMOPS conflict, its register state (open, accepted, cleared) and latest decision."""
    return Table(
        name,
        metadata,
        Column("conflict_id", Uuid, primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("older", Uuid, nullable=False),
        Column("newer", Uuid, nullable=False),
        Column("rule", String(64), nullable=False),
        Column("severity", String(16), nullable=False),
        Column("severity_rank", Integer, nullable=False),
        Column("register_state", String(16), nullable=False),
        Column("facts_hash", String(64), nullable=False),
        Column("overlap_start", UtcDateTime, nullable=False),
        Column("overlap_end", UtcDateTime),  # None: until further notice (SIM-03)
        Column("matrix_version", Integer, nullable=False),  # SIM-10: the versions the facts were judged under
        Column("zone_map_version", Integer, nullable=False),
        Column("detected_at", UtcDateTime, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
        Column("cleared_reason", Text),
        Column("decision", String(32)),
        Column("decision_controls", Text),
        Column("decided_by", String(200)),
        Column("decided_at", UtcDateTime),
        Column("decision_facts_hash", String(64)),
        Column("version", Integer, nullable=False),
        state_column(),
        Index(f"ix_{name}_project_state", "project_id", "register_state", "severity_rank"),
        Index(f"ix_{name}_older", "older"),
        Index(f"ix_{name}_newer", "newer"),
    )


# View names are unique across every projection (they share the read schema): hence the prefix.
DEFINITIONS = {
    "register_isolations": isolations,
    "register_isolation_links": isolation_links,
    "register_permits": permits,
    "register_personal_locks": personal_locks,
    "register_workers": workers,
    "register_conflicts": conflicts,
}
