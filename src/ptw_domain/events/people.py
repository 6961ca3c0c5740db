"""Workers and their competencies (worker streams), and the people on a permit (permit stream): section 5."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ptw_domain.events.base import DomainEvent
from ptw_domain.events.permit import PermitEvent


class WorkerEvent(DomainEvent, frozen=True, kw_only=True):
    stream = "worker"
    abstract = True


class WorkerRegistered(WorkerEvent, frozen=True, kw_only=True):
    worker_id: UUID
    organisation_id: UUID
    name: str
    company: str
    person_id: str | None = None


class WorkerUpdated(WorkerEvent, frozen=True, kw_only=True):
    name: str
    company: str
    person_id: str | None
    active: bool
    changed: tuple[str, ...]


class CompetencyRecorded(WorkerEvent, frozen=True, kw_only=True):
    competency_id: UUID
    code: str
    valid_from: datetime
    valid_until: datetime
    issuer: str
    evidence_uri: str
    evidence_sha256: str
    recorded_by: str


class CompetencyRevoked(WorkerEvent, frozen=True, kw_only=True):
    competency_id: UUID
    revoked_at: datetime
    reason: str
    revoked_by: str


class WorkerMemberLinked(DomainEvent, frozen=True, kw_only=True):
    """WRK-01: the member `person_id` logs in as this worker. Kept on the organisation's stream, written with the
    worker's own event, so a decision finds the worker record of a person (the PA, the issuer: COMP-04) without
    reading the whole registry; a member is linked to one worker at a time."""

    stream = "organisation"
    organisation_id: UUID
    person_id: str
    worker_id: UUID


class WorkerMemberUnlinked(DomainEvent, frozen=True, kw_only=True):
    stream = "organisation"
    organisation_id: UUID
    person_id: str
    worker_id: UUID


class WorkerAssigned(PermitEvent, frozen=True, kw_only=True):
    worker_id: UUID
    permit_roles: tuple[str, ...]
    competency_ids: tuple[UUID, ...] = ()
    assigned_by: str


class WorkerReleased(PermitEvent, frozen=True, kw_only=True):
    worker_id: UUID
    released_by: str


class ToolboxTalkHeld(PermitEvent, frozen=True, kw_only=True):
    tbt_id: UUID
    conductor: str
    held_at: datetime
    topics: tuple[str, ...]


class ToolboxTalkAttended(PermitEvent, frozen=True, kw_only=True):
    tbt_id: UUID
    worker_id: UUID
    acknowledged_at: datetime


class AttendantPosted(PermitEvent, frozen=True, kw_only=True):
    worker_id: UUID
    on_duty: bool
    competency_ids: tuple[UUID, ...] = ()
    posted_by: str


class EntrantEntered(PermitEvent, frozen=True, kw_only=True):
    worker_id: UUID
    at: datetime
    competency_ids: tuple[UUID, ...] = ()
    recorded_by: str


class EntrantExited(PermitEvent, frozen=True, kw_only=True):
    worker_id: UUID
    at: datetime
    recorded_by: str


class FireWatchAssigned(PermitEvent, frozen=True, kw_only=True):
    worker_id: UUID
    competency_ids: tuple[UUID, ...] = ()
    assigned_by: str


class FireWatchCompleted(PermitEvent, frozen=True, kw_only=True):
    worker_id: UUID
    by: str
    minutes: int
    competency_ids: tuple[UUID, ...] = ()
