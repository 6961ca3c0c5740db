"""Permit list and search (RM-01..05, RM-07) as a typed query; time-dependent values for an explicit as_of."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import ColumnElement, Exists, Table, and_, case, exists, func, or_, select

from ptw_domain.permit.content import Priority
from ptw_domain.permit.status import Status
from ptw_domain.risk import RiskLevel
from ptw_projections import params
from ptw_projections.errors import InvalidQuery
from ptw_projections.permit_filters import PermitFilters, common_filters
from ptw_projections.reader import ReadSide
from ptw_projections.readiness.query import ReadinessSummary, readiness_filters, summaries

# RM-07: names migrating clients still send; outputs are canonical only.
# RM-03: `status` sorts in lifecycle order (draft first, cancelled last), not by name.
LIFECYCLE_ORDER = {status.value: rank for rank, status in enumerate(Status)}
NOT_LISTED = frozenset({"state", "search_text"})  # kept for folding and search; a page never carries them


class PermitQuery(PermitFilters, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """RM-01 filters (combined with AND), RM-03 sort, RM-04 paging. Text as a query string gives it."""

    equipment_tag: str | None = None
    assignee: str | None = None
    needs_review: bool | None = None  # on the sync review list (SYNC-07)
    ready_for: str | None = None  # RDY-01: the next action is this one and allowed (ADR 0014)
    blocked: bool | None = None  # RDY-01: the next action is refused (true) or allowed (false)
    blocked_by: str | None = None  # RDY-02: a blocker of the next action cites this rule
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
    needs_review: bool  # on the project's sync review list (SYNC-07)
    version: int
    readiness: ReadinessSummary | None  # the next action's readiness at as_of; None until evaluated


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
    in_review = _in_review(reads, p)
    with reads.connect() as conn:
        zone = reads.time_zone(project_id, conn)
        where = [p.c.project_id == project_id, *_filters(reads, query, as_of, zone)]
        total = select(func.count()).select_from(p).where(*where).scalar_subquery()
        position = reads.catalogue.live_position("permit_list")
        order = sorts[key].desc() if descending else sorts[key].asc()
        # One statement, one round trip: the page, the total and the position it reflects (RM-04, RM-08).
        rows = conn.execute(
            select(
                *(c for c in p.columns if c.name not in NOT_LISTED),
                effective.label("effective_status"),
                open_count.label("open_conflicts"),
                in_review.label("needs_review"),
                total.label("total"),
                position.label("as_of_position"),
            )
            .where(*where)
            .order_by(order, p.c.number.asc())
            .limit(size)
            .offset((page - 1) * size)
        ).all()
        if rows:
            count, reached = rows[0].total, rows[0].as_of_position
        else:  # past the last page (or nothing matches): the figures alone
            count, reached = conn.execute(select(total, position)).one()
        readiness = summaries(reads, conn, {r.permit_id: r.version for r in rows}, as_of)
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
            needs_review=bool(r.needs_review),
            version=r.version,
            readiness=readiness.get(r.permit_id),
        )
        for r in rows
    ]
    return PermitPage(
        items=items, page=page, page_size=size, total=count, as_of=as_of, as_of_position=reached
    )


def _filters(reads: ReadSide, q: PermitQuery, as_of: datetime, zone: ZoneInfo) -> list[ColumnElement[bool]]:
    v = reads.views("permit_list")
    p, parties, tags = v["permits"], v["permit_parties"], v["permit_tags"]
    where = common_filters(p, v["conflicts"], q, as_of, zone)
    if q.equipment_tag is not None:
        where.append(exists().where(tags.c.permit_id == p.c.permit_id, tags.c.tag == q.equipment_tag))
    if q.assignee is not None:
        # RM-01: holds a party role, or an open task named to them (RM-09: e.g. the incoming person of a
        # handover), read from the tasks read model.
        tasks = reads.views("tasks")["tasks"]
        named = exists().where(
            tasks.c.permit_id == p.c.permit_id,
            tasks.c.assignee == q.assignee,
            or_(tasks.c.ends_at.is_(None), tasks.c.ends_at > as_of),
        )
        party = exists().where(parties.c.permit_id == p.c.permit_id, parties.c.person_id == q.assignee)
        where.append(or_(party, named))
    if q.needs_review is not None:
        in_review = _in_review(reads, p)
        where.append(in_review if q.needs_review else ~in_review)
    where += readiness_filters(
        reads.views("readiness")["outlooks"],
        p,
        as_of,
        ready_for=q.ready_for,
        blocked=q.blocked,
        blocked_by=q.blocked_by,
    )
    if q.q is not None:
        words = params.terms(q.q)
        where.extend(p.c.search_text.contains(w, autoescape=True) for w in words)
    return where


def _in_review(reads: ReadSide, p: Table) -> Exists:
    """SYNC-07: the permit is on its project's sync review list (the sync ledger projection, by primary key)."""
    review = reads.views("sync_ledger")["review"]
    return exists().where(review.c.permit_id == p.c.permit_id)
