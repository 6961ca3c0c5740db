"""The event envelope: AUD-01 metadata, the hash-chain link (AUD-03) and the registry of event types.

Domain events are frozen msgspec Structs named in the past tense. Each has an explicit, stable type name (the
stored topic) and a schema version; an older stored version is upcast when read, never rewritten (AUD-10).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

import msgspec

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class DomainEvent(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every domain event payload. Subclasses set `stream` (the kind of stream they belong to)."""

    type_name: ClassVar[str]
    schema_version: ClassVar[int] = 1
    stream: ClassVar[str]
    # upcasters[v] turns a payload stored at schema version v into version v + 1.
    upcasters: ClassVar[dict[int, Upcaster]] = {}
    abstract: ClassVar[bool] = True  # a family base, never stored

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type_name" not in cls.__dict__:
            cls.type_name = cls.__name__
        if not cls.__dict__.get("abstract", False) and hasattr(cls, "stream"):
            register_event_type(cls)


EVENT_TYPES: dict[str, type[DomainEvent]] = {}


def register_event_type(cls: type[DomainEvent]) -> None:
    """Register the stored type name; a clash would make old events unreadable, so it is an error."""
    existing = EVENT_TYPES.get(cls.type_name)
    if existing is not None and existing is not cls:
        raise TypeError(f"event type name {cls.type_name!r} is already taken by {existing.__qualname__}")
    EVENT_TYPES[cls.type_name] = cls


class ActorRecord(msgspec.Struct, frozen=True, kw_only=True):
    """AUD-01 actor: id, kind, roles and level used, company kind."""

    id: str
    kind: str
    roles: tuple[str, ...] = ()
    authority_level: int | None = None
    company_kind: str | None = None


class EventMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """AUD-01 metadata carried by every event besides its stream, version, type, time and hashes."""

    stream_type: str
    organisation_id: UUID | None = None
    project_id: UUID | None = None
    actor: ActorRecord
    on_behalf_of: str | None = None
    delegation_id: UUID | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    client_app: str | None = None
    client_version: str | None = None
    device_id: str | None = None
    device_time: datetime | None = None
    idempotency_key: str | None = None
    client_command_id: str | None = None
    rule: str | None = None  # AUD-12: the rule that caused an act of the system


P = TypeVar("P", bound=DomainEvent)


class Recorded(msgspec.Struct, Generic[P], frozen=True, kw_only=True):
    """One stored event exactly as it is hashed and written: the unit the event store holds."""

    stream_id: UUID
    version: int
    event_id: UUID
    type: str
    schema_version: int
    occurred_at: datetime
    metadata: EventMetadata
    payload: P
    prev_hash: str
    hash: str

    # The event store's protocol names these differently.
    @property
    def originator_id(self) -> UUID:
        return self.stream_id

    @property
    def originator_version(self) -> int:
        return self.version

    @property
    def timestamp(self) -> datetime:
        return self.occurred_at


GENESIS_HASH = "0" * 64
