"""What the board shows of a permit, an isolation and a conflict (BRD-01), built from their folded states.

Cards hold only values fixed at the version; what depends on the board's instant (effective status, gas
freshness) is judged at query time from the instants the card carries (TIME-05).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from ptw_domain.isolation.state import IsolationState, IsolationStatus
from ptw_domain.permit.state import PermitState
from ptw_domain.permit.status import HOLDING
from ptw_domain.simops.streams import ConflictState
from ptw_domain.templates import ResolvedTemplate

IN_PLACE = frozenset({IsolationStatus.ISOLATED, IsolationStatus.VERIFIED})


class GasCard(msgspec.Struct, frozen=True, kw_only=True):
    session_id: UUID
    tested_at: datetime
    verdict: str
    fresh_until: datetime | None  # a passing session is fresh in [tested_at, fresh_until) (GAS-08, TIME-06)


class LockCard(msgspec.Struct, frozen=True, kw_only=True):
    lock_id: str
    worker_id: UUID
    applied_at: datetime


class PermitCard(msgspec.Struct, frozen=True, kw_only=True):
    number: str
    title: str
    category: str
    area: str
    performing_authority: str
    valid_until: datetime
    last_gas: GasCard | None
    isolations: list[UUID]
    locks: list[LockCard]
    inside: list[UUID]
    fire_watch: UUID | None
    fire_watch_started_at: datetime | None
    handovers_unacknowledged: int


class IsolationCard(msgspec.Struct, frozen=True, kw_only=True):
    point_id: UUID
    point_code: str
    status: str
    isolated_by: str | None
    verified_by: str | None
    lock_ids: list[str]
    linked_permits: list[UUID]
    operations_held_by: str | None


class ConflictCard(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    severity: str
    older: UUID
    newer: UUID


def permit_on_board(state: PermitState) -> bool:
    """Approved, live or expired-not-handed-back (BRD-01); the query applies the effective status at T."""
    return state.status in HOLDING


def permit_card(state: PermitState, template: ResolvedTemplate) -> PermitCard:
    sessions = state.gas.counted_sessions()
    last = sessions[-1] if sessions else None
    gas = None
    if last is not None and last.completed_at is not None and last.verdict is not None:
        fresh_until = (
            last.completed_at + timedelta(minutes=template.gas_validity_minutes) if last.passed else None
        )
        gas = GasCard(
            session_id=last.session_id,
            tested_at=last.completed_at,
            verdict=last.verdict,
            fresh_until=fresh_until,
        )
    c = state.content
    return PermitCard(
        number=state.number,
        title=c.title,
        category=state.category,
        area=c.area,
        performing_authority=state.performing_authority,
        valid_until=state.valid_until,
        last_gas=gas,
        isolations=[a.isolation_id for a in state.isolations.assignments],
        locks=[
            LockCard(lock_id=k.lock_id, worker_id=k.worker_id, applied_at=k.applied_at)
            for k in state.isolations.locks
        ],
        inside=list(state.people.inside),
        fire_watch=state.people.fire_watch,
        fire_watch_started_at=state.fire_watch_started_at,
        handovers_unacknowledged=sum(
            1 for h in state.handover.handovers if not h.superseded and h.acknowledged_at is None
        ),
    )


def isolation_on_board(state: IsolationState) -> bool:
    return state.status in IN_PLACE


def isolation_card(state: IsolationState) -> IsolationCard:
    return IsolationCard(
        point_id=state.point_id,
        point_code=state.point.point_code,
        status=state.status.value,
        isolated_by=state.isolated_by,
        verified_by=state.verified_by,
        lock_ids=list(state.lock_ids),
        linked_permits=list(state.links),
        operations_held_by=state.operations_held_by,
    )


def conflict_on_board(state: ConflictState) -> bool:
    return state.open


def conflict_card(state: ConflictState) -> ConflictCard:
    return ConflictCard(rule=state.rule, severity=state.severity, older=state.older, newer=state.newer)
