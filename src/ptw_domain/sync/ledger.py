"""The sync ledger (SYNC-03, SYNC-12): its streams and events.

Each offline command has one ledger stream, id = UUIDv5 of (project, device, client command id), holding one
`SyncCommandRecorded`. The lookup is scoped to the caller's project, so a foreign project's ledger cannot be
probed (SYNC-09). The review list (SYNC-07) and the health figures (SYNC-12) are read from the `sync_ledger`
projection (ADR 0013).
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec

from ptw_domain.canonical import sha256_hex
from ptw_domain.events.base import ActorRecord, EventMetadata
from ptw_domain.events.sync import SyncCommandRecorded, SyncOutcome
from ptw_domain.project import ProjectState
from ptw_domain.roles import Actor
from ptw_domain.sync.batch import SyncBatch, SyncItem

_LEDGER = uuid5(NAMESPACE_URL, "urn:ptw:sync-ledger")


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
