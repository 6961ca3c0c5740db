"""The offline sync ledger (SYNC-03, SYNC-12): one stream per (project, device, client command id), holding the
one outcome of that command. An applied command's ledger event is saved in the same transaction as the command's
own events; a conflict or a rejection is recorded alone (ADR 0013)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import msgspec

from ptw_domain.events.base import DomainEvent
from ptw_domain.findings import Finding


class SyncOutcomeKind(StrEnum):
    """SYNC-13: what became of one offline command."""

    APPLIED = "applied"
    CONFLICT = "conflict"
    REJECTED = "rejected"


class FieldConflict(msgspec.Struct, frozen=True, kw_only=True):
    """SYNC-06: one field the device and the server disagree on, with a hint the server never applies itself:
    `choose` (text), `union` (sets), `true_wins` (checklists), `server_state` (status), `forward_only`
    (isolation)."""

    field: str
    device: Any = None
    server: Any = None
    hint: str


class ServerState(msgspec.Struct, frozen=True, kw_only=True):
    """SYNC-06: the target as the server holds it when the command conflicted (never for `not_found`)."""

    kind: str  # permit | isolation
    id: UUID
    status: str
    version: int
    number: str | None = None
    core_hash: str | None = None


class SyncOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """SYNC-13: the outcome of one offline command, as recorded and as answered (also to a replay)."""

    client_command_id: str
    command: str
    outcome: SyncOutcomeKind
    reason: str | None = None  # clock_skew, too_old, stale_version, missing_base_version, guard_failed, ...
    detail: str = ""
    rule_ids: tuple[str, ...] = ()
    target: str | None = None  # as sent: an id, a temporary reference `tmp:<name>`, or none
    ref: str | None = None  # the temporary reference this command created (a CreatePermit)
    stream_id: UUID | None = None  # the object the command acted on or created
    version: int | None = None  # its version after the command
    events: tuple[str, ...] = ()
    created: dict[str, UUID] = msgspec.field(default_factory=dict)
    permit_number: str | None = None
    rebased_over: tuple[str, ...] = ()  # SYNC-05: event types recorded after `based_on_version`
    no_change: bool = False  # SYNC-08: a state already reached with the same facts
    blockers: tuple[Finding, ...] = ()
    fields: tuple[FieldConflict, ...] = ()  # a conflict's fields (SYNC-06)
    invalid_fields: tuple[str, ...] = ()  # the payload fields a rejection names (SEC-12, TEN-03)
    server_state: ServerState | None = None
    needs_review: bool = False  # SYNC-07: the permit goes on the project's sync review list
    permit_id: UUID | None = None  # the permit concerned, for the review list


class SyncCommandRecorded(DomainEvent, frozen=True, kw_only=True):
    """SYNC-12: device, user, command, outcome, reason; the time is the event's `occurred_at`."""

    stream = "sync_ledger"
    project_id: UUID
    device_id: str
    batch_id: str
    user: str
    fingerprint: str  # of the command as sent: a different command under the same id is not a repeat
    device_time: datetime | None = None
    based_on_version: int | None = None
    outcome: SyncOutcome
