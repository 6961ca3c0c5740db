"""The worker registry (WRK-01) and competency validity (COMP-01, COMP-02): one stream per worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from msgspec.structs import replace

from ptw_domain.events import isolation as iso
from ptw_domain.events import people as ev
from ptw_domain.events.base import Recorded


class Competency(msgspec.Struct, frozen=True, kw_only=True):
    competency_id: UUID
    code: str
    valid_from: datetime
    valid_until: datetime
    issuer: str
    evidence_uri: str
    evidence_sha256: str
    revoked_at: datetime | None = None

    def valid_at(self, instant: datetime) -> bool:
        """COMP-02: valid_from <= t < valid_until and not revoked at or before t (TIME-06 half-open)."""
        revoked = self.revoked_at is not None and self.revoked_at <= instant
        return self.valid_from <= instant < self.valid_until and not revoked


class WorkerState(msgspec.Struct, frozen=True, kw_only=True):
    worker_id: UUID
    organisation_id: UUID
    name: str
    company: str
    person_id: str | None
    version: int
    active: bool = True
    competencies: tuple[Competency, ...] = ()
    lock_flags: tuple[str, ...] = ()  # LOCK-04: locks removed by exception, not yet acknowledged

    @property
    def flagged(self) -> bool:
        return bool(self.lock_flags)

    def competent(self, code: str, instant: datetime) -> Competency | None:
        """The record relied on for `code` at `instant` (the latest-ending valid one), if any."""
        valid = [c for c in self.competencies if c.code == code and c.valid_at(instant)]
        return max(valid, key=lambda c: c.valid_until) if valid else None

    def missing(self, codes: list[str], instant: datetime) -> list[str]:
        return [code for code in codes if self.competent(code, instant) is None]

    def relied_on(self, codes: list[str], instant: datetime) -> tuple[UUID, ...]:
        """COMP-02: the record ids an act relies on, recorded on its event."""
        records = (self.competent(code, instant) for code in codes)
        return tuple(r.competency_id for r in records if r is not None)


def evolve_worker(state: WorkerState | None, recorded: Recorded[Any]) -> WorkerState:
    e = recorded.payload
    if isinstance(e, ev.WorkerRegistered):
        return WorkerState(
            worker_id=e.worker_id,
            organisation_id=e.organisation_id,
            name=e.name,
            company=e.company,
            person_id=e.person_id,
            version=recorded.version,
        )
    assert state is not None, "a worker stream starts with WorkerRegistered"
    state = replace(state, version=recorded.version)
    if isinstance(e, ev.WorkerUpdated):
        return replace(state, name=e.name, company=e.company, person_id=e.person_id, active=e.active)
    if isinstance(e, ev.CompetencyRecorded):
        record = Competency(
            competency_id=e.competency_id,
            code=e.code,
            valid_from=e.valid_from,
            valid_until=e.valid_until,
            issuer=e.issuer,
            evidence_uri=e.evidence_uri,
            evidence_sha256=e.evidence_sha256,
        )
        return replace(state, competencies=(*state.competencies, record))
    if isinstance(e, ev.CompetencyRevoked):
        return replace(
            state,
            competencies=tuple(
                replace(c, revoked_at=e.revoked_at) if c.competency_id == e.competency_id else c
                for c in state.competencies
            ),
        )
    if isinstance(e, iso.WorkerFlaggedForLockRemoval):
        return replace(state, lock_flags=(*state.lock_flags, e.lock_id))
    if isinstance(e, iso.LockRemovalAcknowledged):
        return replace(state, lock_flags=())
    raise TypeError(f"not a worker event: {recorded.type}")
