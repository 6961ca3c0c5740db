"""A permit's readiness outlook: its next lifecycle action, whether readiness allows it, and until when that answer
holds if nothing is recorded meanwhile (RDY-01, TIME-05).

A read model keeps the outlook so that lists can filter on readiness. Readiness depends on time (gas freshness,
validity, competencies, briefings, the activation window, handover boundaries), so a stored answer is only good
up to the earliest instant at which one of the next action's time-dependent guards could judge differently:
`holds_until`. The instants are taken from the same helpers the guards use; an instant too early only makes a
stored answer stale sooner, never wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import msgspec

from ptw_domain.gas.guards import latest_session
from ptw_domain.handover.shifts import boundaries_between, window
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.expiry import effective_status, expiry_due
from ptw_domain.permit.readiness import FROM_STATUSES, Action, evaluate_action
from ptw_domain.permit.status import Status


class Outlook(msgspec.Struct, frozen=True, kw_only=True):
    """The next action (None for a closed or cancelled permit), whether it is allowed, the rule of each blocker in
    evaluation order, when it was evaluated and until when it holds (None: no instant changes it)."""

    action: Action | None
    allowed: bool
    blockers: tuple[str, ...]
    evaluated_at: datetime
    holds_until: datetime | None


def next_action(status: Status) -> Action | None:
    """The lifecycle action a permit in this (effective) status waits for: the first in section 11 order that
    starts from it (a suspended permit waits to resume; an expired one to be handed back)."""
    return next((action for action in Action if status in FROM_STATUSES[action]), None)


def outlook(ctx: PermitContext) -> Outlook:
    """RDY-01 for the next action only, without an actor (RDY-05): the readiness a list can filter on."""
    action = next_action(effective_status(ctx.state, ctx.template, ctx.now))
    if action is None:
        return Outlook(action=None, allowed=False, blockers=(), evaluated_at=ctx.now, holds_until=None)
    result = evaluate_action(ctx, action, warnings=())
    return Outlook(
        action=action,
        allowed=result.allowed,
        blockers=tuple(b.rule for b in result.blockers),
        evaluated_at=ctx.now,
        holds_until=holds_until(ctx, action),
    )


def holds_until(ctx: PermitContext, action: Action) -> datetime | None:
    """The earliest instant after now at which the action's guards (or the effective status, which picks the
    action) could judge differently without a new event."""
    later = [t for t in _instants(ctx, action) if t > ctx.now]
    return min(later) if later else None


def _instants(ctx: PermitContext, action: Action) -> Iterable[datetime]:
    state, template = ctx.state, ctx.template
    due = expiry_due(state, template)  # TIME-05, LIFE-23: the effective status turns expired
    if due is not None:
        yield due[0]
    start, end = state.content.planned_start, state.content.planned_end
    if action in (Action.SUBMIT, Action.VERIFY, Action.APPROVE):  # LIFE-06: horizon and window end
        yield start - timedelta(days=ctx.project.settings.planning_horizon_days)
        yield end
    if action is Action.ACTIVATE:  # LIFE-17: the activation window
        yield start - timedelta(minutes=template.early_activation_minutes)
        yield state.valid_until
        if template.start_window_hours is not None:
            yield start + timedelta(hours=template.start_window_hours)
        for briefing in state.people.briefings:  # TBT-03: held, then too old
            yield briefing.held_at
            yield briefing.held_at + timedelta(hours=template.tbt_max_age_hours)
    if action in (Action.ACTIVATE, Action.RESUME, Action.COMPLETE):
        yield from _competencies(ctx)  # COMP-04, WRK-04, CSE-01, CLO-02
    if action in (Action.ACTIVATE, Action.RESUME):  # GAS-08: the last passing test goes stale
        latest = latest_session(ctx)
        if latest is not None and latest.completed_at is not None:
            yield latest.completed_at + timedelta(minutes=template.gas_validity_minutes)
    if action is Action.RESUME and state.activated_at is not None:  # HOV-04: the next boundary's grace ends
        _, grace = window(ctx)
        settings = ctx.project.settings
        upcoming = boundaries_between(
            ctx.now - grace, state.valid_until, ctx.project.time_zone, settings.shift_boundaries
        )
        if upcoming:
            yield upcoming[0] + grace


def _competencies(ctx: PermitContext) -> Iterable[datetime]:
    """Every instant a competency record of a worker on the permit starts, ends or is revoked (COMP-02)."""
    for worker in ctx.workers.values():
        for record in worker.competencies:
            yield record.valid_from
            yield record.valid_until
            if record.revoked_at is not None:
                yield record.revoked_at
