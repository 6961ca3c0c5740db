"""The KPI and compliance-report tables (section 12, KPI-01..13, RPT-01..04).

One row per permit holds the scalar facts the figures need, each an instant or a flag that does not depend on
the clock: the query compares them with an explicit `as_of` (TIME-05). Beside it: the isolations (for KPI-05 and
orphan isolations), the conflicts (KPI-10), one row per approval (KPI-07), one row per recorded exception fact
(RPT-03), one row per incident linked to a permit (RPT-02/04), the permits per recorded status (KPI-01) and the
open conflicts per severity (KPI-10), plus the reference data (templates, overrides, projects) a permit's
template resolves from.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text, Uuid, text

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
        # RM-01 filter columns
        Column("category", String(32), nullable=False),
        Column("template_key", String(64), nullable=False),
        Column("priority", String(16), nullable=False),
        Column("effective_risk_level", String(16), nullable=False),
        Column("area", String(200), nullable=False),
        Column("location", Text, nullable=False),
        Column("requestor", String(200), nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("planned_start", UtcDateTime, nullable=False),
        Column("planned_end", UtcDateTime, nullable=False),
        Column("valid_until", UtcDateTime, nullable=False),
        # status and the instant it turns expired whatever is recorded (TIME-05); None when it never expires
        Column("status", String(16), nullable=False),
        Column("expires_at", UtcDateTime),
        # KPI-02/03 and RPT-02: the pending step's start (current cycle) and its template SLA deadline
        Column("submitted_at", UtcDateTime),
        Column("verified_at", UtcDateTime),
        Column("approved_at", UtcDateTime),
        Column("verification_sla_hours", Integer, nullable=False),
        Column("approval_sla_hours", Integer, nullable=False),
        Column("verification_due_at", UtcDateTime),
        Column("approval_due_at", UtcDateTime),
        # KPI-13: the pending step's start, submitted_at while submitted and verified_at while under review
        Column("pending_since", UtcDateTime),
        # KPI-05: structured isolation required and a required isolation missing or not verified
        Column("isolation_pending", Boolean, nullable=False),
        Column("required_isolations", Integer, nullable=False),
        Column("verified_isolations", Integer, nullable=False),
        # KPI-09: the reason code that suspended the permit (its first cause)
        Column("suspension_reason", String(32)),
        Column("suspended_at", UtcDateTime),
        # KPI-11: last passing gas session and the retest due (GAS-10), only while active with periodic testing
        Column("last_gas_pass_at", UtcDateTime),
        Column("retest_due_at", UtcDateTime),
        # KPI-12: the boundary of the handover the live permit owes (HOV-01/04) and when it counts as missed
        Column("handover_due_at", UtcDateTime),
        Column("handover_missed_at", UtcDateTime),
        # KPI-06: handed back at
        Column("handed_back_at", UtcDateTime),
        Column("version", Integer, nullable=False),
        state_column(),
        # TIME-05 by status and expiry; on PostgreSQL it also carries what KPI-02/03/09 read, so their counts over
        # the submitted, under-review and suspended permits read the index alone
        Index(
            f"ix_{name}_project_status",
            "project_id",
            "status",
            "expires_at",
            postgresql_include=["suspension_reason", "verification_due_at", "approval_due_at"],
        ),
        # KPI-05/11/12 from the few permits each concerns: a count over an index range rather than a filter over
        # every open permit
        *(
            Index(
                f"ix_{name}_project_{column}",
                "project_id",
                column,
                postgresql_include=["status", "expires_at"],
                postgresql_where=text(f"{column} IS NOT NULL"),
                sqlite_where=text(f"{column} IS NOT NULL"),
            )
            for column in ("retest_due_at", "handover_due_at", "handover_missed_at")
        ),
        Index(
            f"ix_{name}_project_isolation_pending",
            "project_id",
            "status",
            "expires_at",
            postgresql_where=text("isolation_pending IS true"),
            sqlite_where=text("isolation_pending IS 1"),
        ),
        Index(f"ix_{name}_project_status_pending", "project_id", "status", "pending_since"),  # KPI-13 overdue
        Index(f"ix_{name}_project_status_valid", "project_id", "status", "valid_until"),  # KPI-04/13 expiring
        # KPI-08 / RPT-02: the window's rows by template and category from the index alone
        Index(f"ix_{name}_project_created", "project_id", "created_at", "template_key", "category"),
    )


def status_counts(metadata: MetaData, name: str) -> Table:
    """KPI-01 without filters: permits per project and recorded status, kept by increments (no zero rows). The
    query moves the permits whose expiry instant has come from their recorded status to expired (TIME-05)."""
    return Table(
        name,
        metadata,
        Column("project_id", Uuid, primary_key=True),
        Column("status", String(16), primary_key=True),
        Column("n", BigInteger, nullable=False),
    )


def conflict_counts(metadata: MetaData, name: str) -> Table:
    """KPI-10 without filters: open conflicts per project and severity, kept by increments (no zero rows)."""
    return Table(
        name,
        metadata,
        Column("project_id", Uuid, primary_key=True),
        Column("severity", String(16), primary_key=True),
        Column("n", BigInteger, nullable=False),
    )


def created_days(metadata: MetaData, name: str) -> Table:
    """KPI-08, RPT-02: permits created per project, UTC day (days since the epoch), template key and category,
    kept by increments (no zero rows). A window reads its whole days here and only its two partial days from the
    permits, so its cost does not grow with the permits created in it."""
    return Table(
        name,
        metadata,
        Column("project_id", Uuid, primary_key=True),
        Column("day", Integer, primary_key=True),
        Column("template_key", String(64), primary_key=True),
        Column("category", String(32), primary_key=True),
        Column("n", BigInteger, nullable=False),
    )


def isolation_assignments(metadata: MetaData, name: str) -> Table:
    """The permit side of isolation (ISO-05): which isolations a permit has assigned, to recompute its KPI-05
    facts when one of them moves."""
    return Table(
        name,
        metadata,
        Column("permit_id", Uuid, primary_key=True),
        Column("isolation_id", Uuid, primary_key=True),
        Index(f"ix_{name}_isolation", "isolation_id"),
    )


def isolations(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("isolation_id", Uuid, primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("point_code", String(200), nullable=False),
        Column("status", String(16), nullable=False),
        Column("in_place", Boolean, nullable=False),
        Column("operations_held", Boolean, nullable=False),
        Column("isolated_at", UtcDateTime),
        state_column(),
        Index(f"ix_{name}_project", "project_id", "in_place"),
    )


def isolation_links(metadata: MetaData, name: str) -> Table:
    """The isolation side (ISO-03): the permits an isolation is linked to now (RPT-03 orphan isolations)."""
    return Table(
        name,
        metadata,
        Column("isolation_id", Uuid, primary_key=True),
        Column("permit_id", Uuid, primary_key=True),
    )


def conflicts(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("conflict_id", Uuid, primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("older", Uuid, nullable=False),
        Column("newer", Uuid, nullable=False),
        Column("severity", String(16), nullable=False),
        Column("open", Boolean, nullable=False),
        state_column(),
        Index(f"ix_{name}_project", "project_id", "open", "severity"),  # KPI-10 from the index alone
    )


def approvals(metadata: MetaData, name: str) -> Table:
    """KPI-07: one row per approval, with the submission of the approving cycle."""
    return Table(
        name,
        metadata,
        Column("permit_id", Uuid, primary_key=True),
        Column("cycle", Integer, primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("submitted_at", UtcDateTime, nullable=False),
        Column("approved_at", UtcDateTime, nullable=False),
        Column("waited_us", BigInteger, nullable=False),  # approved_at - submitted_at in microseconds
        # the window's durations from the index alone
        Index(f"ix_{name}_project_approved", "project_id", "approved_at", "waited_us"),
    )


def facts(metadata: MetaData, name: str) -> Table:
    """RPT-02/03: the exception facts recorded by events (one row per event and kind), at the event's instant."""
    return Table(
        name,
        metadata,
        Column("position", BigInteger, primary_key=True, autoincrement=False),
        Column("kind", String(48), primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("permit_id", Uuid),
        Column("at", UtcDateTime, nullable=False),
        Column("rule", String(16), nullable=False),
        Column("detail", Text, nullable=False),  # JSON object: the facts the exception is about
        Index(f"ix_{name}_project_kind_at", "project_id", "kind", "at"),
    )


def incidents(metadata: MetaData, name: str) -> Table:
    """RPT-02 incident rate: one row per incident linked to a permit (RPT-04), at the link's recorded instant
    (RPT-01: events recorded in the window) and, when given, the instant the incident occurred."""
    return Table(
        name,
        metadata,
        Column("permit_id", Uuid, primary_key=True),
        Column("incident_ref", String(200), primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("linked_at", UtcDateTime, nullable=False),
        Column("occurred_at", UtcDateTime),
        Index(f"ix_{name}_project_linked", "project_id", "linked_at"),
    )


DEFINITIONS = {
    "kpi_permits": permits,
    "kpi_isolation_assignments": isolation_assignments,
    "kpi_isolations": isolations,
    "kpi_isolation_links": isolation_links,
    "kpi_conflicts": conflicts,
    "kpi_approvals": approvals,
    "kpi_facts": facts,
    "kpi_incidents": incidents,
    "kpi_status_counts": status_counts,
    "kpi_conflict_counts": conflict_counts,
    "kpi_created_days": created_days,
    **reference.DEFINITIONS,
}
