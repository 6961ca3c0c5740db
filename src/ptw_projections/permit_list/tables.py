"""The permit list's tables (RM-01..07): one row per permit, its parties and tags for filtering, the conflicts
that touch it, and the reference data (templates, overrides, projects) that query-time values need."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, LargeBinary, MetaData, String, Table, Text, Uuid

from ptw_projections import reference
from ptw_projections.folding import state_column
from ptw_projections.types import UtcDateTime


def permits(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("permit_id", Uuid, primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("number", String(64), nullable=False),
        Column("title", Text, nullable=False),
        Column("category", String(32), nullable=False),
        Column("template_key", String(64), nullable=False),
        Column("template_version", Integer, nullable=False),
        Column("status", String(16), nullable=False),
        Column("priority", String(16), nullable=False),
        Column("priority_rank", Integer, nullable=False),
        Column("risk_score", Integer, nullable=False),
        Column("risk_level", String(16), nullable=False),
        Column("effective_risk_level", String(16), nullable=False),
        Column("area", String(200), nullable=False),
        Column("location", Text, nullable=False),
        Column("requestor", String(200), nullable=False),
        Column("performing_authority", String(200), nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("planned_start", UtcDateTime, nullable=False),
        Column("planned_end", UtcDateTime, nullable=False),
        Column("valid_until", UtcDateTime, nullable=False),
        # The instant from which the permit counts as expired whatever is recorded (TIME-05); None when its
        # status never expires. Effective status is computed from it at query time for an explicit as_of.
        Column("expires_at", UtcDateTime),
        Column("search_text", Text, nullable=False),
        Column("version", Integer, nullable=False),
        Column("chain_head", String(64), nullable=False),
        state_column(),
        Index(f"ix_{name}_project_created", "project_id", "created_at"),
        Index(f"ix_{name}_project_status", "project_id", "status", "expires_at"),
        Index(f"ix_{name}_project_planned_start", "project_id", "planned_start"),
        Index(f"ix_{name}_project_valid_until", "project_id", "valid_until"),
        Index(f"ix_{name}_project_number", "project_id", "number"),
        # The selective RM-01 filters each get an index; the search gets a trigram index on PostgreSQL (LIKE
        # '%term%' over every permit of a project would otherwise read them all).
        # with status and expiry, an area's permits of some statuses (its live work) are index ranges, counted
        # from the index alone
        Index(f"ix_{name}_project_area", "project_id", "area", "status", "expires_at"),
        # an area's permits in the order work starts (a site board's view): the first page is an index range;
        # by the project's planned-start index an area's page read and dropped 35 rows of other areas per row kept
        Index(f"ix_{name}_project_area_start", "project_id", "area", "planned_start"),
        Index(f"ix_{name}_project_risk", "project_id", "effective_risk_level"),
        Index(f"ix_{name}_project_template", "project_id", "template_key"),
        Index(f"ix_{name}_project_requestor", "project_id", "requestor"),
        Index(
            f"ix_{name}_search",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )


def permit_contents(metadata: MetaData, name: str) -> Table:
    """The content and template in force from each version on: what a signature of that version covered
    (SIG-11 recomputes its core hash from them to tell valid from broken)."""
    return Table(
        name,
        metadata,
        Column("permit_id", Uuid, primary_key=True),
        Column("from_version", Integer, primary_key=True),
        Column("content", LargeBinary, nullable=False),
        Column("template", LargeBinary, nullable=False),
    )


def permit_parties(metadata: MetaData, name: str) -> Table:
    """Who holds a party role on a permit (RM-01 assignee)."""
    return Table(
        name,
        metadata,
        Column("permit_id", Uuid, primary_key=True),
        Column("person_id", String(200), primary_key=True),
        Column("role", String(32), primary_key=True),
        Index(f"ix_{name}_person", "person_id"),
    )


def permit_tags(metadata: MetaData, name: str) -> Table:
    """Equipment tags, one row each, for the exact-tag filter."""
    return Table(
        name,
        metadata,
        Column("permit_id", Uuid, primary_key=True),
        Column("tag", String(200), primary_key=True),
        Index(f"ix_{name}_tag", "tag"),
    )


def conflicts(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("conflict_id", Uuid, primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("older", Uuid, nullable=False),
        Column("newer", Uuid, nullable=False),
        Column("rule", String(64), nullable=False),
        Column("severity", String(16), nullable=False),
        Column("open", Boolean, nullable=False),
        state_column(),
        Index(f"ix_{name}_older", "older", "open"),
        Index(f"ix_{name}_newer", "newer", "open"),
    )


DEFINITIONS = {
    "permits": permits,
    "permit_contents": permit_contents,
    "permit_parties": permit_parties,
    "permit_tags": permit_tags,
    "conflicts": conflicts,
    **reference.DEFINITIONS,
}
