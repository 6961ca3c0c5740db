"""The close-out part of a permit's state: the pinned close-out checklist with its stamps, and the inhibits.
Folded from permit-stream events."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec


class CloseoutItem(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    label: str
    required: bool
    checked_by: str | None = None
    checked_at: datetime | None = None

    @property
    def checked(self) -> bool:
        return self.checked_at is not None


class Inhibit(msgspec.Struct, frozen=True, kw_only=True):
    inhibit_id: UUID
    system: str
    tag: str
    reason: str
    expected_restore_at: datetime
    applied_by: str
    applied_at: datetime
    restored_by: str | None = None
    confirmed_by: str | None = None
    restored_at: datetime | None = None

    @property
    def restored(self) -> bool:
        """CLO-06: restored and the restoration confirmed by a second person."""
        return self.restored_at is not None and self.confirmed_by is not None


class CloseoutState(msgspec.Struct, frozen=True, kw_only=True):
    checklist: tuple[CloseoutItem, ...] = ()
    risk_level: str | None = None  # the effective risk level the checklist was selected for (TPL-10)
    inhibits: tuple[Inhibit, ...] = ()

    def item(self, key: str) -> CloseoutItem | None:
        return next((i for i in self.checklist if i.key == key), None)

    def inhibit(self, inhibit_id: UUID) -> Inhibit | None:
        return next((i for i in self.inhibits if i.inhibit_id == inhibit_id), None)

    def unchecked(self) -> list[str]:
        return [i.key for i in self.checklist if i.required and not i.checked]

    def open_inhibits(self) -> list[Inhibit]:
        return [i for i in self.inhibits if not i.restored]
