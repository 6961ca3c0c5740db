"""The sync review list (SYNC-07) and the sync health figures (SYNC-12) as typed queries over the sync ledger
projection; each states the store position it reflects (RM-08)."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import msgspec
from sqlalchemy import func, select

from ptw_domain.events.sync import SyncOutcomeKind
from ptw_projections.errors import InvalidQuery
from ptw_projections.reader import ReadSide
from ptw_projections.sync_ledger.projection import SyncLedger, SyncReviewItem

NAME = SyncLedger.name
HEALTH_WINDOW = timedelta(hours=24)  # SYNC-12
_item = msgspec.json.Decoder(SyncReviewItem)


class SyncReviewList(msgspec.Struct, frozen=True, kw_only=True):
    """SYNC-07: the permits on the project's sync review list, oldest entry first."""

    items: list[SyncReviewItem]
    as_of_position: int


class SyncHealth(msgspec.Struct, frozen=True, kw_only=True):
    """SYNC-12: the outcomes the project's devices synced in (since, until], by reason, and the devices."""

    project_id: UUID
    since: datetime
    until: datetime
    applied: int = 0
    conflicts: int = 0
    rejected: int = 0
    reasons: dict[str, int] = msgspec.field(default_factory=dict)
    devices: int = 0
    last_recorded_at: datetime | None = None
    as_of_position: int


def sync_review_list(reads: ReadSide, project_id: UUID) -> SyncReviewList:
    review = reads.views(NAME)["review"]
    with reads.connect() as conn:
        position = reads.position(NAME, conn)
        rows = conn.execute(
            select(review.c.item).where(review.c.project_id == project_id).order_by(review.c.position)
        ).scalars()
        items = [_item.decode(raw) for raw in rows]
    return SyncReviewList(items=items, as_of_position=position)


def sync_health(
    reads: ReadSide, project_id: UUID, *, until: datetime, window: timedelta = HEALTH_WINDOW
) -> SyncHealth:
    """SYNC-12: outcomes recorded in (until - window, until]; a replay records nothing and counts nowhere."""
    if until.tzinfo is None:
        raise InvalidQuery("until", "needs a UTC offset")
    since = until - window
    t = reads.views(NAME)["outcomes"]
    where = (t.c.project_id == project_id, t.c.recorded_at > since, t.c.recorded_at <= until)
    with reads.connect() as conn:
        position = reads.position(NAME, conn)
        counted = conn.execute(
            select(t.c.outcome, t.c.reason, func.count()).where(*where).group_by(t.c.outcome, t.c.reason)
        ).all()
        devices, last = conn.execute(
            select(func.count(func.distinct(t.c.device_id)), func.max(t.c.recorded_at)).where(*where)
        ).one()
    counts = dict.fromkeys(SyncOutcomeKind, 0)
    reasons: dict[str, int] = {}
    for outcome, reason, count in counted:
        counts[SyncOutcomeKind(outcome)] += count
        if reason:
            reasons[reason] = reasons.get(reason, 0) + count
    return SyncHealth(
        project_id=project_id,
        since=since,
        until=until,
        applied=counts[SyncOutcomeKind.APPLIED],
        conflicts=counts[SyncOutcomeKind.CONFLICT],
        rejected=counts[SyncOutcomeKind.REJECTED],
        reasons=dict(sorted(reasons.items())),
        devices=devices,
        last_recorded_at=last,
        as_of_position=position,
    )
