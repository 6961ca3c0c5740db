"""Keeping the streams this process has cached current with what other processes write (PostgreSQL, ADR 0006).

A command trusts the cached version of a stream it writes; the store's key refuses a write decided on a stale
one and the command is decided again on fresh streams. When several processes write the same streams (the API's
workers share one socket, so consecutive commands on a permit land on different workers) that retry became the
common case: a refused insert, a fresh load and a second decision for about every other command. The watch
listens on the store's channel and, a moment after an append (so that one read takes all the appends of that
moment), reads the new events and folds each into the cached stream it continues; the next command here starts
from the current version. It carries no guarantee: a command that reads the cache before an event arrives still
ends in the retry, which stays the only safety net.

The watch also knows which cached streams are current as of its position (ADR 0016, readiness from the cache): a
stream read from the store while the watch took in nothing is current as of the watch's position, and stays so
as the watch folds each later event into it. A read that asks for no newer position than the watch's can then be
answered from the cache without a round trip. The watch stops vouching for anything when it loses the store or
has not read it for `STALE_AFTER` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from contextlib import suppress
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from ptw_domain.store.application import PtwStore
from ptw_domain.store.loader import peek
from ptw_domain.store.postgres import AppendFunctionRecorder
from ptw_domain.store.streams import Stream, fold_one

log = logging.getLogger("ptw.store.watch")
GATHER_SECONDS = 0.01  # after an append, wait this long so that one read takes the appends around it
IDLE_SECONDS = 0.2  # without appends, look at the store (and whether to stop) this often
PAGE = 500
PRUNE_AT = 1000  # streams vouched for before those the cache let go of are forgotten
STALE_AFTER = 1.0  # seconds: a watch that has not read the store for this long vouches for no stream


class CacheWatch:
    """A thread folding the store's new events into this process's cached streams, from `start` on."""

    def __init__(self, store: PtwStore, start: int) -> None:
        assert store.repository.cache is not None, "the watch keeps the repository cache"
        assert isinstance(store.recorder, AppendFunctionRecorder), "only a PostgreSQL store is shared"
        self._store = store
        self._recorder = store.recorder
        self._cache = store.repository.cache
        self.position = start  # the last notification id read
        # Held while the watch takes in what it read, so that a reader's `mark` and `confirm` see a position
        # that moves only together with the cached streams.
        self._lock = threading.Lock()
        self._current: dict[UUID, Stream[Any]] = {}  # cached streams known current as of `position`
        self._read_at: float | None = None  # when the last read of the store began; None: lost the store
        self._prune_at = PRUNE_AT
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="ptw-cache-watch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopped.set()
        self._thread.join()
        with self._lock:
            self._read_at = None  # it follows the store no more

    def _follow(self) -> None:
        """Listen, read what was appended, repeat; a lost connection is logged and the listening begun again."""
        while not self._stopped.is_set():
            try:
                with self._recorder.listening() as wait:
                    while not self._stopped.is_set():
                        self._read()
                        if wait(IDLE_SECONDS):
                            self._stopped.wait(GATHER_SECONDS)
            except Exception:  # the cache stays safe without the watch (the store's key); try again later
                log.warning("the cache watch lost the store; listening again", exc_info=True)
                with self._lock:
                    self._read_at = None
                    self._current.clear()
                self._stopped.wait(IDLE_SECONDS)

    def _read(self) -> None:
        while True:
            started = time.monotonic()
            notifications = self._recorder.select_since(self.position, PAGE)
            self.take_in(notifications, started)
            if len(notifications) < PAGE:
                return

    def take_in(self, notifications: Sequence[Notification], read_at: float) -> None:
        """Apply what a read of the store that began at `read_at` found, and move on past it."""
        with self._lock:
            for notification in notifications:
                self.apply(notification)
                self.position = notification.id
            self._read_at = read_at

    def mark(self) -> int:
        """The watch's position before a read of the store, for `confirm` after it."""
        with self._lock:
            return self.position

    def confirm(self, streams: list[Stream[Any]], since: int) -> None:
        """Streams just read from the store and put in the cache are current as of the watch's position if the
        watch took in nothing while they were read (`since`, from `mark`, is still its position): every event
        after what the read saw has a later notification id, and reaches them through `apply`."""
        with self._lock:
            if self.position != since or self._read_at is None:
                return
            for stream in streams:
                if peek(self._cache, stream.id) is stream:
                    self._current[stream.id] = stream
            if len(self._current) > self._prune_at:  # forget the streams the cache has let go of since
                self._current = {i: s for i, s in self._current.items() if peek(self._cache, i) is s}
                self._prune_at = max(PRUNE_AT, 2 * len(self._current))

    def current(self, stream_ids: Sequence[UUID], at_least: int) -> dict[UUID, Stream[Any]] | None:
        """The cached streams, all as of one position, if the watch knows every one of them current as of a
        position at or after `at_least` (a position the answer must reflect) and is following the store; None
        means: read the store."""
        with self._lock:
            if (
                self._read_at is None
                or self.position < at_least
                or time.monotonic() - self._read_at > STALE_AFTER
            ):
                return None
            found = {}
            for stream_id in stream_ids:
                kept = self._current.get(stream_id)
                # never vouched for, or replaced in the cache (a save here) or let go since
                if kept is None or peek(self._cache, stream_id) is not kept:
                    self._current.pop(stream_id, None)
                    return None
                found[stream_id] = kept
            return found

    def apply(self, notification: Notification) -> None:
        """Fold the event into the cached stream it continues; drop a cached stream it does not continue (the
        next command loads it), and leave alone one already at or past it (this process wrote it). Called with
        the lock held (or before any reader, in tests)."""
        stream_id = notification.originator_id
        assert isinstance(stream_id, UUID)  # as psycopg reads the column
        cached = peek(self._cache, stream_id)
        if cached is None:
            return
        assert isinstance(cached, Stream)
        if cached.version >= notification.originator_version:
            return
        if cached.version + 1 == notification.originator_version:
            try:
                recorded = self._store.mapper.to_domain_event(notification)
            except Exception:  # an event this process cannot read: it loads the stream when it needs it
                log.warning("the cache watch could not read event %s", notification.id, exc_info=True)
            else:
                folded = fold_one(cached, recorded)  # type: ignore[arg-type]
                self._cache.put(stream_id, folded)
                if self._current.get(stream_id) is cached:
                    self._current[stream_id] = folded
                return
        self._current.pop(stream_id, None)
        with suppress(KeyError):  # evicted meanwhile
            self._cache.get(stream_id, evict=True)
