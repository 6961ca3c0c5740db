"""RDY-07 figures of the people area: workers briefed and competent, people inside, fire-watch minutes left."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ptw_domain.people.facts import assigned_facts
from ptw_domain.permit.context import PermitContext


def people_progress(ctx: PermitContext) -> dict[str, Any]:
    state = ctx.state
    people = state.people
    facts = assigned_facts(ctx)
    briefed = sum(f.briefed for f in facts)
    competent = sum(not f.missing for f in facts)
    minutes_left = None
    if state.fire_watch_started_at is not None and state.fire_watch_minutes is not None:
        if people.fire_watch_completed_at is None:
            ends = state.fire_watch_started_at + timedelta(minutes=state.fire_watch_minutes)
            minutes_left = max(0, round((ends - ctx.now).total_seconds() / 60))
        else:
            minutes_left = 0
    return {
        "workers": {"assigned": len(facts), "briefed": briefed, "competent": competent},
        "people_inside": len(people.inside),
        "attendants_on_duty": len(people.attendants_on_duty),
        "fire_watch_minutes_left": minutes_left,
    }
