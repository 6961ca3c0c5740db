"""The handover part of a permit's state: the handovers recorded (and which were acknowledged or superseded)
and the boundaries already recorded as missed. Folded from permit-stream events."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec


class Handover(msgspec.Struct, frozen=True, kw_only=True):
    handover_id: UUID
    boundary: datetime
    role: str
    outgoing: str
    incoming: str
    notes: str
    recorded_at: datetime
    acknowledged_at: datetime | None = None
    superseded: bool = (
        False  # a later handover for the same boundary and role replaced it before acknowledgement
    )

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None


class HandoverState(msgspec.Struct, frozen=True, kw_only=True):
    handovers: tuple[Handover, ...] = ()
    missed: tuple[datetime, ...] = ()  # boundaries recorded as missed (HOV-03), once each (TIME-03)

    def handover(self, handover_id: UUID) -> Handover | None:
        return next((h for h in self.handovers if h.handover_id == handover_id), None)

    def for_boundary(self, boundary: datetime, role: str) -> tuple[Handover, ...]:
        return tuple(
            h for h in self.handovers if h.boundary == boundary and h.role == role and not h.superseded
        )

    def satisfied(self, boundary: datetime, due: datetime) -> bool:
        """HOV-03: a performing handover for the boundary was acknowledged before its grace ended."""
        return any(
            h.acknowledged_at is not None and h.acknowledged_at < due
            for h in self.for_boundary(boundary, "performing")
        )

    def cleared(self, boundary: datetime) -> bool:
        """HOV-04: a missed handover clears when a performing handover for it, or a later one, is acknowledged."""
        return any(
            h.role == "performing" and h.acknowledged and h.boundary >= boundary for h in self.handovers
        )
