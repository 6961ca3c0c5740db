"""Permit list and search (RM-01..05, RM-07) as a typed query; time-dependent values for an explicit as_of."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache, partial
from typing import Any, NamedTuple
from uuid import UUID

import msgspec
from sqlalchemy import (
    ColumnElement,
    Exists,
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
)

from ptw_domain.permit.content import Priority
from ptw_domain.permit.status import Status
from ptw_domain.risk import RiskLevel
from ptw_projections import params
from ptw_projections.errors import InvalidQuery
from ptw_projections.permit_filters import Bound, PermitFilters, common_conditions, common_values, escaped
from ptw_projections.reader import ReadSide
from ptw_projections.readiness.query import (
    ReadinessSummary,
    readiness_conditions,
    readiness_values,
    summaries,
)
from ptw_projections.types import UtcDateTime

# RM-03: the sort keys and the column each sorts by; `status` sorts by the effective status in lifecycle order
# (draft first, cancelled last), not by name.
SORTS = {
    "created_at": "created_at",
    "planned_start": "planned_start",
    "planned_end": "planned_end",
    "valid_until": "valid_until",
    "risk_score": "risk_score",
    "number": "number",
    "priority": "priority_rank",
    "status": "status",
}
LIFECYCLE_ORDER = {status.value: rank for rank, status in enumerate(Status)}
# The columns of the permits table an item shows, in the order a page's rows carry them.
LISTED = (
    "permit_id",
    "number",
    "title",
    "category",
    "template_key",
    "template_version",
    "status",
    "priority",
    "risk_score",
    "risk_level",
    "effective_risk_level",
    "area",
    "location",
    "planned_start",
    "planned_end",
    "valid_until",
    "performing_authority",
    "requestor",
    "version",
)
VERSION = LISTED.index("version")
# Enum members by value: a dict lookup, where calling the enum is a slow path of the enum machinery.
STATUSES = {s.value: s for s in Status}
PRIORITIES = {p.value: p for p in Priority}
RISK_LEVELS = {r.value: r for r in RiskLevel}
# The query shapes whose statements a read side keeps (the filters combine into many; a search has any number of
# terms), the most recently used.
SHAPES = 256
_AS_OF = bindparam("as_of", type_=UtcDateTime)


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
    page, size = params.paging(query.page, query.page_size)
    key, descending = params.sort_key(query.sort, SORTS)
    with reads.connect() as conn:
        zone = reads.time_zone(project_id, conn)
        common = common_values(query, zone)
        own = _values(query)
        ready = readiness_values(
            ready_for=query.ready_for, blocked=query.blocked, blocked_by=query.blocked_by
        )
        shape = (tuple(common.shape), tuple(own.shape), tuple(ready.shape), key, descending)
        shapes = reads.prepared("permit_list.shapes", lambda: lru_cache(SHAPES)(partial(_build, reads)))
        statements = shapes(shape)
        values = {
            **common.values,
            **own.values,
            **ready.values,
            "project_id": project_id,
            "as_of": as_of,
            "size": size,
            "skip": (page - 1) * size,
        }
        rows = conn.execute(statements.page, values).all()
        if rows:
            count, reached = rows[0][-2:]
        else:  # past the last page (or nothing matches): the figures alone
            count, reached = conn.execute(statements.figures, values).one()
        readiness = summaries(reads, conn, {r[0]: r[VERSION] for r in rows}, as_of)
    # Rows unpacked by position (in `LISTED` order, then the computed columns): reading two dozen fields of fifty
    # rows by name cost more than the rest of the call.
    items = [
        PermitListItem(
            id=permit_id,
            number=number,
            title=title,
            category=category,
            template_key=template_key,
            template_version=template_version,
            status=STATUSES[status],
            effective_status=STATUSES[effective],
            priority=PRIORITIES[priority],
            risk_score=risk_score,
            risk_level=RISK_LEVELS[risk_level],
            effective_risk_level=RISK_LEVELS[effective_risk_level],
            area=area,
            location=location,
            planned_start=planned_start,
            planned_end=planned_end,
            valid_until=valid_until,
            performing_authority=performing_authority,
            requestor=requestor,
            open_conflicts=open_conflicts,
            needs_review=bool(needs_review),
            version=version,
            readiness=readiness.get(permit_id),
        )
        for (
            permit_id,
            number,
            title,
            category,
            template_key,
            template_version,
            status,
            priority,
            risk_score,
            risk_level,
            effective_risk_level,
            area,
            location,
            planned_start,
            planned_end,
            valid_until,
            performing_authority,
            requestor,
            version,
            effective,
            open_conflicts,
            needs_review,
            _total,
            _position,
        ) in rows
    ]
    return PermitPage(
        items=items, page=page, page_size=size, total=count, as_of=as_of, as_of_position=reached
    )


class _Statements(NamedTuple):
    page: Select[Any]  # the page's rows, each with the total and the position it reflects
    figures: Select[Any]  # the total and the position alone, for a page past the last


def _build(reads: ReadSide, shape: tuple[Any, ...]) -> _Statements:
    """The statements of one query shape (filters, sort key, direction), every value a named parameter, so that a
    call neither builds nor compiles SQL (SQLAlchemy finds the compiled form in its cache)."""
    common, own, ready, key, descending = shape
    v = reads.views("permit_list")
    p, conflicts = v["permits"], v["conflicts"]
    effective = case(
        (and_(p.c.expires_at.is_not(None), p.c.expires_at <= _AS_OF), "expired"), else_=p.c.status
    )
    if key == "status":
        sort: Any = case(LIFECYCLE_ORDER, value=effective, else_=len(LIFECYCLE_ORDER))
    else:
        sort = p.c[SORTS[key]]
    open_of = or_(conflicts.c.older == p.c.permit_id, conflicts.c.newer == p.c.permit_id)
    open_count = (
        select(func.count()).where(open_of, conflicts.c.open.is_(True)).correlate(p).scalar_subquery()
    )
    where = [
        p.c.project_id == bindparam("project_id", type_=p.c.project_id.type),
        *common_conditions(p, conflicts, common, _AS_OF),
        *_conditions(reads, p, own),
        *readiness_conditions(reads.views("readiness")["outlooks"], p, _AS_OF, ready),
    ]
    total = select(func.count()).select_from(p).where(*where).scalar_subquery()
    position = reads.catalogue.live_position("permit_list")
    # One statement, one round trip: the page, the total and the position it reflects (RM-04, RM-08).
    page = (
        select(
            *(p.c[name] for name in LISTED),
            effective.label("effective_status"),
            open_count.label("open_conflicts"),
            _in_review(reads, p).label("needs_review"),
            total.label("total"),
            position.label("as_of_position"),
        )
        .where(*where)
        .order_by(sort.desc() if descending else sort.asc(), p.c.number.asc())
        .limit(bindparam("size", type_=Integer))
        .offset(bindparam("skip", type_=Integer))
    )
    return _Statements(page=page, figures=select(total, position))


def _values(q: PermitQuery) -> Bound:
    """The list's own filters (beyond `common_values`), as the shape and values `_conditions` builds."""
    bound = Bound()
    if q.equipment_tag is not None:
        bound.add("equipment_tag", q.equipment_tag)
    if q.assignee is not None:
        bound.add("assignee", q.assignee)
    if q.needs_review is not None:
        bound.shape.append(("needs_review", q.needs_review))
    if q.q is not None:
        for i, word in enumerate(params.terms(q.q)):
            bound.add(f"term_{i}", escaped(word))
    return bound


def _conditions(reads: ReadSide, p: Table, shape: tuple[tuple[Any, ...], ...]) -> list[ColumnElement[bool]]:
    v = reads.views("permit_list")
    parties, tags = v["permit_parties"], v["permit_tags"]
    where: list[ColumnElement[bool]] = []
    for name, *form in shape:
        if name == "equipment_tag":
            where.append(exists().where(tags.c.permit_id == p.c.permit_id, tags.c.tag == bindparam(name)))
        elif name == "assignee":
            # RM-01: holds a party role, or an open task named to them (RM-09: e.g. the incoming person of a
            # handover), read from the tasks read model.
            tasks = reads.views("tasks")["tasks"]
            named = exists().where(
                tasks.c.permit_id == p.c.permit_id,
                tasks.c.assignee == bindparam(name),
                or_(tasks.c.ends_at.is_(None), tasks.c.ends_at > _AS_OF),
            )
            party = exists().where(
                parties.c.permit_id == p.c.permit_id, parties.c.person_id == bindparam(name)
            )
            where.append(or_(party, named))
        elif name == "needs_review":
            in_review = _in_review(reads, p)
            where.append(in_review if form[0] else ~in_review)
        else:  # a search term
            where.append(p.c.search_text.contains(bindparam(name, type_=String), escape="/"))
    return where


def _in_review(reads: ReadSide, p: Table) -> Exists:
    """SYNC-07: the permit is on its project's sync review list (the sync ledger projection, by primary key)."""
    review = reads.views("sync_ledger")["review"]
    return exists().where(review.c.permit_id == p.c.permit_id)
