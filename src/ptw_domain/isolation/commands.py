"""Commands of the isolation area (section 7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from msgspec import Meta

from ptw_domain.commands import Command, PermitCommand, Reason
from ptw_domain.events.isolation import PointSpec
from ptw_domain.permit.content import Short

LockIds = Annotated[tuple[Short, ...], Meta(min_length=1, max_length=20)]


class RegisterIsolationPoint(Command, frozen=True, kw_only=True):
    project_id: UUID
    spec: PointSpec


class ReviseIsolationPoint(Command, frozen=True, kw_only=True):
    point_id: UUID
    spec: PointSpec


class DeactivateIsolationPoint(Command, frozen=True, kw_only=True):
    point_id: UUID


class AssignIsolationPoint(PermitCommand, frozen=True, kw_only=True):
    point_id: UUID
    required: bool = True


class UnassignIsolationPoint(PermitCommand, frozen=True, kw_only=True):
    point_id: UUID


class IsolatePoint(Command, frozen=True, kw_only=True):
    isolation_id: UUID
    lock_ids: LockIds
    tag: Short | None = None
    method: Short
    achieved_category: Annotated[str, Meta(pattern=r"^(I|II|III)$")]
    isolated_at: datetime
    isolator_worker_id: UUID


class VerifyIsolation(Command, frozen=True, kw_only=True):
    isolation_id: UUID
    method: Short
    passed: bool
    notes: Reason = ""
    verified_at: datetime


class DeisolatePoint(Command, frozen=True, kw_only=True):
    isolation_id: UUID


class TransferIsolationToOperations(Command, frozen=True, kw_only=True):
    isolation_id: UUID
    reason: Reason


class ApplyPersonalLock(PermitCommand, frozen=True, kw_only=True):
    lock_id: Short
    worker_id: UUID


class RemovePersonalLock(PermitCommand, frozen=True, kw_only=True):
    lock_id: Short


class RecordLockRemovalException(PermitCommand, frozen=True, kw_only=True):
    """LOCK-02: all three facts, then the personal lock is removed with method `exception`; for a lock of an
    isolation the permit links to, the facts let another than its owner remove it at de-isolation (ISO-13)."""

    lock_id: Short
    verified_absent_by: Short
    verified_absent_at: datetime
    contact_attempts: Reason
    contacted_at: datetime
    will_inform_before_resuming: bool


class RecordIsolationLockException(Command, frozen=True, kw_only=True):
    """LOCK-02 on the isolation itself: the three facts for one of its locks, so another than its owner may remove
    it at de-isolation (ISO-13); the path when no linked permit can carry them (linked only to cancelled or closed
    permits, or held by operations)."""

    isolation_id: UUID
    lock_id: Short
    verified_absent_by: Short
    verified_absent_at: datetime
    contact_attempts: Reason
    contacted_at: datetime
    will_inform_before_resuming: bool


LockExceptionCommand = RecordLockRemovalException | RecordIsolationLockException


class AcknowledgeLockRemoval(Command, frozen=True, kw_only=True):
    worker_id: UUID
