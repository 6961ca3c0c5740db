"""States of the isolation area: a point of the library, an isolation (shared by permits), and the permit's own
assignments and personal locks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import msgspec
from msgspec.structs import replace

from ptw_domain.events import isolation as ev
from ptw_domain.events.base import Recorded


class IsolationStatus(StrEnum):
    """ISO-04: states move forward only; `withdrawn` only from assigned."""

    ASSIGNED = "assigned"
    ISOLATED = "isolated"
    VERIFIED = "verified"
    DEISOLATED = "deisolated"
    WITHDRAWN = "withdrawn"


CATEGORY_STRENGTH = {"I": 3, "II": 2, "III": 1}  # ISO-08


class PointState(msgspec.Struct, frozen=True, kw_only=True):
    point_id: UUID
    project_id: UUID
    spec: ev.PointSpec
    version: int
    revision: int = 1
    active: bool = True
    open_isolation: UUID | None = None


class IsolationState(msgspec.Struct, frozen=True, kw_only=True):
    isolation_id: UUID
    project_id: UUID
    point_id: UUID
    point: ev.PointSpec
    version: int
    status: IsolationStatus = IsolationStatus.ASSIGNED
    links: dict[UUID, bool] = msgspec.field(default_factory=dict)  # permit -> required
    isolated_by: str | None = None
    lock_ids: tuple[str, ...] = ()
    lock_owner: str | None = None  # LOCK-03: moved by an acknowledged isolating handover; None: the isolator
    excepted_locks: tuple[str, ...] = ()  # LOCK-02 facts recorded: removable at de-isolation by another
    achieved_category: str | None = None
    isolated_at: datetime | None = None
    verified_by: str | None = None
    operations_held_by: str | None = None

    @property
    def owner(self) -> str | None:
        """LOCK-03: who owns the isolation's locks: the isolator until a handover moved them."""
        return self.lock_owner or self.isolated_by

    @property
    def in_place(self) -> bool:
        return self.status in (IsolationStatus.ISOLATED, IsolationStatus.VERIFIED)


class PointAssignment(msgspec.Struct, frozen=True, kw_only=True):
    point_id: UUID
    isolation_id: UUID
    required: bool


class PersonalLock(msgspec.Struct, frozen=True, kw_only=True):
    lock_id: str
    worker_id: UUID
    applied_at: datetime


class PermitIsolations(msgspec.Struct, frozen=True, kw_only=True):
    assignments: tuple[PointAssignment, ...] = ()
    locks: tuple[PersonalLock, ...] = ()
    ended: tuple[UUID, ...] = ()  # isolations that ended under the permit (LinkedIsolationEnded)

    def assignment(self, point_id: UUID) -> PointAssignment | None:
        return next((a for a in self.assignments if a.point_id == point_id), None)

    def isolation_ids(self) -> list[UUID]:
        return [a.isolation_id for a in self.assignments]


def evolve_point(state: PointState | None, recorded: Recorded[Any]) -> PointState:
    e = recorded.payload
    if isinstance(e, ev.IsolationPointRegistered):
        return PointState(point_id=e.point_id, project_id=e.project_id, spec=e.spec, version=recorded.version)
    assert state is not None, "a point stream starts with IsolationPointRegistered"
    state = replace(state, version=recorded.version)
    if isinstance(e, ev.IsolationPointRevised):
        return replace(state, spec=e.spec, revision=e.revision)
    if isinstance(e, ev.IsolationPointDeactivated):
        return replace(state, active=False)
    if isinstance(e, ev.PointIsolationOpened):
        return replace(state, open_isolation=e.isolation_id)
    if isinstance(e, ev.PointIsolationClosed):
        return replace(state, open_isolation=None)
    raise TypeError(f"not a point event: {recorded.type}")


def evolve_isolation(state: IsolationState | None, recorded: Recorded[Any]) -> IsolationState:
    e = recorded.payload
    if isinstance(e, ev.IsolationOpened):
        return IsolationState(
            isolation_id=e.isolation_id,
            project_id=e.project_id,
            point_id=e.point_id,
            point=e.point,
            version=recorded.version,
        )
    assert state is not None, "an isolation stream starts with IsolationOpened"
    s = replace(state, version=recorded.version)
    if isinstance(e, ev.IsolationLinked):
        return replace(s, links={**s.links, e.permit_id: e.required})
    if isinstance(e, ev.IsolationUnlinked):
        return replace(s, links={p: r for p, r in s.links.items() if p != e.permit_id})
    if isinstance(e, ev.PointIsolated):
        return replace(
            s,
            status=IsolationStatus.ISOLATED,
            isolated_by=e.by,
            lock_ids=e.lock_ids,
            achieved_category=e.achieved_category,
            isolated_at=e.isolated_at,
        )
    if isinstance(e, ev.IsolationVerified):
        return replace(s, status=IsolationStatus.VERIFIED, verified_by=e.by)
    if isinstance(e, ev.IsolationVerificationFailed):
        return s
    if isinstance(e, ev.IsolationLockOwnershipTransferred):
        return replace(s, lock_owner=e.incoming, excepted_locks=())
    if isinstance(e, ev.IsolationLockExceptionRecorded):
        return replace(s, excepted_locks=(*s.excepted_locks, e.lock_id))
    if isinstance(e, ev.PointDeisolated):
        return replace(s, status=IsolationStatus.DEISOLATED, lock_ids=(), lock_owner=None, excepted_locks=())
    if isinstance(e, ev.IsolationWithdrawn):
        return replace(s, status=IsolationStatus.WITHDRAWN)
    if isinstance(e, ev.IsolationTransferredToOperations):
        return replace(s, operations_held_by=e.received_by, links={})
    raise TypeError(f"not an isolation event: {recorded.type}")
