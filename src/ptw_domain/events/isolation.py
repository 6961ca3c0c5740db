"""Isolation and lockout events (section 7): the point library, isolations (their own streams, shared by the
permits that use a point), assignments and personal locks on the permit stream, lock flags on the worker stream.

Beyond the specification's catalogue (ADR 0008): `PointIsolationOpened`/`PointIsolationClosed` keep, on the
point's stream, which isolation is open (ISO-03, race-free), `LinkedIsolationEnded` puts the end of an isolation on
every linked permit's own record (and makes de-isolation and activation conflict), `LinkedIsolationLockExcepted`
does the same for a LOCK-02 exception on an isolation lock, and `WorkerFlaggedForLockRemoval` carries the LOCK-04
flag on the worker's stream (for a personal lock and for an isolation lock removed at de-isolation).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from ptw_domain.events.base import DomainEvent
from ptw_domain.events.people import WorkerEvent
from ptw_domain.events.permit import PermitEvent


class PointSpec(msgspec.Struct, frozen=True, kw_only=True):
    """ISO-01: an isolation point of the project library."""

    point_code: str
    point_type: str
    energy_type: str
    energy_source_id: str | None = None
    area: str
    equipment_tag: str | None = None
    location: str = ""
    required_locks: int = 1
    tag_required: bool = True
    verification_method: str
    achievable_category: str


class PointEvent(DomainEvent, frozen=True, kw_only=True):
    stream = "isolation_point"
    abstract = True


class IsolationPointRegistered(PointEvent, frozen=True, kw_only=True):
    point_id: UUID
    project_id: UUID
    spec: PointSpec
    registered_by: str


class IsolationPointRevised(PointEvent, frozen=True, kw_only=True):
    spec: PointSpec
    revision: int
    revised_by: str


class IsolationPointDeactivated(PointEvent, frozen=True, kw_only=True):
    deactivated_by: str


class PointIsolationOpened(PointEvent, frozen=True, kw_only=True):
    isolation_id: UUID


class PointIsolationClosed(PointEvent, frozen=True, kw_only=True):
    isolation_id: UUID
    how: str  # deisolated | withdrawn


class IsolationEvent(DomainEvent, frozen=True, kw_only=True):
    stream = "isolation"
    abstract = True


class IsolationOpened(IsolationEvent, frozen=True, kw_only=True):
    isolation_id: UUID
    project_id: UUID
    point_id: UUID
    point: PointSpec  # the point as it was when the isolation opened


class IsolationLinked(IsolationEvent, frozen=True, kw_only=True):
    permit_id: UUID
    required: bool


class IsolationUnlinked(IsolationEvent, frozen=True, kw_only=True):
    permit_id: UUID


class PointIsolated(IsolationEvent, frozen=True, kw_only=True):
    by: str
    lock_ids: tuple[str, ...]
    tag: str | None
    method: str
    achieved_category: str
    isolated_at: datetime
    competency_ids: tuple[UUID, ...] = ()


class IsolationVerified(IsolationEvent, frozen=True, kw_only=True):
    by: str
    method: str
    verified_at: datetime


class IsolationVerificationFailed(IsolationEvent, frozen=True, kw_only=True):
    by: str
    method: str
    verified_at: datetime
    notes: str


class PointDeisolated(IsolationEvent, frozen=True, kw_only=True):
    by: str
    locks_removed: tuple[str, ...]
    # ISO-13: `owner` (the de-isolator owns the locks) or `exception` (LOCK-02 facts were recorded for each);
    # None on de-isolations recorded before lock ownership was checked.
    method: str | None = None


class IsolationLockOwnershipTransferred(IsolationEvent, frozen=True, kw_only=True):
    """LOCK-03/HOV-04: an acknowledged `isolating` handover on a linked permit moved the locks to `incoming`."""

    lock_ids: tuple[str, ...]
    outgoing: str
    incoming: str
    permit_id: UUID
    handover_id: UUID


class IsolationLockExceptionRecorded(IsolationEvent, frozen=True, kw_only=True):
    """LOCK-02 for an isolation lock: the three facts that let someone other than the owner remove the lock at
    de-isolation (ISO-13), recorded through the linked permit `permit_id` or, without one, on the isolation
    itself (`RecordIsolationLockException`)."""

    lock_id: str
    owner: str
    verified_absent_by: str
    verified_absent_at: datetime
    contact_attempts: str
    contacted_at: datetime
    will_inform_before_resuming: bool
    recorded_by: str
    permit_id: UUID | None = None


class IsolationWithdrawn(IsolationEvent, frozen=True, kw_only=True):
    by: str


class IsolationTransferredToOperations(IsolationEvent, frozen=True, kw_only=True):
    received_by: str
    reason: str


class IsolationPointAssigned(PermitEvent, frozen=True, kw_only=True):
    point_id: UUID
    isolation_id: UUID
    required: bool
    assigned_by: str


class IsolationPointUnassigned(PermitEvent, frozen=True, kw_only=True):
    point_id: UUID
    isolation_id: UUID
    unassigned_by: str


class LinkedIsolationEnded(PermitEvent, frozen=True, kw_only=True):
    isolation_id: UUID
    point_id: UUID
    how: str  # deisolated | withdrawn | transferred_to_operations


class LinkedIsolationLockExcepted(PermitEvent, frozen=True, kw_only=True):
    """The permit's own record of a LOCK-02 exception on a lock of its isolation (the facts are on the
    isolation's stream, `IsolationLockExceptionRecorded`)."""

    isolation_id: UUID
    lock_id: str
    owner: str


class PersonalLockApplied(PermitEvent, frozen=True, kw_only=True):
    lock_id: str
    worker_id: UUID
    competency_ids: tuple[UUID, ...] = ()


class PersonalLockRemoved(PermitEvent, frozen=True, kw_only=True):
    lock_id: str
    worker_id: UUID
    by: str
    method: str  # owner | exception


class LockRemovalExceptionRecorded(PermitEvent, frozen=True, kw_only=True):
    """LOCK-02: the three facts recorded before a lock is removed by someone other than its applier."""

    lock_id: str
    applier_worker_id: UUID
    verified_absent_by: str
    verified_absent_at: datetime
    contact_attempts: str
    contacted_at: datetime
    will_inform_before_resuming: bool
    recorded_by: str


class WorkerFlaggedForLockRemoval(WorkerEvent, frozen=True, kw_only=True):
    """LOCK-04: a lock of the worker was removed by exception: their personal lock on `permit_id`, or a lock of
    `isolation_id` they owned, removed at its de-isolation."""

    permit_id: UUID | None = None
    isolation_id: UUID | None = None
    lock_id: str


class LockRemovalAcknowledged(WorkerEvent, frozen=True, kw_only=True):
    acknowledged_at: datetime


class ProjectLockEvent(DomainEvent, frozen=True, kw_only=True):
    """LOCK-06: the project's register of applied lock ids (one stream per project, not in the specification's
    catalogue), written in the same save as the act that applies or frees the locks."""

    stream = "project_locks"
    abstract = True
    project_id: UUID
    holder: UUID  # the permit (a personal lock) or the isolation (its locks) the ids are applied on
    lock_ids: tuple[str, ...]


class LockIdsApplied(ProjectLockEvent, frozen=True, kw_only=True):
    pass


class LockIdsFreed(ProjectLockEvent, frozen=True, kw_only=True):
    pass
