"""The "my tasks" tables (RM-09): one row per open task, who it is granted to (a named person or a role), who the
separation-of-duties rules bar from it, and the folded stream states the tasks are derived from.

A task belongs to one *source* stream (the permit, isolation or conflict it arises from); every change of a source
recomputes that source's tasks, so rows disappear as soon as the act is done. Time-dependent values (age, overdue,
a task that ends when its permit expires) are computed at query time for an explicit `as_of` (TIME-05).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text, Uuid

from ptw_projections import reference
from ptw_projections.folding import state_column
from ptw_projections.types import UtcDateTime


def tasks(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("task_id", String(300), primary_key=True),  # <kind>:<subject>[:<assignee>]
        Column("project_id", Uuid, nullable=False),
        Column("source_id", Uuid, nullable=False),  # the permit, isolation or conflict stream
        Column("kind", String(32), nullable=False),
        Column("permit_id", Uuid, nullable=False),
        Column("permit_number", String(64), nullable=False),
        Column("permit_title", Text, nullable=False),
        Column("subject_id", Uuid, nullable=False),  # permit, extension, handover, isolation or conflict
        Column("assignee", String(200)),  # the person the domain names, when it names one
        Column("roles", Text),  # comma list of the roles that may do it, when it is open to a role
        Column("since", UtcDateTime, nullable=False),
        Column("sla_hours", Integer),
        Column("due_at", UtcDateTime),  # since + sla_hours
        Column("ends_at", UtcDateTime),  # from this instant the act is no longer possible (expiry, TIME-05)
        Index(f"ix_{name}_project_kind", "project_id", "kind"),
        Index(f"ix_{name}_source", "source_id"),
    )


def task_grants(metadata: MetaData, name: str) -> Table:
    """Who may do a task: `person:<id>` or `role:<role>`."""
    return Table(
        name,
        metadata,
        Column("task_id", String(300), primary_key=True),
        Column("grantee", String(250), primary_key=True),
        Column("source_id", Uuid, nullable=False),
        Index(f"ix_{name}_grantee", "grantee"),
        Index(f"ix_{name}_source", "source_id"),
    )


def task_exclusions(metadata: MetaData, name: str) -> Table:
    """Who may not do a task although granted it (SOD-01/03/04/05/06/07)."""
    return Table(
        name,
        metadata,
        Column("task_id", String(300), primary_key=True),
        Column("person_id", String(200), primary_key=True),
        Column("source_id", Uuid, nullable=False),
        Index(f"ix_{name}_source", "source_id"),
    )


def permits(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("permit_id", Uuid, primary_key=True),
        Column("project_id", Uuid, nullable=False),
        state_column(),
    )


def isolations(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("isolation_id", Uuid, primary_key=True),
        Column("project_id", Uuid, nullable=False),
        state_column(),
    )


def isolation_assignments(metadata: MetaData, name: str) -> Table:
    """The isolations each permit has assigned (a permit's close depends on their states, CLO-05)."""
    return Table(
        name,
        metadata,
        Column("permit_id", Uuid, primary_key=True),
        Column("isolation_id", Uuid, primary_key=True),
        Index(f"ix_{name}_isolation", "isolation_id"),
    )


def conflicts(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("conflict_id", Uuid, primary_key=True),
        Column("project_id", Uuid, nullable=False),
        Column("newer", Uuid, nullable=False),
        Column("opened_at", UtcDateTime, nullable=False),  # when it was detected or last reopened
        state_column(),
        Index(f"ix_{name}_newer", "newer"),
    )


DEFINITIONS = {
    "tasks": tasks,
    "task_grants": task_grants,
    "task_exclusions": task_exclusions,
    "task_permits": permits,
    "task_isolations": isolations,
    "task_isolation_assignments": isolation_assignments,
    "task_conflicts": conflicts,
    **reference.DEFINITIONS,
}
