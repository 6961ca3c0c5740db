"""The sync ledger (SYNC-03, SYNC-07, SYNC-12): its streams, and the review list and health figures read from it.

Each offline command has one ledger stream, id = UUIDv5 of (project, device, client command id), holding one
`SyncCommandRecorded`. The lookup is scoped to the caller's project, so a foreign project's ledger cannot be
probed (SYNC-09). The review list and the health figures are queries over the ledger events of the whole log: a
projection is the step after this one (ADR 0013).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec

from ptw_domain.canonical import sha256_hex
from ptw_domain.events.base import ActorRecord, EventMetadata, Recorded
from ptw_domain.events.sync import SyncCommandRecorded, SyncOutcome, SyncOutcomeKind
from ptw_domain.project import ProjectState
from ptw_domain.roles import Actor
from ptw_domain.store.application import PtwStore
from ptw_domain.store.mapper import decode_event
from ptw_domain.sync.batch import SyncBatch, SyncHealth, SyncItem, SyncReviewItem

_LEDGER = uuid5(NAMESPACE_URL, "urn:ptw:sync-ledger")
HEALTH_WINDOW = timedelta(hours=24)  # SYNC-12
_PAGE = 1000


def ledger_id(project_id: UUID, device_id: str, client_command_id: str) -> UUID:
    """SYNC-03: one ledger stream per (project, device, client command id)."""
    return uuid5(_LEDGER, f"{project_id}\x00{device_id}\x00{client_command_id}")


def fingerprint(item: SyncItem, person: str) -> str:
    """The command as the device sent it, by this person: a repeat must match it to be answered as a replay.
    Time, request context and the actor's token facts are left out, like an idempotency key's (ADR 0004)."""
    body: dict[str, Any] = {
        "name": item.name,
        "target": item.target,
        "based_on_version": item.based_on_version,
        "device_time": item.device_time,
        "confirm_not_duplicate": item.confirm_not_duplicate,
        "user": person,
    }
    if item.command is not None:
        command: dict[str, Any] = msgspec.to_builtins(item.command)
        for server_fact in ("at", "context", "actor", "expected_version"):
            command.pop(server_fact, None)
        body["command"] = command
    if item.invalid is not None:
        body["invalid"] = [item.invalid.detail, list(item.invalid.fields)]
    return sha256_hex(body)


def metadata(
    actor: Actor, project: ProjectState, batch: SyncBatch, item: SyncItem, correlation_id: str | None
) -> EventMetadata:
    """AUD-01 metadata of a ledger event: the user, the device and its time, the client command id."""
    member = actor.member
    return EventMetadata(
        stream_type="sync_ledger",
        organisation_id=project.organisation_id,
        project_id=project.project_id,
        actor=ActorRecord(
            id=member.person_id,
            kind=actor.kind.value,
            roles=tuple(sorted(member.roles)),
            authority_level=member.authority_level,
            company_kind=member.company_kind.value,
        ),
        correlation_id=correlation_id,
        causation_id=batch.batch_id,
        device_id=batch.device_id,
        device_time=item.device_time,
        client_command_id=item.client_command_id,
    )


def recorded_event(
    project: ProjectState,
    batch: SyncBatch,
    item: SyncItem,
    actor: Actor,
    fingerprint: str,
    outcome: SyncOutcome,
) -> SyncCommandRecorded:
    return SyncCommandRecorded(
        project_id=project.project_id,
        device_id=batch.device_id,
        batch_id=batch.batch_id,
        user=actor.person_id,
        fingerprint=fingerprint,
        device_time=item.device_time,
        based_on_version=item.based_on_version,
        outcome=outcome,
    )


def entries(store: PtwStore, project_id: UUID) -> Iterator[Recorded[SyncCommandRecorded]]:
    """Every ledger event of the project, in log order."""
    start: int | None = None
    while True:
        rows = store.recorder.select_notifications(
            start=start, limit=_PAGE, topics=[SyncCommandRecorded.type_name], inclusive_of_start=False
        )
        if not rows:
            return
        for row in rows:
            recorded: Recorded[SyncCommandRecorded] = decode_event(row.topic, row.state)
            if recorded.payload.project_id == project_id:
                yield recorded
        start = rows[-1].id


def review_list(store: PtwStore, project_id: UUID) -> list[SyncReviewItem]:
    """SYNC-07: permits whose offline command failed a guard at sync time, until a later offline command on the
    same permit is applied; the latest failing command of each, oldest first."""
    flagged: dict[UUID, Recorded[SyncCommandRecorded]] = {}
    for recorded in entries(store, project_id):
        outcome = recorded.payload.outcome
        if outcome.permit_id is None:
            continue
        if outcome.needs_review:
            flagged.pop(outcome.permit_id, None)
            flagged[outcome.permit_id] = recorded
        elif outcome.outcome is SyncOutcomeKind.APPLIED:
            flagged.pop(outcome.permit_id, None)
    return [_review_item(permit_id, recorded) for permit_id, recorded in flagged.items()]


def _review_item(permit_id: UUID, recorded: Recorded[SyncCommandRecorded]) -> SyncReviewItem:
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


def health(store: PtwStore, project_id: UUID, now: datetime, window: timedelta = HEALTH_WINDOW) -> SyncHealth:
    """SYNC-12: outcomes recorded in (now - window, now]; replays record nothing and count nowhere."""
    since = now - window
    counts = dict.fromkeys(SyncOutcomeKind, 0)
    reasons: dict[str, int] = {}
    devices: set[str] = set()
    last: datetime | None = None
    for recorded in entries(store, project_id):
        if not since < recorded.occurred_at <= now:
            continue
        outcome = recorded.payload.outcome
        counts[outcome.outcome] += 1
        if outcome.reason:
            reasons[outcome.reason] = reasons.get(outcome.reason, 0) + 1
        devices.add(recorded.payload.device_id)
        last = max(last, recorded.occurred_at) if last else recorded.occurred_at
    return SyncHealth(
        project_id=project_id,
        since=since,
        until=now,
        applied=counts[SyncOutcomeKind.APPLIED],
        conflicts=counts[SyncOutcomeKind.CONFLICT],
        rejected=counts[SyncOutcomeKind.REJECTED],
        reasons=dict(sorted(reasons.items())),
        devices=len(devices),
        last_recorded_at=last,
    )
