"""My tasks (RM-09) as a typed query: the caller's open tasks with age and SLA, for an explicit `as_of` (TIME-05).

A task is the caller's when it is granted to them by name or to one of their roles, and no separation-of-duties
rule bars them from it (the projection records who is barred). Tasks that end when their permit expires
(deciding an extension, acknowledging a handover, reviewing a missed one) are gone from the permit's expiry instant
on, recorded or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

import msgspec
from sqlalchemy import ColumnElement, case, exists, func, or_, select

from ptw_domain.roles import Role
from ptw_projections import params
from ptw_projections.errors import InvalidQuery
from ptw_projections.reader import ReadSide
from ptw_projections.tasks.projection import KINDS, Tasks, person_grant, role_grant

NAME = Tasks.name


class TaskItem(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    kind: str
    permit_id: UUID
    permit_number: str
    permit_title: str
    subject_id: UUID  # the permit, extension, handover, isolation or conflict the act is on
    assigned_to: str | None  # the person the domain names, else None (open to `roles`)
    roles: list[str]
    since: datetime
    age_hours: float
    sla_hours: int | None
    due_at: datetime | None
    overdue: bool


class TaskPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[TaskItem]
    page: int
    page_size: int
    total: int
    as_of: datetime
    as_of_position: int


def my_tasks(
    reads: ReadSide,
    project_id: UUID,
    *,
    person_id: str,
    roles: Iterable[Role | str],
    as_of: datetime,
    kind: str | None = None,
    page: int | None = None,
    page_size: int | None = None,
) -> TaskPage:
    """RM-09: the open tasks of `person_id` holding `roles` in the project, most overdue first (by due instant),
    then the tasks without an SLA, oldest first. Overdue: age ≥ SLA (KPI-02/03)."""
    if as_of.tzinfo is None:
        raise InvalidQuery("as_of", "needs a UTC offset")
    if not person_id.strip():
        raise InvalidQuery("person_id", "name the caller")
    held = _roles(roles)
    if kind is not None and kind not in KINDS:
        raise InvalidQuery("kind", f"unknown task kind {kind!r}; use one of {', '.join(KINDS)}")
    number, size = params.paging(page, page_size)
    v = reads.views(NAME)
    t, grants, exclusions = v["tasks"], v["task_grants"], v["task_exclusions"]
    grantees = [person_grant(person_id), *(role_grant(r) for r in sorted(held))]
    where: list[ColumnElement[bool]] = [
        t.c.project_id == project_id,
        or_(t.c.ends_at.is_(None), t.c.ends_at > as_of),
        exists().where(grants.c.task_id == t.c.task_id, grants.c.grantee.in_(grantees)),
        ~exists().where(exclusions.c.task_id == t.c.task_id, exclusions.c.person_id == person_id),
    ]
    if kind is not None:
        where.append(t.c.kind == kind)
    order = (case((t.c.due_at.is_(None), 1), else_=0), t.c.due_at, t.c.since, t.c.task_id)
    with reads.connect() as conn:
        position = reads.position(NAME, conn)
        total = conn.execute(select(func.count()).select_from(t).where(*where)).scalar_one()
        rows = conn.execute(
            select(t).where(*where).order_by(*order).limit(size).offset((number - 1) * size)
        ).all()
    items = [
        TaskItem(
            id=r.task_id,
            kind=r.kind,
            permit_id=r.permit_id,
            permit_number=r.permit_number,
            permit_title=r.permit_title,
            subject_id=r.subject_id,
            assigned_to=r.assignee,
            roles=r.roles.split(",") if r.roles else [],
            since=r.since,
            age_hours=round(max((as_of - r.since).total_seconds(), 0.0) / 3600, 1),
            sla_hours=r.sla_hours,
            due_at=r.due_at,
            overdue=r.due_at is not None and as_of >= r.due_at,
        )
        for r in rows
    ]
    return TaskPage(
        items=items, page=number, page_size=size, total=total, as_of=as_of, as_of_position=position
    )


def _roles(roles: Iterable[Role | str]) -> frozenset[Role]:
    if isinstance(roles, str):  # one comma list, as a query string gives it
        roles = [r for r in roles.split(",") if r.strip()]
    out: set[Role] = set()
    for raw in roles:
        try:
            out.add(Role(str(raw).strip().lower()))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise InvalidQuery("roles", f"unknown role {raw!r}; use {known}") from None
    return frozenset(out)
