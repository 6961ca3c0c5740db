"""Commands of the gas area (section 6)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from msgspec import Meta

from ptw_domain.commands import Command, PermitCommand, Reason
from ptw_domain.gas.profiles import GasLimitProfile
from ptw_domain.permit.content import Short


class PublishGasLimitProfile(Command, frozen=True, kw_only=True):
    organisation_id: UUID
    profile: GasLimitProfile


class RecordGasReading(PermitCommand, frozen=True, kw_only=True):
    """GAS-01: one reading by a gas tester (the actor, as the registered worker `tester_worker_id`)."""

    reading_id: UUID
    session_id: UUID
    gas: Annotated[str, Meta(min_length=1, max_length=20)]
    value: float
    unit: Annotated[str, Meta(min_length=1, max_length=10)]
    tested_at: datetime
    instrument: Short
    calibration_due: datetime
    tester_worker_id: UUID


class VoidGasReading(PermitCommand, frozen=True, kw_only=True):
    reading_id: UUID
    reason: Reason
