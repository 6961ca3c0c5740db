"""What an offline batch is (SYNC-01) and what the service answers (SYNC-13), with the sync's constants (the
`offline_max_age_hours` of SYNC-02 is a project setting).

The caller (the HTTP API, or an embedding application) decodes each command's payload into the domain command
the online path would build. A command aimed at a temporary reference carries `temporary_id(ref)` in its target
field; the engine puts the real id there once the reference's CreatePermit has been applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec

from ptw_domain import commands as c
from ptw_domain.events.sync import SyncOutcome, SyncOutcomeKind

MAX_COMMANDS = 200  # SYNC-01, SEC-11
MAX_BODY_BYTES = 2 * 1024 * 1024  # SYNC-01, SEC-11: enforced by the transport
TEMPORARY = "tmp:"  # SYNC-04: a temporary reference is `tmp:<name>`
CORE_HASH_PLACEHOLDER = "tmp"  # SYNC-11: "the core hash the server computes for this temporary reference"

_TEMPORARY_IDS = uuid5(NAMESPACE_URL, "urn:ptw:sync:temporary")
_CREATED_IDS = uuid5(NAMESPACE_URL, "urn:ptw:sync:created")


def is_temporary(target: str | None) -> bool:
    return bool(target) and str(target).startswith(TEMPORARY) and len(str(target)) > len(TEMPORARY)


def temporary_id(ref: str) -> UUID:
    """The placeholder a caller puts in the target field of a command aimed at a temporary reference."""
    return uuid5(_TEMPORARY_IDS, ref)


def created_id(project_id: UUID, device_id: str, client_command_id: str, field: str) -> UUID:
    """An id the server makes for an offline command: the same for a repeat, so a replay names the same
    object (SYNC-03)."""
    return uuid5(_CREATED_IDS, f"{project_id}\x00{device_id}\x00{client_command_id}\x00{field}")


@dataclass(frozen=True, slots=True)
class Invalid:
    """A payload the caller could not decode into a command (SEC-12): the command is rejected and recorded."""

    detail: str
    fields: tuple[str, ...] = ()
    rule_ids: tuple[str, ...] = ("SEC-12",)


@dataclass(frozen=True, slots=True)
class SyncItem:
    """SYNC-01: one offline command. `command` is the decoded domain command (None when `invalid`); `target` is
    what the device sent (an id, `tmp:<name>`, or none); `created` names the ids the caller made for it."""

    client_command_id: str
    name: str
    device_time: datetime
    command: c.Command | None = None
    target: str | None = None
    based_on_version: int | None = None
    confirm_not_duplicate: bool = False  # SYNC-10
    created: dict[str, UUID] = field(default_factory=dict)
    invalid: Invalid | None = None


@dataclass(frozen=True, slots=True)
class SyncBatch:
    """SYNC-01: a device's batch, run in order (SYNC-04)."""

    device_id: str
    batch_id: str
    sent_at: datetime
    commands: tuple[SyncItem, ...]


class SyncResult(msgspec.Struct, frozen=True, kw_only=True):
    """One command's outcome; `replayed` when it was stored by an earlier send (SYNC-03); `position` is the store
    position of an applied command's write (RM-08)."""

    outcome: SyncOutcome
    replayed: bool = False
    position: int | None = None


class SyncReport(msgspec.Struct, frozen=True, kw_only=True):
    """SYNC-13: every command's outcome in order, the totals per outcome, and the last write's position."""

    device_id: str
    batch_id: str
    results: tuple[SyncResult, ...]
    position: int | None = None

    @property
    def totals(self) -> dict[str, int]:
        counts = {kind.value: 0 for kind in SyncOutcomeKind}
        for result in self.results:
            counts[result.outcome.outcome.value] += 1
        counts["replayed"] = sum(r.replayed for r in self.results)
        return counts
