"""Readiness in the permit list: the filters `ready_for`, `blocked` and `blocked_by`, and the compact summary each
item carries. A stored outlook counts only while it holds at `as_of` (TIME-05, ADR 0014): evaluated at or before
it, not past its `holds_until`, and of the permit version the list shows. Otherwise it is reported stale (no
action, no verdict) and no readiness filter matches it; the readiness endpoint evaluates such a permit live."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import ColumnElement, Connection, Select, Table, and_, bindparam, exists, or_, select

from ptw_domain.permit.readiness import GUARD_ORDER, Action
from ptw_projections.errors import InvalidQuery
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


def holds(o: Table, p: Table, as_of: datetime) -> ColumnElement[bool]:
    """The stored outlook is the permit's readiness at `as_of`."""
    return and_(
        o.c.version == p.c.version,
        o.c.evaluated_at <= as_of,
        or_(o.c.holds_until.is_(None), o.c.holds_until > as_of),
    )


def readiness_filters(
    o: Table,
    p: Table,
    as_of: datetime,
    *,
    ready_for: str | None,
    blocked: bool | None,
    blocked_by: str | None,
) -> list[ColumnElement[bool]]:
    """`ready_for`: the next action is that one and allowed; `blocked`: the next action is refused (true) or
    allowed (false); `blocked_by`: a blocker cites that rule. Each only for an outlook that holds at `as_of`."""
    conditions: list[ColumnElement[bool]] = []
    if ready_for is not None:
        try:
            action = Action(ready_for.strip().lower())
        except ValueError:
            known = ", ".join(a.value for a in Action)
            raise InvalidQuery("ready_for", f"unknown action {ready_for!r}; use {known}") from None
        conditions += [o.c.next_action == action.value, o.c.allowed.is_(True)]
    if blocked is not None:
        conditions += [o.c.next_action.is_not(None), o.c.allowed.is_(not blocked)]
    if blocked_by is not None:
        rule = blocked_by.strip().upper()
        if rule not in RULES:
            raise InvalidQuery(
                "blocked_by", f"unknown rule {blocked_by!r}; use a rule of the readiness table"
            )
        conditions.append(o.c.blockers.contains(f",{rule},", autoescape=True))
    if not conditions:
        return []
    return [exists().where(o.c.permit_id == p.c.permit_id, holds(o, p, as_of), *conditions)]


def summaries(
    reads: ReadSide, conn: Connection, versions: Mapping[UUID, int], as_of: datetime
) -> dict[UUID, ReadinessSummary]:
    """The summaries of a page's permits (by id, with the version the page lists), by primary key: a second short
    statement rather than a join, so that a sort over a whole project never carries the outlooks along."""
    if not versions:
        return {}
    statement = reads.prepared("readiness_summaries", lambda: _by_ids(reads.views("readiness")["outlooks"]))
    rows = conn.execute(statement, {"ids": list(versions)}).all()
    return {row.permit_id: _summary(row, versions[row.permit_id], as_of) for row in rows}


def _by_ids(o: Table) -> Select[Any]:
    return select(o).where(o.c.permit_id.in_(bindparam("ids", expanding=True)))


def _summary(row: Any, version: int, as_of: datetime) -> ReadinessSummary:
    until = row.holds_until
    current = row.version == version and row.evaluated_at <= as_of and (until is None or until > as_of)
    rules = [r for r in row.blockers.split(",") if r] if current else []
    return ReadinessSummary(
        current=current,
        next_action=Action(row.next_action) if current and row.next_action else None,
        allowed=row.allowed if current else None,
        blocker_count=row.blocker_count if current else None,
        blockers=list(dict.fromkeys(rules)),
        evaluated_at=row.evaluated_at,
        holds_until=until,
    )
