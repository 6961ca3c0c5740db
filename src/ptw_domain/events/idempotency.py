"""Idempotency records: the key is stored in the same atomic write as the command's events (SEC-09)."""

from __future__ import annotations

from uuid import UUID

import msgspec

from ptw_domain.events.base import DomainEvent


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What a command recorded: enough to answer a replay with the original result."""

    command: str
    stream_id: UUID | None
    version: int | None
    events: tuple[str, ...]
    permit_number: str | None = None


class CommandAccepted(DomainEvent, frozen=True, kw_only=True):
    stream = "idempotency"
    key: str
    fingerprint: str
    outcome: Outcome
