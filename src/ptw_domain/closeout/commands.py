"""Commands of the close-out area (section 10)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ptw_domain.commands import PermitCommand, Reason
from ptw_domain.permit.content import Short


class CheckCloseoutItem(PermitCommand, frozen=True, kw_only=True):
    """CLO-04: the server stamps who and when."""

    key: Short


class UncheckCloseoutItem(PermitCommand, frozen=True, kw_only=True):
    key: Short


class ApplyInhibit(PermitCommand, frozen=True, kw_only=True):
    """CLO-06: an override or inhibit of a safety system (fire and gas detection, a trip) taken for the work."""

    inhibit_id: UUID
    system: Short
    tag: Short
    reason: Reason
    expected_restore_at: datetime


class RestoreInhibit(PermitCommand, frozen=True, kw_only=True):
    """CLO-06: restored by the actor and confirmed by a second person, named by their person id."""

    inhibit_id: UUID
    confirmed_by: Short
