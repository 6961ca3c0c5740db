"""Loading streams with an explicit freshness, so each read pays only for the certainty it needs.

- FRESH: the cached stream fast-forwarded with any newer events (one SELECT). Reads and re-checks use it.
- TRUSTED: the cached stream as it is. Only for a stream the command will write: the store's primary key
  (stream id, version) refuses a write decided on a stale version, and the service then decides again FRESH.
- REFERENCE: configuration a decision reads but does not write (project settings, templates, role policy),
  trusted for `reference_ttl_seconds`; misses are remembered too. Within one process a publication is seen at
  once (saves refresh the cache); another process sees it within the TTL (ADR 0002). Where a watch keeps the
  cache (CacheWatch), a reference it has kept current since it was read is renewed without a read.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from ptw_domain.store.application import PtwStore
from ptw_domain.store.streams import Stream, fold

if TYPE_CHECKING:
    from ptw_domain.store.watch import CacheWatch


class Freshness(Enum):
    FRESH = "fresh"
    TRUSTED = "trusted"
    REFERENCE = "reference"


class NotCached(Exception):
    """A read the cache alone cannot answer (a command decided in the event loop, ADR 0017): read the store."""


class StreamLoader:
    def __init__(
        self, store: PtwStore, *, reference_ttl_seconds: float, watch: CacheWatch | None = None
    ) -> None:
        self._store = store
        self._watch = watch
        self._ttl = reference_ttl_seconds
        self._references: dict[UUID, tuple[float, Stream[Any] | None]] = {}

    def get(self, stream_id: UUID, freshness: Freshness = Freshness.FRESH) -> Stream[Any] | None:
        known, stream = self._in_memory(stream_id, freshness)
        if known:
            return stream
        watch = self._watch if freshness is Freshness.REFERENCE else None
        since = watch.mark() if watch is not None else 0
        stream = self._load(stream_id)
        if freshness is Freshness.REFERENCE:
            self._references[stream_id] = (time.monotonic(), stream)
            if watch is not None and stream is not None:
                watch.confirm([stream], since)  # from now on renewed without a read while the watch vouches
        return self._remember(stream_id, stream)

    def cached(self, stream_id: UUID, freshness: Freshness) -> Stream[Any] | None:
        """What `get` answers without reading the store (TRUSTED from the cache, REFERENCE within its time to
        live); NotCached when it would read it."""
        known, stream = self._in_memory(stream_id, freshness)
        if not known:
            raise NotCached(str(stream_id))
        return stream

    def _in_memory(self, stream_id: UUID, freshness: Freshness) -> tuple[bool, Stream[Any] | None]:
        if freshness is Freshness.TRUSTED:
            cached = peek(self._store.repository.cache, stream_id)
            if cached is not None:
                return True, cached
        if freshness is Freshness.REFERENCE:
            seen = self._references.get(stream_id)
            if seen is not None and time.monotonic() - seen[0] < self._ttl:
                return True, seen[1]
            if seen is not None and (renewed := self._renewed(stream_id)) is not None:
                return True, renewed
        return False, None

    def _renewed(self, stream_id: UUID) -> Stream[Any] | None:
        """A reference past its time to live that the watch has kept current since it was read: as fresh as a
        read of the store now (the watch vouches only while it has read the store within the last second), so
        it is renewed without one. Otherwise every reference lapsed once a second and the next read in each
        worker paid a round trip for it (a readiness, or a command sent to the threaded path: ADR 0016)."""
        kept = self._kept([stream_id], 0)
        if kept is None:
            return None
        self._references[stream_id] = (time.monotonic(), kept[stream_id])
        return kept[stream_id]

    def _remember(self, stream_id: UUID, stream: Stream[Any] | None) -> Stream[Any] | None:
        """A stream read fresh renews its reference entry, if it has one."""
        if stream_id in self._references:
            self._references[stream_id] = (time.monotonic(), stream)
        return stream

    def get_fresh(
        self, stream_ids: Sequence[UUID], *, at_least: int | None = None
    ) -> dict[UUID, Stream[Any] | None]:
        """FRESH reads of several streams; on a store shared by processes the cached ones are fast-forwarded
        together in one round trip instead of one each.

        `at_least`: a store position the answer must reflect. Where a watch keeps the cache (CacheWatch) and
        knows every one of the streams current as of that position or later, they are answered from the cache
        with no round trip; the streams read otherwise are offered to the watch to vouch for next time."""
        watch = self._watch
        if watch is None:
            return self._read_fresh(stream_ids)
        if (kept := self._kept(stream_ids, at_least)) is not None:
            return kept
        since = watch.mark()
        found = self._read_fresh(stream_ids)
        watch.confirm([s for s in found.values() if s is not None], since)
        return found

    def vouched(self, stream_ids: Sequence[UUID], at_least: int | None) -> dict[UUID, Stream[Any] | None]:
        """`get_fresh` from memory alone: the streams the watch vouches for as of `at_least`; NotCached when
        that needs a read of the store (no watch, no position to reflect, or a stream not vouched for)."""
        kept = self._kept(stream_ids, at_least)
        if kept is None:
            raise NotCached(", ".join(map(str, stream_ids)))
        return kept

    def _kept(
        self, stream_ids: Sequence[UUID], at_least: int | None
    ) -> dict[UUID, Stream[Any] | None] | None:
        """The cached streams, if the watch vouches for every one of them as of `at_least`; else None."""
        if self._watch is None or at_least is None:
            return None
        kept = self._watch.current(stream_ids, at_least)
        return None if kept is None else dict(kept)

    def _read_fresh(self, stream_ids: Sequence[UUID]) -> dict[UUID, Stream[Any] | None]:
        cache = self._store.repository.cache
        cached = [s for i in stream_ids if (s := peek(cache, i)) is not None]
        if len(cached) < 2 or not self._store.shared_by_processes:
            return {i: self.get(i) for i in stream_ids}
        assert cache is not None  # it holds `cached`
        found: dict[UUID, Stream[Any] | None] = {}
        for old, stream in zip(cached, self._store.fast_forward(cached), strict=True):
            if stream is not old:
                cache.put(stream.id, stream)
            found[stream.id] = self._remember(stream.id, stream)
        return {i: found[i] if i in found else self.get(i) for i in stream_ids}

    def _load(self, stream_id: UUID) -> Stream[Any] | None:
        """Fast-forward a cached stream (one SELECT); load an uncached one from its latest snapshot."""
        cache = self._store.repository.cache
        cached = peek(cache, stream_id)
        if cached is None and self._store.loads_in_one_query:
            loaded = self._store.load_stream(stream_id)
            if loaded is not None and cache is not None:
                cache.put(stream_id, loaded)
            return loaded
        try:
            stream: Stream[Any] = self._store.repository.get(stream_id, projector_func=fold)
        except AggregateNotFoundError:
            return None
        if cache is not None:
            cache.put(stream_id, stream)  # the library cannot update an immutable state in place
        return stream

    def saved(self, streams: list[Stream[Any]]) -> None:
        """Streams just written: what this process knows about them is now current."""
        now = time.monotonic()
        for stream in streams:
            if stream.id in self._references:
                self._references[stream.id] = (now, stream.committed())


def peek(cache: Any, stream_id: UUID) -> Any:
    """The cached stream, or None (a miss leaves the cache as it was)."""
    if cache is None:
        return None
    try:
        return cache.get(stream_id)
    except KeyError:
        return None
