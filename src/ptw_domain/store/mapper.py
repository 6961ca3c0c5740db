"""The msgspec mapper: stored bytes are the canonical JSON of the whole envelope (ADR 0001).

Typed decoders are built once per event type. A payload stored at an older schema version is decoded
generically, upcast step by step and then typed (AUD-10); the stored bytes are never rewritten.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder

from ptw_domain.canonical import canonical_json
from ptw_domain.events.base import EVENT_TYPES, Recorded
from ptw_domain.store.streams import StreamSnapshot

SNAPSHOT_PREFIX = "snapshot:"


def state_types() -> dict[str, type[Any]]:
    """The folded state type of each kind of stream (snapshots and read models decode states with it)."""
    from ptw_domain.delegation import DelegationState
    from ptw_domain.events.idempotency import CommandAccepted
    from ptw_domain.events.sync import SyncCommandRecorded
    from ptw_domain.isolation.project_locks import ProjectLocks
    from ptw_domain.isolation.state import IsolationState, PointState
    from ptw_domain.organisation import OrganisationState, TemplateState
    from ptw_domain.people.workers import WorkerState
    from ptw_domain.permit.state import PermitState
    from ptw_domain.project import ProjectState
    from ptw_domain.simops.model import Register
    from ptw_domain.simops.streams import ConflictState

    return {
        "permit": PermitState,
        "project": ProjectState,
        "organisation": OrganisationState,
        "template": TemplateState,
        "delegation": DelegationState,
        "idempotency": CommandAccepted,
        "worker": WorkerState,
        "isolation_point": PointState,
        "isolation": IsolationState,
        "simops_register": Register,
        "project_locks": ProjectLocks,
        "conflict": ConflictState,
        "sync_ledger": SyncCommandRecorded,
    }


@cache
def _event_decoder(type_name: str) -> msgspec.json.Decoder[Recorded[Any]]:
    payload_type: Any = EVENT_TYPES[type_name]
    return msgspec.json.Decoder(Recorded[payload_type])


@cache
def _snapshot_decoder(kind: str) -> msgspec.json.Decoder[StreamSnapshot[Any]]:
    return msgspec.json.Decoder(StreamSnapshot[state_types()[kind]])  # type: ignore[misc]


def decode_event(topic: str, state: bytes) -> Recorded[Any]:
    """Decode one stored event; a payload stored at an older schema version is upcast step by step (AUD-10).

    The stored `schema_version`, not a failed typed decode, decides: an old payload that happens to fit the new
    type would otherwise skip its upcasters and keep its old meaning.
    """
    cls = EVENT_TYPES[topic]
    try:
        recorded = _event_decoder(topic).decode(state)
    except msgspec.ValidationError:
        recorded = None
    if recorded is not None and recorded.schema_version == cls.schema_version:
        return recorded
    body = msgspec.json.decode(state)
    stored_version = body.get("schema_version", 1)
    if stored_version >= cls.schema_version:
        # Not an older version: the typed decode's own error is the right answer.
        _event_decoder(topic).decode(state)
    payload = body["payload"]
    for version in range(stored_version, cls.schema_version):
        payload = cls.upcasters[version](payload)
    body["payload"] = payload
    body["schema_version"] = cls.schema_version
    return msgspec.convert(body, Recorded[cls])  # type: ignore[valid-type]


def prepare_decoders(*types: type) -> None:
    """Make every event and snapshot decoder, and msgspec's tables for `types`, now, in the thread that opens
    the store, rather than on first use in whichever threads come first: msgspec builds a type's tables on
    first use, and two request threads doing so for one command type at once crashed an API worker inside
    msgspec (a segmentation fault; ADR 0016)."""
    for topic in EVENT_TYPES:
        _event_decoder(topic)
    for kind in state_types():
        _snapshot_decoder(kind)
    for declared in types:
        msgspec.json.Decoder(declared)


class EnvelopeMapper(Mapper[UUID]):
    """Maps `Recorded` envelopes and `StreamSnapshot`s to the library's StoredEvent and back."""

    def __init__(self, transcoder: Transcoder | None = None) -> None:
        super().__init__(transcoder=transcoder)  # type: ignore[arg-type]

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if isinstance(domain_event, StreamSnapshot):
            # A snapshot is a cache, not chained (ADR 0001), so it needs no canonical form; the plain encoder
            # also takes the non-string dict keys of states (e.g. briefing attendance by worker id).
            topic, state = SNAPSHOT_PREFIX + domain_event.kind, msgspec.json.encode(domain_event)
        else:
            topic, state = domain_event.type, canonical_json(domain_event)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=topic,
            state=state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        topic = stored_event.topic
        if topic.startswith(SNAPSHOT_PREFIX):
            return _snapshot_decoder(topic[len(SNAPSHOT_PREFIX) :]).decode(stored_event.state)
        return decode_event(topic, stored_event.state)
