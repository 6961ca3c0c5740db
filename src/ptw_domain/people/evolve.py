"""Folding the permit-stream people events into `PermitState.people`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec.structs import replace

from ptw_domain.events import people as ev
from ptw_domain.events.base import Recorded
from ptw_domain.people.state import Assignment, Briefing, PermitRole
from ptw_domain.permit.state import PermitState


def _people(s: PermitState, **changes: Any) -> PermitState:
    return replace(s, people=replace(s.people, **changes))


def _assigned(s: PermitState, e: ev.WorkerAssigned, r: Recorded[Any]) -> PermitState:
    roles = tuple(PermitRole(role) for role in e.permit_roles)
    others = tuple(a for a in s.people.assignments if a.worker_id != e.worker_id)
    existing = s.people.assignment(e.worker_id)
    since = existing.assigned_at if existing else r.occurred_at
    return _people(
        s, assignments=(*others, Assignment(worker_id=e.worker_id, permit_roles=roles, assigned_at=since))
    )


def _released(s: PermitState, e: ev.WorkerReleased, r: Recorded[Any]) -> PermitState:
    p = s.people
    return _people(
        s,
        assignments=tuple(a for a in p.assignments if a.worker_id != e.worker_id),
        attendants_on_duty=tuple(w for w in p.attendants_on_duty if w != e.worker_id),
        fire_watch=None if p.fire_watch == e.worker_id else p.fire_watch,
    )


def _briefed(s: PermitState, e: ev.ToolboxTalkHeld, r: Recorded[Any]) -> PermitState:
    briefing = Briefing(tbt_id=e.tbt_id, conductor=e.conductor, held_at=e.held_at, topics=e.topics)
    return _people(s, briefings=(*s.people.briefings, briefing))


def _attended(s: PermitState, e: ev.ToolboxTalkAttended, r: Recorded[Any]) -> PermitState:
    briefings = tuple(
        replace(b, attended={**b.attended, e.worker_id: e.acknowledged_at}) if b.tbt_id == e.tbt_id else b
        for b in s.people.briefings
    )
    return _people(s, briefings=briefings)


def _posted(s: PermitState, e: ev.AttendantPosted, r: Recorded[Any]) -> PermitState:
    on_duty = tuple(w for w in s.people.attendants_on_duty if w != e.worker_id)
    return _people(s, attendants_on_duty=(*on_duty, e.worker_id) if e.on_duty else on_duty)


def _entered(s: PermitState, e: ev.EntrantEntered, r: Recorded[Any]) -> PermitState:
    return _people(s, inside=(*s.people.inside, e.worker_id))


def _exited(s: PermitState, e: ev.EntrantExited, r: Recorded[Any]) -> PermitState:
    return _people(s, inside=tuple(w for w in s.people.inside if w != e.worker_id))


def _fire_watch(s: PermitState, e: ev.FireWatchAssigned, r: Recorded[Any]) -> PermitState:
    """The fire watch is an assigned worker in the fire_watch role (WRK-02), so briefings include them (TBT-03)."""
    existing = s.people.assignment(e.worker_id)
    roles = tuple(dict.fromkeys((*(existing.permit_roles if existing else ()), PermitRole.FIRE_WATCH)))
    since = existing.assigned_at if existing else r.occurred_at
    others = tuple(a for a in s.people.assignments if a.worker_id != e.worker_id)
    assignment = Assignment(worker_id=e.worker_id, permit_roles=roles, assigned_at=since)
    return _people(s, fire_watch=e.worker_id, assignments=(*others, assignment))


def _fire_watch_done(s: PermitState, e: ev.FireWatchCompleted, r: Recorded[Any]) -> PermitState:
    return _people(s, fire_watch_completed_at=r.occurred_at, fire_watch_minutes_kept=e.minutes)


PEOPLE_EVOLVERS: dict[type[Any], Callable[[Any, Any, Recorded[Any]], PermitState]] = {
    ev.WorkerAssigned: _assigned,
    ev.WorkerReleased: _released,
    ev.ToolboxTalkHeld: _briefed,
    ev.ToolboxTalkAttended: _attended,
    ev.AttendantPosted: _posted,
    ev.EntrantEntered: _entered,
    ev.EntrantExited: _exited,
    ev.FireWatchAssigned: _fire_watch,
    ev.FireWatchCompleted: _fire_watch_done,
}
