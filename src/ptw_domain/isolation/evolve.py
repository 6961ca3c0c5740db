"""Folding the permit-stream isolation and lock events into `PermitState.isolations`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec.structs import replace

from ptw_domain.events import isolation as ev
from ptw_domain.events.base import Recorded
from ptw_domain.isolation.state import PersonalLock, PointAssignment
from ptw_domain.permit.state import PermitState


def _iso(s: PermitState, **changes: Any) -> PermitState:
    return replace(s, isolations=replace(s.isolations, **changes))


def _assigned(s: PermitState, e: ev.IsolationPointAssigned, r: Recorded[Any]) -> PermitState:
    assignment = PointAssignment(point_id=e.point_id, isolation_id=e.isolation_id, required=e.required)
    others = tuple(a for a in s.isolations.assignments if a.point_id != e.point_id)
    return _iso(s, assignments=(*others, assignment))


def _unassigned(s: PermitState, e: ev.IsolationPointUnassigned, r: Recorded[Any]) -> PermitState:
    return _iso(s, assignments=tuple(a for a in s.isolations.assignments if a.point_id != e.point_id))


def _ended(s: PermitState, e: ev.LinkedIsolationEnded, r: Recorded[Any]) -> PermitState:
    return _iso(s, ended=(*s.isolations.ended, e.isolation_id))


def _locked(s: PermitState, e: ev.PersonalLockApplied, r: Recorded[Any]) -> PermitState:
    lock = PersonalLock(lock_id=e.lock_id, worker_id=e.worker_id, applied_at=r.occurred_at)
    return _iso(s, locks=(*s.isolations.locks, lock))


def _unlocked(s: PermitState, e: ev.PersonalLockRemoved, r: Recorded[Any]) -> PermitState:
    return _iso(s, locks=tuple(lock for lock in s.isolations.locks if lock.lock_id != e.lock_id))


def _exception(s: PermitState, e: Any, r: Recorded[Any]) -> PermitState:
    """A LOCK-02 exception record; the removal (or, for an isolation lock, the de-isolation) changes the state."""
    return s


ISOLATION_EVOLVERS: dict[type[Any], Callable[[Any, Any, Recorded[Any]], PermitState]] = {
    ev.IsolationPointAssigned: _assigned,
    ev.IsolationPointUnassigned: _unassigned,
    ev.LinkedIsolationEnded: _ended,
    ev.PersonalLockApplied: _locked,
    ev.PersonalLockRemoved: _unlocked,
    ev.LockRemovalExceptionRecorded: _exception,
    ev.LinkedIsolationLockExcepted: _exception,
}
