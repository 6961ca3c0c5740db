"""Every stored event type round-trips its encoding, its chain verifies, and old schemas upcast on read (AUD-03,
AUD-04, AUD-10)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ptw_domain.events  # noqa: F401 - registers every event type
from ptw_domain.canonical import canonical_json
from ptw_domain.chain import StoredRecord, seal, verify_stream
from ptw_domain.events.base import (
    EVENT_TYPES,
    GENESIS_HASH,
    DomainEvent,
    EventMetadata,
    Recorded,
    register_event_type,
)
from ptw_domain.events.permit import PermitEvent, PermitSuspended, SuspensionReason
from ptw_domain.store.mapper import EnvelopeMapper, decode_event
from tests import strategies as s

ALL_TYPES = sorted(EVENT_TYPES)
mapper = EnvelopeMapper()


def _row(stored: StoredEvent) -> StoredRecord:
    return StoredRecord(stored.originator_version, stored.topic, stored.state)


def _first_event(payload: DomainEvent) -> Recorded[Any]:
    """`payload` sealed as version 1 of a new permit stream, by a minimal user actor."""
    return seal(
        stream_id=uuid4(),
        version=1,
        event_id=uuid4(),
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        metadata=msgspec.convert(
            {"stream_type": "permit", "actor": {"id": "a", "kind": "user"}}, EventMetadata
        ),
        payload=payload,
        prev_hash=GENESIS_HASH,
    )


@pytest.mark.parametrize("type_name", ALL_TYPES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_event_type_round_trips_its_encoding(type_name: str, data: st.DataObject) -> None:
    cls = EVENT_TYPES[type_name]
    payload = data.draw(s.event_payloads(cls), label="payload")
    stream_id = data.draw(s.uuids, label="stream_id")
    recorded = seal(
        stream_id=stream_id,
        version=1,
        event_id=data.draw(s.uuids, label="event_id"),
        occurred_at=data.draw(s.instants, label="occurred_at"),
        metadata=data.draw(s.event_metadata, label="metadata"),
        payload=payload,
        prev_hash=GENESIS_HASH,
    )
    stored = mapper.to_stored_event(recorded)
    assert stored.topic == type_name
    decoded = mapper.to_domain_event(stored)
    assert decoded == recorded
    assert type(decoded.payload) is cls
    # the encoding is canonical: re-encoding the decoded event gives the same bytes
    assert mapper.to_stored_event(decoded).state == stored.state
    assert verify_stream(stream_id, [_row(stored)]).ok


@settings(max_examples=20, deadline=None)
@given(data=st.data(), n=st.integers(min_value=2, max_value=6))
def test_a_chain_of_mixed_events_verifies_and_detects_tampering(data: st.DataObject, n: int) -> None:
    stream_id = uuid4()
    prev, rows = GENESIS_HASH, []
    for version in range(1, n + 1):
        cls = EVENT_TYPES[data.draw(st.sampled_from(ALL_TYPES))]
        recorded = seal(
            stream_id=stream_id,
            version=version,
            event_id=uuid4(),
            occurred_at=data.draw(s.instants),
            metadata=data.draw(s.event_metadata),
            payload=data.draw(s.event_payloads(cls)),
            prev_hash=prev,
        )
        prev = recorded.hash
        rows.append(_row(mapper.to_stored_event(recorded)))
    verdict = verify_stream(stream_id, rows)
    assert verdict.ok and verdict.events == n and verdict.head_hash == prev
    victim = data.draw(st.integers(min_value=0, max_value=n - 1))
    body = msgspec.json.decode(rows[victim].state)
    body["occurred_at"] = "1999-01-01T00:00:00Z"
    tampered = [*rows[:victim], StoredRecord(rows[victim].version, rows[victim].topic, canonical_json(body))]
    tampered += rows[victim + 1 :]
    broken = verify_stream(stream_id, tampered).broken
    assert broken is not None and broken.version == victim + 1 and broken.kind == "content_altered"


def _v1_suspended_row(stream_id: UUID, reason: str, occurred_at: datetime) -> StoredEvent:
    """PermitSuspended as an old release wrote it: schema_version 1, payload {"reason": ...}."""
    body: dict[str, Any] = {
        "stream_id": str(stream_id),
        "version": 1,
        "event_id": str(uuid4()),
        "type": "PermitSuspended",
        "schema_version": 1,
        "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
        "metadata": {
            "stream_type": "permit",
            "organisation_id": None,
            "project_id": None,
            "actor": {"id": "app", "kind": "user", "roles": ["approver"], "authority_level": 3},
        },
        "payload": {"reason": reason},
        "prev_hash": GENESIS_HASH,
    }
    body["hash"] = hashlib.sha256(canonical_json(body)).hexdigest()
    return StoredEvent(
        originator_id=stream_id, originator_version=1, topic="PermitSuspended", state=canonical_json(body)
    )


@settings(max_examples=30, deadline=None)
@given(reason=st.text(max_size=200), occurred_at=s.instants)
def test_aud10_a_v1_permit_suspended_is_upcast_on_read_and_its_chain_still_verifies(
    reason: str, occurred_at: datetime
) -> None:
    stream_id = uuid4()
    stored = _v1_suspended_row(stream_id, reason, occurred_at)
    original = bytes(stored.state)
    decoded = mapper.to_domain_event(stored)
    assert decoded.schema_version == PermitSuspended.schema_version == 2
    assert decoded.payload == PermitSuspended(reason_code=SuspensionReason.OTHER, text=reason)
    assert decode_event("PermitSuspended", stored.state) == decoded
    # upcast on read never rewrites: the stored bytes are untouched and still verify
    assert stored.state == original
    verdict = verify_stream(stream_id, [_row(stored)])
    assert verdict.ok, verdict.broken
    assert verdict.head_hash == msgspec.json.decode(original)["hash"]


def test_aud10_a_v1_row_chains_into_v2_successors() -> None:
    stream_id = uuid4()
    old = _v1_suspended_row(stream_id, "gas alarm", datetime(2025, 1, 1, tzinfo=UTC))
    decoded = mapper.to_domain_event(old)
    nxt = seal(
        stream_id=stream_id,
        version=2,
        event_id=uuid4(),
        occurred_at=datetime(2025, 1, 2, tzinfo=UTC),
        metadata=decoded.metadata,
        payload=PermitSuspended(reason_code=SuspensionReason.MANUAL, text="again"),
        prev_hash=decoded.hash,  # the link is the hash of the stored v1 bytes, not of the upcast form
    )
    assert verify_stream(stream_id, [_row(old), _row(mapper.to_stored_event(nxt))]).ok


def test_an_unknown_topic_raises() -> None:
    stored = StoredEvent(originator_id=uuid4(), originator_version=1, topic="NoSuchEvent", state=b"{}")
    with pytest.raises(KeyError):
        mapper.to_domain_event(stored)
    with pytest.raises(KeyError):
        decode_event("NoSuchEvent", b"{}")


def test_a_payload_at_the_current_schema_that_does_not_decode_raises() -> None:
    recorded = _first_event(PermitSuspended(reason_code=SuspensionReason.MANUAL, text="t"))
    body = msgspec.json.decode(mapper.to_stored_event(recorded).state)
    body["payload"] = {"reason": "v1 shape, v2 label"}
    with pytest.raises(msgspec.ValidationError):
        decode_event("PermitSuspended", canonical_json(body))


def test_every_registered_type_name_is_unique_and_is_the_class_name_unless_set() -> None:
    assert len(set(EVENT_TYPES.values())) == len(EVENT_TYPES)
    for name, cls in EVENT_TYPES.items():
        assert cls.type_name == name
        assert not cls.__dict__.get("abstract", False)
        explicitly_set = any("type_name" in c.__dict__ for c in cls.__mro__[:-1] if c is not DomainEvent)
        if not explicitly_set:
            assert name == cls.__name__
    names = [cls.type_name for cls in EVENT_TYPES.values()]
    assert len(names) == len(set(names))


def test_a_clashing_type_name_is_refused_and_not_registered() -> None:
    before = dict(EVENT_TYPES)
    with pytest.raises(TypeError, match="already taken"):

        class PermitDrafted(PermitEvent, frozen=True, kw_only=True):
            pass

    with pytest.raises(TypeError, match="already taken"):

        class Renamed(PermitEvent, frozen=True, kw_only=True):
            type_name = "PermitClosed"

    assert before == EVENT_TYPES
    register_event_type(EVENT_TYPES["PermitClosed"])  # re-registering the same class is harmless
    assert before == EVENT_TYPES


def test_every_event_family_is_registered() -> None:
    def leaves(cls: type[DomainEvent]) -> set[type[DomainEvent]]:
        out = set()
        for sub in cls.__subclasses__():
            if not sub.__dict__.get("abstract", False) and sub.__module__.startswith("ptw_domain."):
                out.add(sub)
            out |= leaves(sub)
        return out

    assert leaves(DomainEvent) <= set(EVENT_TYPES.values())


def test_aud10_the_stored_schema_version_decides_even_when_an_old_payload_fits_the_new_type() -> None:
    """A v1 payload that happens to decode as v2 must still go through its upcaster (not keep its v1 meaning)."""
    from ptw_domain.events.base import EVENT_TYPES, DomainEvent

    class TemperatureNoted(DomainEvent, frozen=True, kw_only=True):
        stream = "permit"
        schema_version = 2
        upcasters = {1: lambda p: {**p, "celsius": (p["celsius"] - 32) * 5 / 9}}  # noqa: RUF012 - v1 stored Fahrenheit
        celsius: float

    try:
        recorded = _first_event(TemperatureNoted(celsius=212.0))
        body = msgspec.json.decode(mapper.to_stored_event(recorded).state)
        body["schema_version"] = 1  # as the old release wrote it: 212 meant Fahrenheit
        decoded = decode_event("TemperatureNoted", canonical_json(body))
        assert decoded.schema_version == 2
        assert decoded.payload.celsius == pytest.approx(100.0)
    finally:
        EVENT_TYPES.pop("TemperatureNoted", None)
