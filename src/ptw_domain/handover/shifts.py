"""Shift boundaries in time (HOV-01): the project's `shift_boundaries` are wall-clock times in its time zone,
turned here into UTC instants, so daylight-saving changes move the instants and not the shifts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.state import PermitState
from ptw_domain.permit.status import LIVE, Status


def boundaries_between(
    after: datetime, until: datetime, time_zone: str, shift_boundaries: tuple[str, ...]
) -> list[datetime]:
    """The boundary instants b with after < b <= until, in order."""
    if until <= after:
        return []
    zone = ZoneInfo(time_zone)
    first, last = after.astimezone(zone).date(), until.astimezone(zone).date()
    times = sorted(time.fromisoformat(b) for b in shift_boundaries)
    out = []
    day = first - timedelta(days=1)
    while day <= last + timedelta(days=1):
        for t in times:
            instant = datetime.combine(day, t, tzinfo=zone).astimezone(UTC)
            if after < instant <= until:
                out.append(instant)
        day += timedelta(days=1)
    return sorted(set(out))


def window(ctx: PermitContext) -> tuple[timedelta, timedelta]:
    """HOV-02/03: how long before a boundary a handover may be recorded, and the grace after it."""
    settings = ctx.project.settings
    return timedelta(minutes=settings.handover_window_minutes), timedelta(
        minutes=settings.handover_grace_minutes
    )


def boundary_at(ctx: PermitContext, instant: datetime) -> datetime | None:
    """The boundary whose handover window [b - window, b + grace) holds `instant`, if any (the earliest)."""
    before, grace = window(ctx)
    settings, zone = ctx.project.settings, ctx.project.time_zone
    found = boundaries_between(instant - grace, instant + before, zone, settings.shift_boundaries)
    return found[0] if found else None


def status_at(state: PermitState, instant: datetime) -> Status | None:
    """The recorded status at `instant` (the last status change at or before it)."""
    status = None
    for change in state.history:
        if change.at > instant:
            break
        status = change.status
    return status


def due_boundaries(ctx: PermitContext) -> list[datetime]:
    """HOV-01/03: the boundaries after activation at which the permit was live (and within its validity), whose
    grace has ended by now: for each, a performing handover had to be acknowledged."""
    state = ctx.state
    if state.activated_at is None:
        return []
    _, grace = window(ctx)
    settings = ctx.project.settings
    found = boundaries_between(
        state.activated_at, ctx.now - grace, ctx.project.time_zone, settings.shift_boundaries
    )
    return [b for b in found if b < state.valid_until and status_at(state, b) in LIVE]


def missed_boundaries(ctx: PermitContext) -> list[datetime]:
    """HOV-03 judged at now, whether the sweep has recorded it yet or not (TIME-05): so readiness and the command
    that first records the fact agree (RDY-04)."""
    _, grace = window(ctx)
    handovers = ctx.state.handover
    recorded = list(handovers.missed)
    due = [b for b in due_boundaries(ctx) if not handovers.satisfied(b, b + grace)]
    return sorted(set(recorded) | set(due))


def owed_boundary(ctx: PermitContext) -> datetime | None:
    """HOV-01/04: the earliest boundary after activation, within the validity and while live, that no acknowledged
    performing handover (for it or a later boundary) has cleared: the handover the permit owes, due at that
    boundary and missed at it plus the grace. It does not depend on `ctx.now`, so a read model can keep it and
    compare it with any instant (TIME-05). None when the permit is not live or owes nothing within its validity."""
    state = ctx.state
    if state.status not in LIVE or state.activated_at is None:
        return None
    settings = ctx.project.settings
    found = boundaries_between(
        state.activated_at, state.valid_until, ctx.project.time_zone, settings.shift_boundaries
    )
    return next(
        (
            b
            for b in found
            if b < state.valid_until and status_at(state, b) in LIVE and not state.handover.cleared(b)
        ),
        None,
    )
