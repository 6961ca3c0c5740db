"""The per-stream hash chain (AUD-03) and its verification (AUD-04).

`hash` = SHA-256 of the canonical JSON of the stored body without `hash`; `prev_hash` links to the previous
event of the same stream (64 zeros for the first). Verification works on the stored bytes, so an upcast on read
(AUD-10) never disturbs it, and it names the first broken link.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import msgspec

from ptw_domain.canonical import canonical_json
from ptw_domain.events.base import GENESIS_HASH, DomainEvent, EventMetadata, Recorded


class BreakKind(StrEnum):
    CONTENT_ALTERED = "content_altered"
    LINK_BROKEN = "link_broken"
    VERSION_GAP = "version_gap"
    TRUNCATED = "truncated"


class BrokenLink(msgspec.Struct, frozen=True, kw_only=True):
    """AUD-04: the first broken link of a stream."""

    stream_id: UUID
    version: int
    kind: BreakKind
    expected: str
    stored: str


class StreamVerdict(msgspec.Struct, frozen=True, kw_only=True):
    stream_id: UUID
    events: int
    head_version: int
    head_hash: str
    broken: BrokenLink | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


class StoredRecord(msgspec.Struct, frozen=True):
    """A raw row of the store: what verification reads, never decoded through the domain types."""

    version: int
    topic: str
    state: bytes


def seal(
    *,
    stream_id: UUID,
    version: int,
    event_id: UUID,
    occurred_at: datetime,
    metadata: EventMetadata,
    payload: DomainEvent,
    prev_hash: str,
) -> Recorded[Any]:
    """Build the stored event and compute its hash over everything else it holds."""
    body = {
        "stream_id": stream_id,
        "version": version,
        "event_id": event_id,
        "type": payload.type_name,
        "schema_version": payload.schema_version,
        "occurred_at": occurred_at,
        "metadata": metadata,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    digest = hashlib.sha256(canonical_json(body)).hexdigest()
    return Recorded(
        stream_id=stream_id,
        version=version,
        event_id=event_id,
        type=payload.type_name,
        schema_version=payload.schema_version,
        occurred_at=occurred_at,
        metadata=metadata,
        payload=payload,
        prev_hash=prev_hash,
        hash=digest,
    )


def _body_hash(body: dict[str, Any]) -> str:
    unhashed = {k: v for k, v in body.items() if k != "hash"}
    return hashlib.sha256(canonical_json(unhashed)).hexdigest()


def verify_stream(stream_id: UUID, records: Iterable[StoredRecord]) -> StreamVerdict:
    """Recompute the chain of one stream from its stored rows, in version order."""
    prev_hash, expected_version, count = GENESIS_HASH, 1, 0

    def broken(version: int, kind: BreakKind, expected: str, stored: str) -> StreamVerdict:
        link = BrokenLink(stream_id=stream_id, version=version, kind=kind, expected=expected, stored=stored)
        return StreamVerdict(
            stream_id=stream_id,
            events=count,
            head_version=expected_version - 1,
            head_hash=prev_hash,
            broken=link,
        )

    for record in records:
        if record.version != expected_version:
            return broken(record.version, BreakKind.VERSION_GAP, str(expected_version), str(record.version))
        try:
            body = msgspec.json.decode(record.state)
            stored_hash = body["hash"]
            stored_prev = body["prev_hash"]
            consistent = (
                body["version"] == record.version
                and body["type"] == record.topic
                and body["stream_id"] == str(stream_id)
            )
        except (msgspec.DecodeError, KeyError, TypeError):
            return broken(record.version, BreakKind.CONTENT_ALTERED, "decodable event", "undecodable bytes")
        if stored_prev != prev_hash:
            return broken(record.version, BreakKind.LINK_BROKEN, prev_hash, str(stored_prev))
        recomputed = _body_hash(body)
        if not consistent or recomputed != stored_hash:
            return broken(record.version, BreakKind.CONTENT_ALTERED, recomputed, str(stored_hash))
        prev_hash, expected_version, count = stored_hash, expected_version + 1, count + 1
    return StreamVerdict(
        stream_id=stream_id, events=count, head_version=expected_version - 1, head_hash=prev_hash
    )
