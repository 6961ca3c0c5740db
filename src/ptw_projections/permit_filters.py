"""The RM-01 permit filters shared by the read models that filter permits (the list, the KPIs): parsing the
status list with its aliases (RM-07), the effective status at `as_of` (TIME-05), the range bounds (RM-02)."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import BindParameter, ColumnElement, String, Table, and_, bindparam, exists, func, or_

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
    """TIME-05 for the statuses `wanted`, as `_effective_in` writes it."""
    chosen = set(wanted)
    live = sorted(s.value for s in chosen if s is not Status.EXPIRED)
    return _effective_in(p, live or None, Status.EXPIRED in chosen, as_of)


def _scope(live: list[str], expired: bool) -> list[str]:
    """The recorded statuses of the permits whose effective status is one of `live` or (if `expired`) expired."""
    return sorted({*live, Status.EXPIRED.value, *(s.value for s in EXPIRING)}) if expired else live


def _effective_in(
    p: Any,
    live: list[str] | BindParameter[Any] | None,
    expired: bool,
    as_of: Instant,
    scope: list[str] | BindParameter[Any] | None = None,
) -> ColumnElement[bool]:
    """TIME-05 as conditions the (project, status, expires_at) index serves: each arm is one `status IN (…)`, so
    the planner scans only the index ranges of the statuses asked for (an OR of equalities mixed with the expiry
    test made it scan the project's whole index). `live`: the statuses other than expired asked for (values, or
    an expanding parameter), None for none; `expired`: whether expired is asked for. `scope` (`_scope`), if
    given with `expired`, is required too, and redundantly so: one index range whose entries hold every column
    the arms test, so that a count reads the index alone instead of a bitmap of the arms and the table's rows."""
    arms: list[ColumnElement[bool]] = []
    if live is not None:
        # `expires_at` is set only for the statuses that expire; for the others the test is true.
        arms.append(and_(p.c.status.in_(live), or_(p.c.expires_at.is_(None), p.c.expires_at > as_of)))
    if expired:
        arms.append(
            or_(
                p.c.status == Status.EXPIRED.value,
                and_(p.c.status.in_([s.value for s in EXPIRING]), p.c.expires_at <= as_of),
            )
        )
        if scope is not None:
            return and_(p.c.status.in_(scope), or_(*arms))
    return or_(*arms)


class Bound:
    """Filters split for statements built once per shape (`ReadSide.prepared`): `shape` says which conditions a
    statement has, as hashable entries (name, *form), and `values` what their named parameters take this time."""

    __slots__ = ("shape", "values")

    def __init__(self) -> None:
        self.shape: list[tuple[Any, ...]] = []
        self.values: dict[str, Any] = {}

    def add(self, name: str, value: Any, *form: Any) -> None:
        """The condition `name` (in the variant `form`), whose parameter `name` takes `value`."""
        self.shape.append((name, *form))
        self.values[name] = value


def escaped(text: str) -> str:
    """`text` for a LIKE with ESCAPE '/' that takes it literally (as SQLAlchemy's `autoescape` writes it, which
    needs a literal where a statement built once has a parameter)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _choice(parameter: str, value: str, allowed: type[Any]) -> str:
    try:
        return str(allowed(value.strip().lower()).value)
    except ValueError:
        known = ", ".join(m.value for m in allowed)
        raise InvalidQuery(parameter, f"unknown value {value!r}; use {known}") from None


# The filters that are an equality: parameter -> column.
EQUAL = {
    "template_key": "template_key",
    "category": "category",
    "area": "area",
    "requestor": "requestor",
    "priority": "priority",
    "risk_level": "effective_risk_level",
}
CHOICES: dict[str, type[Any]] = {"priority": Priority, "risk_level": RiskLevel}  # one of these values
# RM-02: the parameters `<name>_from` and `<name>_to` bound these columns.
RANGES = {
    "created": "created_at",
    "planned_start": "planned_start",
    "planned_end": "planned_end",
    "valid_until": "valid_until",
}


def common_values(q: PermitFilters, zone: ZoneInfo) -> Bound:
    """The filters of `q`, validated, as a shape and its parameter values (`common_conditions` builds them)."""
    bound = Bound()
    if q.status is not None:
        chosen = set(statuses(q.status))
        live = sorted(s.value for s in chosen if s is not Status.EXPIRED)
        expired = Status.EXPIRED in chosen
        bound.add("status", live, bool(live), expired)
        bound.values["status_scope"] = _scope(live, expired)
    for parameter in EQUAL:
        value = getattr(q, parameter)
        if value is not None:
            kind = CHOICES.get(parameter)
            bound.add(parameter, value if kind is None else _choice(parameter, value, kind))
    if q.location is not None:
        bound.add("location", escaped(q.location.lower()))
    for name, column in RANGES.items():
        low, high = getattr(q, f"{name}_from"), getattr(q, f"{name}_to")
        if low is not None:
            at, _ = params.bound(f"{name}_from", low, zone, upper=False)
            bound.add(f"{name}_from", at, column, operator.ge)
        if high is not None:
            at, inclusive = params.bound(f"{name}_to", high, zone, upper=True)
            bound.add(f"{name}_to", at, column, operator.le if inclusive else operator.lt)
    if q.has_open_conflict is not None:
        bound.shape.append(("has_open_conflict", q.has_open_conflict))
    return bound


def common_conditions(
    p: Table,
    conflicts: Table,
    shape: Iterable[tuple[Any, ...]],
    as_of: Instant,
    values: Mapping[str, Any] | None = None,
) -> list[ColumnElement[bool]]:
    """The conditions of a `common_values` shape, each value a parameter named as the shape entry: bound to
    `values` if given, else given at execution (a statement built once)."""

    def param(name: str, **kw: Any) -> BindParameter[Any]:
        return bindparam(name, **kw) if values is None else bindparam(name, values[name], **kw)

    where: list[ColumnElement[bool]] = []
    for name, *form in shape:
        if name == "status":
            live, expired = form
            given = param(name, expanding=True) if live else None
            scope = param("status_scope", expanding=True)
            where.append(_effective_in(p, given, expired, as_of, scope))
        elif name in EQUAL:
            where.append(p.c[EQUAL[name]] == param(name))
        elif name == "location":
            where.append(func.lower(p.c.location).contains(param(name, type_=String), escape="/"))
        elif name == "has_open_conflict":
            touching = exists().where(
                or_(conflicts.c.older == p.c.permit_id, conflicts.c.newer == p.c.permit_id),
                conflicts.c.open.is_(True),
            )
            where.append(touching if form[0] else ~touching)
        else:  # a range bound: its column and comparison
            column, compare = form
            where.append(compare(p.c[column], param(name)))
    return where


def common_filters(
    p: Table, conflicts: Table, q: PermitFilters, as_of: datetime, zone: ZoneInfo
) -> list[ColumnElement[bool]]:
    """The filters of `q` as conditions carrying their values, for a statement built per call."""
    bound = common_values(q, zone)
    return common_conditions(p, conflicts, bound.shape, as_of, bound.values)
