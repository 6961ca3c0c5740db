"""The gas part of a permit's state: readings, completed sessions, voids and recorded retest facts."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec


class GasReading(msgspec.Struct, frozen=True, kw_only=True):
    reading_id: UUID
    session_id: UUID
    seq: int
    gas: str
    value: float
    unit: str
    tested_at: datetime
    tester: str
    instrument: str
    verdict: str


class Session(msgspec.Struct, frozen=True, kw_only=True):
    session_id: UUID
    readings: tuple[GasReading, ...]
    complete: bool
    verdict: str | None
    completed_at: datetime | None  # GAS-06: the tested_at of its last reading

    @property
    def passed(self) -> bool:
        return self.complete and self.verdict == "pass"


class GasState(msgspec.Struct, frozen=True, kw_only=True):
    readings: tuple[GasReading, ...] = ()
    completed: dict[UUID, str] = msgspec.field(default_factory=dict)  # session -> verdict
    voided: tuple[UUID, ...] = ()
    retests_overdue: tuple[datetime, ...] = ()  # due instants already recorded (GAS-10)

    def session(self, session_id: UUID) -> Session:
        readings = tuple(r for r in self.readings if r.session_id == session_id)
        complete = session_id in self.completed
        return Session(
            session_id=session_id,
            readings=readings,
            complete=complete,
            verdict=self.completed.get(session_id),
            completed_at=readings[-1].tested_at if complete and readings else None,
        )

    def counted_sessions(self) -> list[Session]:
        """Complete sessions none of whose readings is voided (GAS-13), by completion time."""
        voided = set(self.voided)
        ids = dict.fromkeys(r.session_id for r in self.readings)
        sessions = [self.session(s) for s in ids if s in self.completed]
        counted = [s for s in sessions if not any(r.reading_id in voided for r in s.readings)]
        return sorted(counted, key=lambda s: s.completed_at or datetime.min)

    def latest(self) -> Session | None:
        """GAS-09: the latest complete session decides."""
        sessions = self.counted_sessions()
        return sessions[-1] if sessions else None

    def last_pass(self) -> Session | None:
        passed = [s for s in self.counted_sessions() if s.passed]
        return passed[-1] if passed else None

    def reading(self, reading_id: UUID) -> GasReading | None:
        return next((r for r in self.readings if r.reading_id == reading_id), None)
