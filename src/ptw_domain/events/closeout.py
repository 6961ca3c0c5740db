"""Close-out events on the permit stream (section 10): the pinned checklist and its stamped items (CLO-04),
inhibits of safety systems and their confirmed restoration (CLO-06)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ptw_domain.events.permit import PermitEvent
from ptw_domain.templates.checklist import ChecklistItem


class CloseoutChecklistPinned(PermitEvent, frozen=True, kw_only=True):
    """TPL-10/CLO-04: the close-out checklist selected at hand-back, for the effective risk level then."""

    items: tuple[ChecklistItem, ...]
    risk_level: str


class CloseoutItemChecked(PermitEvent, frozen=True, kw_only=True):
    key: str
    by: str
    at: datetime


class CloseoutItemUnchecked(PermitEvent, frozen=True, kw_only=True):
    key: str
    by: str
    at: datetime


class InhibitApplied(PermitEvent, frozen=True, kw_only=True):
    inhibit_id: UUID
    system: str
    tag: str
    reason: str
    expected_restore_at: datetime
    applied_by: str


class InhibitRestored(PermitEvent, frozen=True, kw_only=True):
    """CLO-06: restored by one person and confirmed by a second."""

    inhibit_id: UUID
    restored_by: str
    confirmed_by: str
