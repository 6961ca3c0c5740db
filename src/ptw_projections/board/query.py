"""The board at an instant (BRD-01): what was on site at T, as recorded at or before T, judged at T."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import Table, or_, select

from ptw_domain.permit.status import Status
from ptw_projections.board.cards import ConflictCard, GasCard, IsolationCard, LockCard, PermitCard
from ptw_projections.board.tables import OPEN_DAY
from ptw_projections.errors import InvalidQuery
from ptw_projections.reader import ReadSide
from ptw_projections.types import day_of


class BoardPermit(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    version: int
    number: str
    title: str
    category: str
    area: str
    status: Status
    effective_status: Status
    performing_authority: str
    valid_until: datetime
    last_gas: GasCard | None
    gas_fresh: bool  # the last session passed and was still fresh at T
    isolations: list[UUID]
    locks: list[LockCard]
    inside: list[UUID]
    fire_watch: UUID | None
    fire_watch_started_at: datetime | None
    handovers_unacknowledged: int


class BoardIsolation(IsolationCard, frozen=True, kw_only=True):
    id: UUID
    version: int


class BoardConflict(ConflictCard, frozen=True, kw_only=True):
    id: UUID
    version: int


class BoardAt(msgspec.Struct, frozen=True, kw_only=True):
    at: datetime
    as_of_position: int
    permits: list[BoardPermit]
    isolations_in_place: list[BoardIsolation]
    open_conflicts: list[BoardConflict]


_permit_card = msgspec.json.Decoder(PermitCard)
_isolation_card = msgspec.json.Decoder(IsolationCard)
_conflict_card = msgspec.json.Decoder(ConflictCard)


def board_at(reads: ReadSide, project_id: UUID, at: datetime) -> BoardAt:
    """BRD-01. The current board is `board_at(now)`: the same evaluation."""
    if at.tzinfo is None:
        raise InvalidQuery("at", "needs a UTC offset")
    v = reads.views("board")
    with reads.connect() as conn:
        position = reads.position("board", conn)
        permits = conn.execute(_at(v["board_permits"], project_id, at)).all()
        isolations = conn.execute(_at(v["board_isolations"], project_id, at)).all()
        conflicts = conn.execute(_at(v["board_conflicts"], project_id, at)).all()
    return BoardAt(
        at=at,
        as_of_position=position,
        permits=sorted((_permit(r, at) for r in permits), key=lambda p: p.number),
        isolations_in_place=sorted(
            (
                BoardIsolation(
                    id=r.stream_id,
                    version=r.version,
                    **msgspec.structs.asdict(_isolation_card.decode(r.card)),
                )
                for r in isolations
            ),
            key=lambda i: i.point_code,
        ),
        open_conflicts=[
            BoardConflict(
                id=r.stream_id, version=r.version, **msgspec.structs.asdict(_conflict_card.decode(r.card))
            )
            for r in conflicts
        ],
    )


def _at(t: Table, project_id: UUID, at: datetime) -> Any:
    """Intervals with recorded_from ≤ at < recorded_to (or still open), found through the day buckets."""
    return (
        select(t)
        .where(
            t.c.project_id == project_id,
            or_(t.c.day == day_of(at), t.c.day == OPEN_DAY),
            t.c.recorded_from <= at,
            or_(t.c.recorded_to.is_(None), t.c.recorded_to > at),
        )
        .order_by(t.c.stream_id)
    )


def _permit(row: Any, at: datetime) -> BoardPermit:
    card = _permit_card.decode(row.card)
    status = Status(row.status)
    expired = row.expires_at is not None and row.expires_at <= at
    gas = card.last_gas
    fresh = bool(gas and gas.fresh_until and gas.tested_at <= at < gas.fresh_until)
    return BoardPermit(
        id=row.stream_id,
        version=row.version,
        status=status,
        effective_status=Status.EXPIRED if expired else status,
        gas_fresh=fresh,
        **msgspec.structs.asdict(card),
    )
