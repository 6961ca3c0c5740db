"""Permit list and search (RM-01..05, RM-07) as a typed query; time-dependent values for an explicit as_of."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select

from ptw_domain.permit.content import Priority
from ptw_domain.permit.status import Status
from ptw_domain.risk import RiskLevel
from ptw_projections import params
from ptw_projections.errors import InvalidQuery
from ptw_projections.reader import ReadSide

# RM-07: names migrating clients still send; outputs are canonical only.
STATUS_ALIASES = {
    "pending_verification": Status.SUBMITTED,
    "verified": Status.UNDER_REVIEW,
    "pending_approval": Status.UNDER_REVIEW,
    "in_progress": Status.ACTIVE,
}
EXPIRING = (Status.APPROVED, Status.ACTIVE, Status.SUSPENDED)
# RM-03: `status` sorts in lifecycle order (draft first, cancelled last), not by name.
LIFECYCLE_ORDER = {status.value: rank for rank, status in enumerate(Status)}
NOT_LISTED = frozenset({"state", "search_text"})  # kept for folding and search; a page never carries them


class PermitQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """RM-01 filters (combined with AND), RM-03 sort, RM-04 paging. Text as a query string gives it."""

    status: str | None = None
    template_key: str | None = None
    category: str | None = None
    area: str | None = None
    equipment_tag: str | None = None
    location: str | None = None
    priority: str | None = None
    risk_level: str | None = None
    assignee: str | None = None
    requestor: str | None = None
    created_from: str | None = None
    created_to: str | None = None
    planned_start_from: str | None = None
    planned_start_to: str | None = None
    planned_end_from: str | None = None
    planned_end_to: str | None = None
    valid_until_from: str | None = None
    valid_until_to: str | None = None
    has_open_conflict: bool | None = None
    q: str | None = None
    sort: str = "-created_at"
    page: int | None = None
    page_size: int | None = None


class PermitListItem(msgspec.Struct, frozen=True, kw_only=True):
    """RM-05."""

    id: UUID
    number: str
    title: str
    category: str
    template_key: str
    template_version: int
    status: Status
    effective_status: Status
    priority: Priority
    risk_score: int
    risk_level: RiskLevel
    effective_risk_level: RiskLevel
    area: str
    location: str
    planned_start: datetime
    planned_end: datetime
    valid_until: datetime
    performing_authority: str
    requestor: str
    open_conflicts: int
    version: int


class PermitPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[PermitListItem]
    page: int
    page_size: int
    total: int
    as_of: datetime
    as_of_position: int


def list_permits(reads: ReadSide, project_id: UUID, query: PermitQuery, *, as_of: datetime) -> PermitPage:
    if as_of.tzinfo is None:
        raise InvalidQuery("as_of", "needs a UTC offset")
    v = reads.views("permit_list")
    p, conflicts = v["permits"], v["conflicts"]
    page, size = params.paging(query.page, query.page_size)
    effective = case(
        (and_(p.c.expires_at.is_not(None), p.c.expires_at <= as_of), "expired"), else_=p.c.status
    )
    sorts: Mapping[str, Any] = {
        "created_at": p.c.created_at,
        "planned_start": p.c.planned_start,
        "planned_end": p.c.planned_end,
        "valid_until": p.c.valid_until,
        "risk_score": p.c.risk_score,
        "number": p.c.number,
        "priority": p.c.priority_rank,
        "status": case(LIFECYCLE_ORDER, value=effective, else_=len(LIFECYCLE_ORDER)),
    }
    key, descending = params.sort_key(query.sort, sorts)
    open_of = or_(conflicts.c.older == p.c.permit_id, conflicts.c.newer == p.c.permit_id)
    open_count = (
        select(func.count()).where(open_of, conflicts.c.open.is_(True)).correlate(p).scalar_subquery()
    )
    with reads.connect() as conn:
        position = reads.position("permit_list", conn)
        zone = _zone(reads, conn, project_id)
        where = [p.c.project_id == project_id, *_filters(reads, query, as_of, zone)]
        total = conn.execute(select(func.count()).select_from(p).where(*where)).scalar_one()
        order = sorts[key].desc() if descending else sorts[key].asc()
        rows = conn.execute(
            select(
                *(c for c in p.columns if c.name not in NOT_LISTED),
                effective.label("effective_status"),
                open_count.label("open_conflicts"),
            )
            .where(*where)
            .order_by(order, p.c.number.asc())
            .limit(size)
            .offset((page - 1) * size)
        ).all()
    items = [
        PermitListItem(
            id=r.permit_id,
            number=r.number,
            title=r.title,
            category=r.category,
            template_key=r.template_key,
            template_version=r.template_version,
            status=Status(r.status),
            effective_status=Status(r.effective_status),
            priority=Priority(r.priority),
            risk_score=r.risk_score,
            risk_level=RiskLevel(r.risk_level),
            effective_risk_level=RiskLevel(r.effective_risk_level),
            area=r.area,
            location=r.location,
            planned_start=r.planned_start,
            planned_end=r.planned_end,
            valid_until=r.valid_until,
            performing_authority=r.performing_authority,
            requestor=r.requestor,
            open_conflicts=r.open_conflicts,
            version=r.version,
        )
        for r in rows
    ]
    return PermitPage(
        items=items, page=page, page_size=size, total=total, as_of=as_of, as_of_position=position
    )


def statuses(value: str) -> list[Status]:
    """The comma list of effective statuses, aliases (RM-07) mapped to canonical ones."""
    out: list[Status] = []
    for raw in (s.strip().lower() for s in value.split(",")):
        if not raw:
            continue
        status = STATUS_ALIASES.get(raw)
        if status is None:
            try:
                status = Status(raw)
            except ValueError:
                known = ", ".join([*(s.value for s in Status), *STATUS_ALIASES])
                raise InvalidQuery("status", f"unknown status {raw!r}; use {known}") from None
        out.append(status)
    if not out:
        raise InvalidQuery("status", "give at least one status")
    return out


def effective_status_is(p: Any, status: Status, as_of: datetime) -> ColumnElement[bool]:
    """TIME-05 as a condition the (project, status, expires_at) index can serve."""
    if status is Status.EXPIRED:
        return or_(p.c.status == Status.EXPIRED.value, p.c.expires_at <= as_of)
    if status in EXPIRING:
        return and_(p.c.status == status.value, or_(p.c.expires_at.is_(None), p.c.expires_at > as_of))
    return p.c.status == status.value  # type: ignore[no-any-return]


def _choice(parameter: str, value: str, allowed: type[Any]) -> str:
    try:
        return str(allowed(value.strip().lower()).value)
    except ValueError:
        known = ", ".join(m.value for m in allowed)
        raise InvalidQuery(parameter, f"unknown value {value!r}; use {known}") from None


def _filters(reads: ReadSide, q: PermitQuery, as_of: datetime, zone: ZoneInfo) -> list[ColumnElement[bool]]:
    v = reads.views("permit_list")
    p, parties, tags, conflicts = v["permits"], v["permit_parties"], v["permit_tags"], v["conflicts"]
    where: list[ColumnElement[bool]] = []
    if q.status is not None:
        where.append(or_(*(effective_status_is(p, s, as_of) for s in statuses(q.status))))
    for parameter, column in (
        ("template_key", p.c.template_key),
        ("category", p.c.category),
        ("area", p.c.area),
        ("requestor", p.c.requestor),
    ):
        value = getattr(q, parameter)
        if value is not None:
            where.append(column == value)
    if q.priority is not None:
        where.append(p.c.priority == _choice("priority", q.priority, Priority))
    if q.risk_level is not None:
        where.append(p.c.effective_risk_level == _choice("risk_level", q.risk_level, RiskLevel))
    if q.location is not None:
        where.append(func.lower(p.c.location).contains(q.location.lower(), autoescape=True))
    if q.equipment_tag is not None:
        where.append(exists().where(tags.c.permit_id == p.c.permit_id, tags.c.tag == q.equipment_tag))
    if q.assignee is not None:
        where.append(exists().where(parties.c.permit_id == p.c.permit_id, parties.c.person_id == q.assignee))
    for name, column in (
        ("created", p.c.created_at),
        ("planned_start", p.c.planned_start),
        ("planned_end", p.c.planned_end),
        ("valid_until", p.c.valid_until),
    ):
        low, high = getattr(q, f"{name}_from"), getattr(q, f"{name}_to")
        if low is not None:
            at, _ = params.bound(f"{name}_from", low, zone, upper=False)
            where.append(column >= at)
        if high is not None:
            at, inclusive = params.bound(f"{name}_to", high, zone, upper=True)
            where.append(column <= at if inclusive else column < at)
    if q.has_open_conflict is not None:
        touching = exists().where(
            or_(conflicts.c.older == p.c.permit_id, conflicts.c.newer == p.c.permit_id),
            conflicts.c.open.is_(True),
        )
        where.append(touching if q.has_open_conflict else ~touching)
    if q.q is not None:
        words = params.terms(q.q)
        where.extend(p.c.search_text.contains(w, autoescape=True) for w in words)
    return where


def _zone(reads: ReadSide, conn: Any, project_id: UUID) -> ZoneInfo:
    projects = reads.views("permit_list")["projects"]
    name = conn.execute(select(projects.c.time_zone).where(projects.c.project_id == project_id)).scalar()
    return ZoneInfo(name or "UTC")
