"""A stream as the event store sees it: id, version, chain head and the immutable folded state.

The library saves any object with `id` and `collect_events()`; we give it this wrapper so decide/evolve stay
pure and immutable while the library's recorders, repository cache and snapshots do the storage work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

import msgspec

from ptw_domain.chain import seal
from ptw_domain.delegation import evolve_delegation
from ptw_domain.events.base import GENESIS_HASH, DomainEvent, EventMetadata, Recorded
from ptw_domain.events.idempotency import CommandAccepted
from ptw_domain.events.sync import SyncCommandRecorded
from ptw_domain.isolation.project_locks import evolve_project_locks
from ptw_domain.isolation.state import evolve_isolation, evolve_point
from ptw_domain.organisation import evolve_organisation, evolve_template
from ptw_domain.people.workers import evolve_worker
from ptw_domain.permit.evolve import evolve_permit
from ptw_domain.project import evolve_project
from ptw_domain.simops.streams import evolve_conflict, evolve_register

S = TypeVar("S")


def _evolve_idempotency(state: CommandAccepted | None, recorded: Recorded[Any]) -> CommandAccepted:
    payload: CommandAccepted = recorded.payload
    return payload


def _evolve_sync_ledger(state: SyncCommandRecorded | None, recorded: Recorded[Any]) -> SyncCommandRecorded:
    payload: SyncCommandRecorded = recorded.payload  # SYNC-03: one outcome per offline command
    return payload


# kind -> (evolve, snapshot interval or None)
KINDS: dict[str, tuple[Callable[[Any, Recorded[Any]], Any], int | None]] = {
    "permit": (evolve_permit, 50),
    "project": (evolve_project, 100),
    "organisation": (evolve_organisation, None),
    "template": (evolve_template, None),
    "delegation": (evolve_delegation, None),
    "idempotency": (_evolve_idempotency, None),
    "worker": (evolve_worker, 50),
    "isolation_point": (evolve_point, 50),
    "isolation": (evolve_isolation, 50),
    "simops_register": (evolve_register, 1000),
    "project_locks": (evolve_project_locks, 1000),
    "conflict": (evolve_conflict, None),
    "sync_ledger": (_evolve_sync_ledger, None),
}


class Stream(Generic[S]):
    """An immutable view of one stream; `append` returns a new one holding the pending events."""

    __slots__ = ("head_hash", "id", "kind", "pending", "state", "version")

    def __init__(
        self,
        *,
        id: UUID,
        kind: str,
        version: int,
        state: S,
        head_hash: str,
        pending: tuple[Recorded[Any], ...] = (),
    ) -> None:
        self.id = id
        self.kind = kind
        self.version = version
        self.state = state
        self.head_hash = head_hash
        self.pending = pending

    def collect_events(self) -> Sequence[Recorded[Any]]:
        return self.pending

    def committed(self) -> Stream[S]:
        """The same stream once its pending events are stored (what the cache keeps)."""
        return Stream(
            id=self.id, kind=self.kind, version=self.version, state=self.state, head_hash=self.head_hash
        )

    def append(
        self,
        payloads: Iterable[DomainEvent],
        *,
        metadata: EventMetadata,
        at: datetime,
        new_id: Callable[[], UUID],
    ) -> Stream[S]:
        """Seal the payloads into the chain and fold them into the state."""
        return append(self, payloads, metadata=metadata, at=at, new_id=new_id)


def append(
    stream: Stream[Any] | None,
    payloads: Iterable[DomainEvent],
    *,
    metadata: EventMetadata,
    at: datetime,
    new_id: Callable[[], UUID],
    stream_id: UUID | None = None,
) -> Stream[Any]:
    """Seal payloads onto a stream (or start a new one with `stream_id`)."""
    current = stream
    pending = list(stream.pending) if stream else []
    for payload in payloads:
        sid = current.id if current else stream_id
        assert sid is not None
        version = (current.version if current else 0) + 1
        prev = current.head_hash if current else GENESIS_HASH
        recorded = seal(
            stream_id=sid,
            version=version,
            event_id=new_id(),
            occurred_at=at,
            metadata=metadata,
            payload=payload,
            prev_hash=prev,
        )
        pending.append(recorded)
        current = fold_one(current, recorded)
        current.pending = tuple(pending)
    assert current is not None, "append needs at least one event for a new stream"
    return current


def fold_one(stream: Stream[Any] | None, recorded: Recorded[Any]) -> Stream[Any]:
    kind = type(recorded.payload).stream
    evolve = KINDS[kind][0]
    state = evolve(stream.state if stream else None, recorded)
    return Stream(
        id=recorded.stream_id, kind=kind, version=recorded.version, state=state, head_hash=recorded.hash
    )


class StreamSnapshot(msgspec.Struct, Generic[S], frozen=True, kw_only=True):
    """A snapshot of a stream's state; stored through the library's snapshot recorder."""

    stream_id: UUID
    version: int
    kind: str
    head_hash: str
    taken_at: datetime
    state: S

    @property
    def originator_id(self) -> UUID:
        return self.stream_id

    @property
    def originator_version(self) -> int:
        return self.version

    @property
    def timestamp(self) -> datetime:
        return self.taken_at

    def to_stream(self) -> Stream[S]:
        return Stream(
            id=self.stream_id,
            kind=self.kind,
            version=self.version,
            state=self.state,
            head_hash=self.head_hash,
        )


def fold(
    stream: Stream[Any] | None, items: Iterable[Recorded[Any] | StreamSnapshot[Any]]
) -> Stream[Any] | None:
    """The repository's projector: a snapshot (if any) then the events after it."""
    for item in items:
        stream = item.to_stream() if isinstance(item, StreamSnapshot) else fold_one(stream, item)
    return stream
