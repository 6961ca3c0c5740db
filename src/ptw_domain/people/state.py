"""The people part of a permit's state: who is assigned in which permit roles, briefings and who attended,
attendants on duty, who is inside, and the fire watch. Folded from permit-stream events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

import msgspec


class PermitRole(StrEnum):
    """WRK-02 permit roles of an assigned worker."""

    CREW = "crew"
    ENTRANT = "entrant"
    ATTENDANT = "attendant"
    FIRE_WATCH = "fire_watch"
    STANDBY_RESCUE = "standby_rescue"


class Assignment(msgspec.Struct, frozen=True, kw_only=True):
    worker_id: UUID
    permit_roles: tuple[PermitRole, ...]
    assigned_at: datetime


class Briefing(msgspec.Struct, frozen=True, kw_only=True):
    tbt_id: UUID
    conductor: str
    held_at: datetime
    topics: tuple[str, ...]
    attended: dict[UUID, datetime] = msgspec.field(default_factory=dict)  # worker -> acknowledged_at


class PeopleState(msgspec.Struct, frozen=True, kw_only=True):
    assignments: tuple[Assignment, ...] = ()
    briefings: tuple[Briefing, ...] = ()
    attendants_on_duty: tuple[UUID, ...] = ()
    inside: tuple[UUID, ...] = ()
    fire_watch: UUID | None = None
    fire_watch_completed_at: datetime | None = None
    fire_watch_minutes_kept: int | None = None

    def assignment(self, worker_id: UUID) -> Assignment | None:
        return next((a for a in self.assignments if a.worker_id == worker_id), None)

    def with_role(self, role: PermitRole) -> tuple[Assignment, ...]:
        return tuple(a for a in self.assignments if role in a.permit_roles)

    def worker_ids(self) -> set[UUID]:
        """Every worker a decision on this permit may need to look up."""
        ids = {a.worker_id for a in self.assignments} | set(self.attendants_on_duty) | set(self.inside)
        return ids | ({self.fire_watch} if self.fire_watch else set())

    def briefed_after(self, worker_id: UUID, after: datetime) -> Briefing | None:
        """The latest briefing held after `after` that the worker attended (TBT-02: it counts only there)."""
        attended = [b for b in self.briefings if b.held_at > after and worker_id in b.attended]
        return max(attended, key=lambda b: b.held_at) if attended else None
