"""Keeping the streams this process has cached current with what other processes write (PostgreSQL, ADR 0006).

A command trusts the cached version of a stream it writes; the store's key refuses a write decided on a stale
one and the command is decided again on fresh streams. When several processes write the same streams (the API's
workers share one socket, so consecutive commands on a permit land on different workers) that retry became the
common case: a refused insert, a fresh load and a second decision for about every other command. The watch
listens on the store's channel and, a moment after an append (so that one read takes all the appends of that
moment), reads the new events and folds each into the cached stream it continues; the next command here starts
from the current version. It carries no guarantee: a command that reads the cache before an event arrives still
ends in the retry, which stays the only safety net.
"""

from __future__ import annotations

import logging
import threading
from contextlib import suppress
from uuid import UUID

from eventsourcing.persistence import Notification

from ptw_domain.store.application import PtwStore
from ptw_domain.store.postgres import AppendFunctionRecorder
from ptw_domain.store.streams import Stream, fold_one

log = logging.getLogger("ptw.store.watch")
GATHER_SECONDS = 0.01  # after an append, wait this long so that one read takes the appends around it
IDLE_SECONDS = 0.2  # without appends, look at the store (and whether to stop) this often
PAGE = 500


class CacheWatch:
    """A thread folding the store's new events into this process's cached streams, from `start` on."""

    def __init__(self, store: PtwStore, start: int) -> None:
        assert store.repository.cache is not None, "the watch keeps the repository cache"
        assert isinstance(store.recorder, AppendFunctionRecorder), "only a PostgreSQL store is shared"
        self._store = store
        self._recorder = store.recorder
        self._cache = store.repository.cache
        self.position = start  # the last notification id read
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="ptw-cache-watch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopped.set()
        self._thread.join()

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
                self._stopped.wait(IDLE_SECONDS)

    def _read(self) -> None:
        while True:
            notifications = self._recorder.select_notifications(
                start=self.position, limit=PAGE, inclusive_of_start=False
            )
            for notification in notifications:
                self.apply(notification)
                self.position = notification.id
            if len(notifications) < PAGE:
                return

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
