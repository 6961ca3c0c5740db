"""Readiness in the permit list: the filters `ready_for`, `blocked` and `blocked_by`, and the compact summary each
item carries. A stored outlook counts only while it holds at `as_of` (TIME-05, ADR 0014): evaluated at or before
it, not past its `holds_until`, and of the permit version the list shows. Otherwise it is reported stale (no
action, no verdict) and no readiness filter matches it; the readiness endpoint evaluates such a permit live."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    Table,
    Uuid,
    and_,
    any_,
    bindparam,
    exists,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql

from ptw_domain.permit.readiness import GUARD_ORDER, Action
from ptw_projections.errors import InvalidQuery
from ptw_projections.permit_filters import Bound, Instant, escaped
from ptw_projections.reader import ReadSide

RULES = frozenset(rule.lstrip("*") for rules in GUARD_ORDER.values() for rule in rules)


class ReadinessSummary(msgspec.Struct, frozen=True, kw_only=True):
    """RDY-01 for the permit's next action, without an actor. `current` is false when the stored evaluation no
    longer holds at `as_of` (then `next_action`, `allowed` and `blocker_count` are null and `blockers` empty)."""

    current: bool
    next_action: Action | None
    allowed: bool | None
    blocker_count: int | None
    blockers: list[str]  # the rule of each blocker, each once, in evaluation order
    evaluated_at: datetime
    holds_until: datetime | None


def holds(o: Table, p: Table, as_of: Instant) -> ColumnElement[bool]:
    """The stored outlook is the permit's readiness at `as_of`."""
    return and_(
        o.c.version == p.c.version,
        o.c.evaluated_at <= as_of,
        or_(o.c.holds_until.is_(None), o.c.holds_until > as_of),
    )


def readiness_values(*, ready_for: str | None, blocked: bool | None, blocked_by: str | None) -> Bound:
    """`ready_for`: the next action is that one and allowed; `blocked`: the next action is refused (true) or
    allowed (false); `blocked_by`: a blocker cites that rule. Validated, as the shape and parameter values
    `readiness_conditions` builds."""
    bound = Bound()
    if ready_for is not None:
        try:
            action = Action(ready_for.strip().lower())
        except ValueError:
            known = ", ".join(a.value for a in Action)
            raise InvalidQuery("ready_for", f"unknown action {ready_for!r}; use {known}") from None
        bound.add("ready_for", action.value)
    if blocked is not None:
        bound.shape.append(("blocked", blocked))
    if blocked_by is not None:
        rule = blocked_by.strip().upper()
        if rule not in RULES:
            raise InvalidQuery(
                "blocked_by", f"unknown rule {blocked_by!r}; use a rule of the readiness table"
            )
        bound.add("blocked_by", escaped(f",{rule},"))
    return bound


def readiness_conditions(
    o: Table, p: Table, as_of: Instant, shape: Iterable[tuple[Any, ...]]
) -> list[ColumnElement[bool]]:
    """The conditions of a `readiness_values` shape: each only for an outlook that holds at `as_of`."""
    conditions: list[ColumnElement[bool]] = []
    for name, *form in shape:
        if name == "ready_for":
            conditions += [o.c.next_action == bindparam("ready_for"), o.c.allowed.is_(True)]
        elif name == "blocked":
            conditions += [o.c.next_action.is_not(None), o.c.allowed.is_(not form[0])]
        else:
            conditions.append(o.c.blockers.contains(bindparam("blocked_by", type_=String), escape="/"))
    if not conditions:
        return []
    return [exists().where(o.c.permit_id == p.c.permit_id, holds(o, p, as_of), *conditions)]


def summaries(
    reads: ReadSide, conn: Connection, versions: Mapping[UUID, int], as_of: datetime
) -> dict[UUID, ReadinessSummary]:
    """The summaries of a page's permits (by id, with the version the page lists), by primary key: a second short
    statement rather than a join, so that a sort over a whole project never carries the outlooks along (joined
    to the page's rows after its limit, it cost more to plan than the round trip it saves)."""
    if not versions:
        return {}
    statement = reads.prepared(
        "readiness_summaries", lambda: _by_ids(reads.views("readiness")["outlooks"], reads.db.is_postgres)
    )
    rows = conn.execute(statement, {"ids": list(versions)}).all()
    return {row[0]: _summary(versions[row[0]], as_of, *row[1:]) for row in rows}


def _by_ids(o: Table, postgres: bool) -> Select[Any]:
    """The columns `_summary` takes (not the outlook's folded state), by permit id. On PostgreSQL the ids go as
    one array (`= ANY`): one statement text for any page, prepared once and planned generically, where an
    expanding IN is a new text per page length, rendered by SQLAlchemy and planned anew on every call (0.83
    against 1.08 ms a page of 22 at p50, interleaved). SQLite has no arrays."""
    shown = ("version", "next_action", "allowed", "blockers", "blocker_count", "evaluated_at", "holds_until")
    ids = (
        o.c.permit_id == any_(bindparam("ids", type_=postgresql.ARRAY(Uuid())))
        if postgres
        else o.c.permit_id.in_(bindparam("ids", expanding=True))
    )
    return select(o.c.permit_id, *(o.c[name] for name in shown)).where(ids)


def _summary(
    listed: int,
    as_of: datetime,
    version: int,
    next_action: str | None,
    allowed: bool,
    blockers: str,
    blocker_count: int,
    evaluated_at: datetime,
    holds_until: datetime | None,
) -> ReadinessSummary:
    current = version == listed and evaluated_at <= as_of and (holds_until is None or holds_until > as_of)
    rules = [r for r in blockers.split(",") if r] if current else []
    return ReadinessSummary(
        current=current,
        next_action=Action(next_action) if current and next_action else None,
        allowed=allowed if current else None,
        blocker_count=blocker_count if current else None,
        blockers=list(dict.fromkeys(rules)),
        evaluated_at=evaluated_at,
        holds_until=holds_until,
    )
