"""The sync ledger projection (SYNC-07, SYNC-12; ADR 0013): reads the `SyncCommandRecorded` events only.

SYNC-07 puts a permit on the project's sync review list when an offline command on it fails a guard at sync time
(`needs_review` on its outcome); the spec names nothing that takes it off, so the list keeps the rule the ledger
query had: a later offline command on the same permit that is applied takes it off (the device's user acted on
it again and the server took it); a later failing one replaces the entry. SYNC-12's health figures are counted
at query time from one row per outcome, so any window can be asked without a rebuild.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import ClassVar
from uuid import UUID

import msgspec
from sqlalchemy import Connection, Table, delete

from ptw_domain.events.base import Recorded
from ptw_domain.events.sync import SyncCommandRecorded, SyncOutcomeKind
from ptw_domain.findings import Finding
from ptw_projections.bulk import insert_rows
from ptw_projections.projection import Positioned, Projection, TableDefinition
from ptw_projections.sync_ledger.tables import DEFINITIONS

_encode = msgspec.json.Encoder().encode


class SyncReviewItem(msgspec.Struct, frozen=True, kw_only=True):
    """SYNC-07: a permit on the sync review list, with the offline command whose guards failed on it."""

    permit_id: UUID
    permit_number: str | None
    client_command_id: str
    command: str
    device_id: str
    user: str
    recorded_at: datetime
    detail: str
    blockers: tuple[Finding, ...]


def review_item(permit_id: UUID, recorded: Recorded[SyncCommandRecorded]) -> SyncReviewItem:
    """SYNC-07: the review entry an offline command whose guards failed makes for its permit."""
    entry, outcome = recorded.payload, recorded.payload.outcome
    return SyncReviewItem(
        permit_id=permit_id,
        permit_number=outcome.server_state.number if outcome.server_state else outcome.permit_number,
        client_command_id=outcome.client_command_id,
        command=outcome.command,
        device_id=entry.device_id,
        user=entry.user,
        recorded_at=recorded.occurred_at,
        detail=outcome.detail,
        blockers=outcome.blockers,
    )


class SyncLedger(Projection):
    name: ClassVar[str] = "sync_ledger"
    version: ClassVar[int] = 1
    definitions: ClassVar[Mapping[str, TableDefinition]] = DEFINITIONS
    streams: ClassVar[frozenset[str] | None] = frozenset({"sync_ledger"})

    def apply(self, conn: Connection, tables: Mapping[str, Table], events: Sequence[Positioned]) -> None:
        rows = []
        # Per permit touched by the batch, its review row after the batch (None: off the list).
        listed: dict[UUID, dict[str, object] | None] = {}
        for position, recorded in events:
            entry: SyncCommandRecorded = recorded.payload
            outcome = entry.outcome
            rows.append(
                {
                    "ledger_id": recorded.stream_id,
                    "project_id": entry.project_id,
                    "recorded_at": recorded.occurred_at,
                    "outcome": outcome.outcome.value,
                    "reason": outcome.reason,
                    "device_id": entry.device_id,
                }
            )
            permit_id = outcome.permit_id
            if permit_id is None:
                continue
            if outcome.needs_review:
                item = review_item(permit_id, recorded)
                listed[permit_id] = {
                    "permit_id": permit_id,
                    "project_id": entry.project_id,
                    "position": position,
                    "item": _encode(item),
                }
            elif outcome.outcome is SyncOutcomeKind.APPLIED:
                listed[permit_id] = None
        insert_rows(conn, tables["outcomes"], rows)
        if listed:
            review = tables["review"]
            conn.execute(delete(review).where(review.c.permit_id.in_(list(listed))))
            insert_rows(conn, review, [row for row in listed.values() if row is not None])
