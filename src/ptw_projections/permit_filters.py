"""The RM-01 permit filters shared by the read models that filter permits (the list, the KPIs): parsing the
status list with its aliases (RM-07), the effective status at `as_of` (TIME-05), the range bounds (RM-02)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import ColumnElement, Table, and_, exists, func, or_

from ptw_domain.permit.content import Priority
from ptw_domain.permit.status import Status
from ptw_domain.risk import RiskLevel
from ptw_projections import params
from ptw_projections.errors import InvalidQuery

# RM-07: names migrating clients still send; outputs are canonical only.
STATUS_ALIASES = {
    "pending_verification": Status.SUBMITTED,
    "verified": Status.UNDER_REVIEW,
    "pending_approval": Status.UNDER_REVIEW,
    "in_progress": Status.ACTIVE,
}
EXPIRING = (Status.APPROVED, Status.ACTIVE, Status.SUSPENDED)
Instant = datetime | ColumnElement[datetime]  # a value, or a parameter of a statement built once


class PermitFilters(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """RM-01 filters every permit table keeps the columns for, combined with AND, as a query string gives them.
    Tables are expected to have the permit list's column names and a conflicts table with older/newer/open."""

    status: str | None = None
    template_key: str | None = None
    category: str | None = None
    area: str | None = None
    location: str | None = None
    priority: str | None = None
    risk_level: str | None = None
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


def effective_status_in(p: Any, wanted: Iterable[Status], as_of: Instant) -> ColumnElement[bool]:
    """TIME-05 as conditions the (project, status, expires_at) index serves: each arm is one `status IN (…)`, so
    the planner scans only the index ranges of the statuses asked for (an OR of equalities mixed with the expiry
    test made it scan the project's whole index)."""
    chosen = set(wanted)
    arms: list[ColumnElement[bool]] = []
    live = sorted(s.value for s in chosen if s is not Status.EXPIRED)
    if live:
        # `expires_at` is set only for the statuses that expire; for the others the test is true.
        arms.append(and_(p.c.status.in_(live), or_(p.c.expires_at.is_(None), p.c.expires_at > as_of)))
    if Status.EXPIRED in chosen:
        arms.append(
            or_(
                p.c.status == Status.EXPIRED.value,
                and_(p.c.status.in_([s.value for s in EXPIRING]), p.c.expires_at <= as_of),
            )
        )
    return or_(*arms)


def _choice(parameter: str, value: str, allowed: type[Any]) -> str:
    try:
        return str(allowed(value.strip().lower()).value)
    except ValueError:
        known = ", ".join(m.value for m in allowed)
        raise InvalidQuery(parameter, f"unknown value {value!r}; use {known}") from None


def common_filters(
    p: Table, conflicts: Table, q: PermitFilters, as_of: datetime, zone: ZoneInfo
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if q.status is not None:
        where.append(effective_status_in(p, statuses(q.status), as_of))
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
    return where
