"""The read side inside an embedding application or the serving process (the embedded default).

`ReadModels` opens the read database that belongs to the store, starts one follower thread per projection
(polling on SQLite, LISTEN/NOTIFY on PostgreSQL) and gives the queries a `ReadSide`. In production the
followers run as `ptw projections run` processes instead and the application only reads.
"""

from __future__ import annotations

import logging
import threading

from ptw_domain.store.application import PtwStore
from ptw_projections.database import ReadDatabase, open_read_database
from ptw_projections.reader import ReadSide
from ptw_projections.registry import projections
from ptw_projections.runner import Runner, start_followers

log = logging.getLogger(__name__)


class ReadModels:
    def __init__(self, store: PtwStore, store_url: str, *, names: list[str] | None = None) -> None:
        chosen = projections(names)
        self.db: ReadDatabase = open_read_database(store_url, followers=len(chosen))
        self.runners = [Runner(store, self.db, p) for p in chosen]
        self.reads = ReadSide(self.db)
        self.errors: list[tuple[str, Exception]] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> ReadModels:
        """Catch every projection up (rebuilding one whose code version changed), then follow the store."""
        for runner in self.runners:
            runner.catch_up(runner.live_generation())
        self._threads = start_followers(self.runners, self._stop, self._failed)
        return self

    def _failed(self, runner: Runner, error: Exception) -> None:
        """A stopped projection is visible here and in `ptw projections status`; the others go on."""
        log.error("projection %s stopped: %s", runner.projection.name, error)
        self.errors.append((runner.projection.name, error))

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.db.dispose()
