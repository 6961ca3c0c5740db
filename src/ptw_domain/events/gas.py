"""Gas testing events (section 6): limit profiles on the organisation stream; readings, sessions, voids and
retest facts on the permit stream."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ptw_domain.events.base import DomainEvent
from ptw_domain.events.permit import PermitEvent
from ptw_domain.gas.profiles import GasLimit, GasLimitProfile


class GasLimitProfilePublished(DomainEvent, frozen=True, kw_only=True):
    stream = "organisation"
    organisation_id: UUID
    profile: GasLimitProfile
    published_by: str


class GasReadingRecorded(PermitEvent, frozen=True, kw_only=True):
    reading_id: UUID
    session_id: UUID
    seq: int
    gas: str
    value: float
    unit: str
    tested_at: datetime
    tester: str
    tester_worker_id: UUID
    instrument: str
    calibration_due: datetime
    profile_id: str
    profile_version: int
    limit: GasLimit
    verdict: str  # pass | fail, computed by the server (GAS-05)
    competency_ids: tuple[UUID, ...] = ()


class GasTestSessionCompleted(PermitEvent, frozen=True, kw_only=True):
    session_id: UUID
    verdict: str
    failing_gases: tuple[str, ...]
    completed_at: datetime


class GasReadingVoided(PermitEvent, frozen=True, kw_only=True):
    reading_id: UUID
    reason: str
    voided_by: str


class GasRetestOverdue(PermitEvent, frozen=True, kw_only=True):
    last_pass_at: datetime
    due_at: datetime
    detected_at: datetime
