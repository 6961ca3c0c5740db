"""Keeping the streams this process has cached current with what other processes write (PostgreSQL, ADR 0006).

A command trusts the cached version of a stream it writes; the store's key refuses a write decided on a stale
one and the command is decided again on fresh streams. When several processes write the same streams (the API's
workers share one socket, so consecutive commands on a permit land on different workers) that retry became the
common case: a refused insert, a fresh load and a second decision for about every other command. The watch follows
the store's log with the library's LISTEN/NOTIFY subscription and folds each event into the cached stream it
continues, so the next command here starts from the current version. It carries no guarantee: a command that
reads the cache before an event arrives still ends in the retry, which stays the only safety net.
"""

from __future__ import annotations

import logging
import threading
from contextlib import suppress
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from ptw_domain.store.application import PtwStore
from ptw_domain.store.streams import Stream, fold_one

log = logging.getLogger("ptw.store.watch")
RESUBSCRIBE_SECONDS = 1.0


class CacheWatch:
    """A thread folding the store's new events into this process's cached streams, from `start` on."""

    def __init__(self, store: PtwStore, start: int) -> None:
        assert store.repository.cache is not None, "the watch keeps the repository cache"
        self._store = store
        self._cache = store.repository.cache
        self.position = start  # the last notification id applied (or found not cached)
        self._stopped = threading.Event()
        self._subscription: Any = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._follow, name="ptw-cache-watch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopped.set()
        with self._lock:
            if self._subscription is not None:
                self._subscription.stop()
        self._thread.join()

    def _follow(self) -> None:
        """Subscribe from the last position; a lost connection is logged and the subscription made again."""
        while not self._stopped.is_set():
            try:
                with self._lock:
                    if self._stopped.is_set():
                        return
                    self._subscription = self._store.recorder.subscribe(gt=self.position)
                with self._subscription as notifications:
                    for notification in notifications:
                        self.apply(notification)
                        self.position = notification.id
            except Exception:  # the cache stays safe without the watch (the store's key); try again later
                log.warning("the cache watch lost the store; subscribing again", exc_info=True)
                self._stopped.wait(RESUBSCRIBE_SECONDS)

    def apply(self, notification: Notification) -> None:
        """Fold the event into the cached stream it continues; drop a cached stream it does not continue (the
        next command loads it), and leave alone one already at or past it (this process wrote it)."""
        stream_id = UUID(str(notification.originator_id))
        try:
            cached = self._cache.get(stream_id)
        except KeyError:
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
                self._cache.put(stream_id, fold_one(cached, recorded))  # type: ignore[arg-type]
                return
        with suppress(KeyError):  # evicted meanwhile
            self._cache.get(stream_id, evict=True)
