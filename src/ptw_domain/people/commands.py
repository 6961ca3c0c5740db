"""Commands of the people area: the worker registry and the people on a permit (section 5)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from ptw_domain.commands import Command, PermitCommand, Reason
from ptw_domain.people.state import PermitRole
from ptw_domain.permit.content import Short

Sha256 = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]


class RegisterWorker(Command, frozen=True, kw_only=True):
    worker_id: UUID
    organisation_id: UUID
    full_name: Short
    company: Short
    person_id: Short | None = None


class UpdateWorker(Command, frozen=True, kw_only=True):
    worker_id: UUID
    full_name: Short | UnsetType = UNSET
    company: Short | UnsetType = UNSET
    person_id: Short | UnsetType | None = UNSET
    active: bool | UnsetType = UNSET


class RecordCompetency(Command, frozen=True, kw_only=True):
    """COMP-01: code, validity, issuer and evidence (URI + SHA-256)."""

    worker_id: UUID
    competency_id: UUID
    code: Short
    valid_from: datetime
    valid_until: datetime
    issuer: Short
    evidence_uri: Annotated[str, Meta(max_length=2_000)]
    evidence_sha256: Sha256


class RevokeCompetency(Command, frozen=True, kw_only=True):
    worker_id: UUID
    competency_id: UUID
    reason: Reason


class AssignWorker(PermitCommand, frozen=True, kw_only=True):
    worker_id: UUID
    permit_roles: Annotated[tuple[PermitRole, ...], Meta(min_length=1, max_length=5)]


class ReleaseWorker(PermitCommand, frozen=True, kw_only=True):
    worker_id: UUID


class HoldToolboxTalk(PermitCommand, frozen=True, kw_only=True):
    """TBT-01: the conductor is the actor; topics name hazards, controls, emergency arrangements and so on."""

    tbt_id: UUID
    held_at: datetime
    topics: Annotated[tuple[Short, ...], Meta(min_length=1, max_length=50)]


class AttendToolboxTalk(PermitCommand, frozen=True, kw_only=True):
    """TBT-02: a worker acknowledges personally."""

    tbt_id: UUID
    worker_id: UUID


class PostAttendant(PermitCommand, frozen=True, kw_only=True):
    worker_id: UUID
    on_duty: bool


class RecordEntry(PermitCommand, frozen=True, kw_only=True):
    worker_id: UUID


class RecordExit(PermitCommand, frozen=True, kw_only=True):
    worker_id: UUID


class AssignFireWatch(PermitCommand, frozen=True, kw_only=True):
    worker_id: UUID


class CompleteFireWatch(PermitCommand, frozen=True, kw_only=True):
    pass
