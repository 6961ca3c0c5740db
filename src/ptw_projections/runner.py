"""Running a projection exactly once, in batches: catch up, then follow the store.

Each batch is one transaction holding the view rows and the tracked position (ADR 0010). While behind, a batch
holds up to `batch_size` events; once caught up, a batch is whatever has been recorded since the last one. On
PostgreSQL the runner is woken by the store's NOTIFY and then reads from its position (ADR 0015); SQLite has no
notifications, so it polls. A poison event stops the projection: the good events before it are committed, its
position and error are recorded for `ptw projections status`, and nothing after it is applied.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection

from ptw_domain.events.base import EVENT_TYPES
from ptw_domain.store.application import PtwStore
from ptw_domain.store.mapper import decode_event
from ptw_domain.store.postgres import AppendFunctionRecorder
from ptw_projections.catalogue import Generation, PositionMoved, Stage
from ptw_projections.database import ReadDatabase
from ptw_projections.errors import database_unavailable
from ptw_projections.folding import History
from ptw_projections.locks import hold_projection
from ptw_projections.log import Entry, log_reader
from ptw_projections.projection import Positioned, Projection
from ptw_projections.schema import Layout

T = TypeVar("T")
log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class ProjectionFailed(Exception):
    """A projection stopped at an event it cannot apply; the error is recorded in the catalogue."""

    def __init__(self, name: str, position: int, error: str) -> None:
        super().__init__(f"projection {name!r} stopped at position {position}: {error}")
        self.name = name
        self.position = position
        self.error = error


class Runner:
    """Applies the store's events to one generation of one projection."""

    def __init__(
        self,
        store: PtwStore,
        db: ReadDatabase,
        projection: Projection,
        *,
        batch_size: int = 2000,
    ) -> None:
        self.store = store
        self.db = db
        self.projection = projection
        projection.history = History(store)
        self.layout = Layout(db, projection)
        self.catalogue = self.layout.catalogue
        # (generation, position) this runner itself last committed: the states kept in memory match it
        self._memory: tuple[int, int] | None = None
        self._writer: Connection | None = None  # held while following (see `_transaction`)
        self.batch_size = batch_size
        self._read_log = log_reader(store)

    def head(self) -> int:
        return self.store.head_position()

    def catch_up(
        self,
        generation: Generation,
        *,
        until: int | None = None,
        progress: Progress | None = None,
        freeze: bool = False,
    ) -> int:
        """Apply every event up to `until` (default: the head when called); returns the position reached.

        The next batch is read from the store while the current one is applied (one reader thread), so the
        store's read and the projection's work overlap. The cycle collector stays paused throughout (see
        `_no_cycle_collection`): paused per batch only, the reader's allocations while it ran between two batches
        set off full collections. `freeze` (a rebuild): see `_no_cycle_collection`.
        """
        target = self.head() if until is None else until
        position = self._position(generation)
        if position >= target:
            return position

        def read(after: int) -> Sequence[Entry]:
            return self._read_log(after, self.batch_size, target)

        with (
            _no_cycle_collection(freeze=freeze),
            ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"ptw-read-{self.projection.name}"
            ) as reader,
        ):
            pending = reader.submit(read, position)
            while True:
                rows = pending.result()
                if not rows:
                    break
                if rows[-1].id < target:
                    pending = reader.submit(read, rows[-1].id)
                position = self.apply(generation, rows)  # pauses the cycle collector itself
                if progress:
                    progress(position, target)
                if rows[-1].id >= target:
                    break
        return position

    def apply(self, generation: Generation, rows: Sequence[Entry]) -> int:
        """One batch, one transaction; on failure find the poison event, keep the good prefix, record, raise."""
        try:
            return self._apply_batch(generation, rows)
        except PositionMoved:
            raise
        except Exception as error:
            if database_unavailable(error):  # not the events' fault: nothing was kept, the batch comes again
                raise
            if len(rows) == 1:
                self._record_failure(generation, rows[0])
            for row in rows:  # isolate the poison event; the batch before it is still good
                try:
                    self._apply_batch(generation, [row])
                except PositionMoved:
                    raise
                except Exception as alone:
                    if database_unavailable(alone):
                        raise
                    self._record_failure(generation, row)
            raise AssertionError("a batch failed but each of its events applied alone") from None

    def _apply_batch(self, generation: Generation, rows: Sequence[Entry]) -> int:
        try:
            with _no_cycle_collection():
                reached = self._write_batch(generation, rows)
        except BaseException:
            self.projection.forget()  # states kept in memory may hold what was rolled back
            self._memory = None
            raise
        self._memory = (generation.generation, reached)
        return reached

    def _write_batch(self, generation: Generation, rows: Sequence[Entry]) -> int:
        tables = self.layout.tables(generation.generation)
        with self._transaction() as conn:
            start = self._claim(conn, generation, rows[-1].id)
            fresh = [r for r in rows if r.id > start]
            if not fresh:
                return start
            wanted = self.projection.streams
            events = [
                Positioned(r.id, decode_event(r.topic, r.state))
                for r in fresh
                if wanted is None or EVENT_TYPES[r.topic].stream in wanted
            ]
            self.projection.apply(conn, tables, events)
            return fresh[-1].id

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A batch's transaction, on the connection held while following: for a caught-up runner's batch of a
        few events, taking a connection from the pool and setting it up cost about as much CPU as a statement."""
        if self._writer is None:
            with self.db.writing() as conn:
                yield conn
        else:
            with self._writer.begin():
                yield self._writer

    def _claim(self, conn: Connection, generation: Generation, end: int) -> int:
        """Lock the generation's position for a batch ending at `end` and advance it there (the rows follow in
        the same transaction); returns the position the batch starts after.

        When the position is still the one this runner committed last, one compare-and-set does both (the
        caught-up runner's usual case: a statement fewer per transaction). Otherwise the position is read and
        locked first, and the states kept in memory are forgotten: another generation, or another writer since,
        may have made them stale (at position 0 the generation has applied nothing, so its tables are empty).
        """
        if self._memory is not None and self._memory[0] == generation.generation:
            known = self._memory[1]
            if known < end and self.catalogue.try_advance(conn, generation, known, end):
                return known
        start = self.catalogue.position(conn, generation, for_update=True)
        if self._memory != (generation.generation, start):
            self.projection.forget(empty=start == 0)
        if start < end:
            self.catalogue.advance(conn, generation, start, end)
        return start

    def _record_failure(self, generation: Generation, row: Entry) -> None:
        error = "".join(traceback.format_exception_only(*_current_exception())).strip()
        with self.db.writing() as conn:
            self.catalogue.fail(
                conn, generation, row.id, f"{row.topic} in stream {row.originator_id}: {error}"
            )
        raise ProjectionFailed(self.projection.name, row.id, error)

    def live_generation(self, progress: Progress | None = None) -> Generation:
        """The generation the views show; a projection whose code version changed is rebuilt first."""
        active = self.layout.ensure_active()
        if active.version != self.projection.version:
            return self.rebuild(progress)
        return active

    def rebuild(self, progress: Progress | None = None) -> Generation:
        """Blue/green: fill a new generation beside the live one, then switch the views when it has caught up.

        A rebuild that was interrupted resumes its generation (its rows and position are consistent, being
        written in the same transactions); one left by an older code version is dropped.
        """
        building = None
        with self.db.engine.connect() as conn:
            generations = self.catalogue.generations(conn, self.projection.name)
        for g in generations:
            if g.stage is Stage.ACTIVE:
                continue
            if g.stage is Stage.BUILDING and g.version == self.projection.version and building is None:
                building = g
            else:
                self.layout.drop(g)
        generation = building or self.layout.create_generation(Stage.BUILDING, indexed=False)
        self.catch_up(generation, progress=progress, freeze=True)
        self.layout.add_indexes(generation)
        self.layout.activate(generation)
        return generation

    def follow(self, stop: threading.Event, *, poll_seconds: float = 0.2) -> None:
        """Keep the live generation caught up until `stop` is set, holding the projection's lock; after a
        rebuild elsewhere switches generations, carry on with the new live one."""
        with self.db.writer() as self._writer, hold_projection(self.db, self.projection.name, self._writer):
            try:
                while not stop.is_set():
                    generation = self.live_generation()
                    try:
                        self.catch_up(generation)
                        if self.store.shared_by_processes:
                            self._follow_notified(generation, stop)
                        else:
                            self._follow_polling(generation, stop, poll_seconds)
                    except PositionMoved:
                        continue
            finally:
                self._writer = None

    def _still_live(self, generation: Generation) -> bool:
        active = self._ask(lambda conn: self.catalogue.active(conn, self.projection.name))
        return active is not None and active.generation == generation.generation

    def _position(self, generation: Generation) -> int:
        return self._ask(lambda conn: self.catalogue.position(conn, generation))

    def _ask(self, read: Callable[[Connection], T]) -> T:
        """A read of the catalogue: a follower asks on the connection it holds (one connection a follower, the
        read side's pool is sized for that), a runner that holds none on one from the pool."""
        if self._writer is None:
            with self.db.engine.connect() as conn:
                return read(conn)
        with self._writer.begin():
            return read(self._writer)

    def _follow_polling(self, generation: Generation, stop: threading.Event, poll_seconds: float) -> None:
        while not stop.is_set() and self._still_live(generation):
            if self.catch_up(generation) >= self.head():
                stop.wait(poll_seconds)

    def _follow_notified(self, generation: Generation, stop: threading.Event) -> None:
        """PostgreSQL: LISTEN on the store's channel; whenever woken, read everything recorded since the last
        batch and apply it as one batch. A notification only says "something new": the rows are read from the
        tracked position, so however many arrived while a batch was applied, the next batch takes them all in
        one read and one transaction (the library's subscription read after every notification on a thread
        of its own and handed the rows over one by one through two more threads). LISTEN comes before the
        first read, so nothing recorded after that read goes unnoticed."""
        recorder = self.store.recorder
        assert isinstance(recorder, AppendFunctionRecorder)
        with recorder.listening() as wait:
            position = self._position(generation)
            while not stop.is_set():
                wait(0)  # the notices the read below covers
                rows = self._read_log(position, self.batch_size, None)
                if rows:
                    position = self.apply(generation, rows)
                    continue
                if not wait(0.5) and not self._still_live(generation):
                    return


@contextmanager
def _no_cycle_collection(*, freeze: bool = False) -> Iterator[None]:
    """A batch allocates tens of thousands of decoded events and states, none in reference cycles; letting the
    cycle collector run meanwhile makes it walk every state kept in memory again and again (decoding measured 4x
    slower). Reference counting still frees everything; collection resumes when the block ends.

    With `freeze`, what the block allocated and still holds is moved out of the collector's reach first
    (`gc.freeze`): after a rebuild that is the states the projection keeps, long-lived by design, and the first
    collections after it walked all of them (0.35-0.45 s each, 0.4-0.8 s a rebuild of 80,000 events). Frozen
    objects are still freed by reference counting; a reference cycle left behind by the block would be kept, once
    per rebuild."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was_enabled:
            gc.enable()


def _current_exception() -> tuple[type[BaseException], BaseException]:
    kind, value, _ = sys.exc_info()
    assert kind is not None and value is not None
    return kind, value


def follow_through_outages(
    runner: Runner, stop: threading.Event, *, first_wait: float = 0.5, longest_wait: float = 30.0
) -> None:
    """Follow until `stop` is set, waiting out an outage of the database (a restart, a failover): the follower
    starts again from its tracked position, so no event is missed or applied twice. Any other error (a poison
    event) is raised: the projection stops where `ptw projections status` shows it."""
    wait = first_wait
    while not stop.is_set():
        started = time.monotonic()
        try:
            runner.follow(stop)
            return
        except Exception as error:
            if not database_unavailable(error):
                raise
            if time.monotonic() - started > longest_wait:
                wait = first_wait  # it had been following well: a new outage
            log.warning(
                "projection %s: the database did not answer (%s: %s); trying again in %.1f s",
                runner.projection.name,
                type(error).__name__,
                error,
                wait,
            )
            if stop.wait(wait):
                return
            wait = min(2 * wait, longest_wait)


def start_followers(
    runners: Sequence[Runner], stop: threading.Event, on_error: Callable[[Runner, Exception], None]
) -> list[threading.Thread]:
    """One follower thread per projection (the embedded default runs them inside the serving process)."""
    threads = []
    for runner in runners:

        def target(r: Runner = runner) -> None:
            try:
                follow_through_outages(r, stop)
            except Exception as error:
                on_error(r, error)

        thread = threading.Thread(target=target, name=f"ptw-projection-{runner.projection.name}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads
