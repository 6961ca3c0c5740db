"""A projection follower and an outage of PostgreSQL (a restart, a failover, a cut network path): the follower
waits it out and applies every event recorded meanwhile exactly once; a failure of the database is never taken
for a poison event. And which errors count as the database being unavailable."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

import psycopg
import pytest
import sqlalchemy.exc
from eventsourcing import persistence

from ptw_domain.clock import ManualClock
from ptw_domain.service import PermitService
from ptw_projections.database import open_read_database
from ptw_projections.errors import database_unavailable
from ptw_projections.runner import Runner, follow_through_outages
from tests.builders import World
from tests.cuttable_proxy import proxied
from tests.projections.test_runner_guarantees import (
    FOLLOW_TIMEOUT,
    Fussy,
    positions,
    some_activity,
    table_positions,
)


def eventually(check: Callable[[], bool], what: str) -> None:
    """Wait until `check()` holds; the test's own reads share the pool the cut broke, so a read that meets a
    dropped connection (once, before the pool is renewed) counts as not yet."""
    deadline = time.monotonic() + FOLLOW_TIMEOUT
    while True:
        try:
            if check():
                return
        except Exception as error:
            if not database_unavailable(error):
                raise
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_follower_waits_out_an_outage_and_applies_what_was_recorded_meanwhile_once(
    postgres_url: str, clock: ManualClock
) -> None:
    url, proxy = proxied(postgres_url)
    writer = PermitService(postgres_url, clock=clock)  # the API's processes, still reaching the database
    world = World.create(writer, clock)
    follower_store = PermitService(url, clock=clock)
    read_db = open_read_database(url, followers=1)
    runner = Runner(follower_store.store, read_db, Fussy())
    runner.live_generation()  # its tables exist before the follower starts
    stop = threading.Event()
    errors: list[BaseException] = []

    def follow() -> None:
        try:
            follow_through_outages(runner, stop, first_wait=0.1, longest_wait=0.5)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        some_activity(world, 2)
        eventually(lambda: table_positions(read_db, runner) == [p for p, _ in positions(world)], "caught up")

        proxy.cut()
        some_activity(world, 3)  # recorded while the follower cannot reach the database
        time.sleep(1.0)  # it fails, and tries again, more than once
        assert thread.is_alive() and errors == []
        proxy.restore()

        every = [p for p, _ in positions(world)]
        eventually(lambda: table_positions(read_db, runner) == every, "caught up after the outage")
    finally:
        stop.set()
        thread.join(timeout=FOLLOW_TIMEOUT)
    assert errors == [] and not thread.is_alive()
    assert table_positions(read_db, runner) == every  # each once: the table's key is the position
    live = runner.layout.active()
    assert live is not None
    with read_db.engine.connect() as conn:
        row = runner.catalogue.get(conn, "fussy", live.generation)
    assert row is not None and row.error is None and row.error_position is None  # no event blamed
    read_db.dispose()
    follower_store.close()
    writer.close()
    proxy.cut()


def test_a_follower_still_stops_at_a_poison_event(postgres_url: str, clock: ManualClock) -> None:
    world = World.create(PermitService(postgres_url, clock=clock), clock)
    world.submitted()
    read_db = open_read_database(postgres_url, followers=1)
    runner = Runner(world.service.store, read_db, Fussy(poison="PermitSubmitted"))
    with pytest.raises(Exception, match="fussy cannot apply PermitSubmitted"):
        follow_through_outages(runner, threading.Event(), first_wait=0.01)
    read_db.dispose()
    world.service.close()


def _raised(error: BaseException, cause: BaseException) -> BaseException:
    """`error` raised from `cause`, as the store's recorders raise the library's errors from the driver's."""
    try:
        raise error from cause
    except BaseException as raised:
        return raised


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (psycopg.OperationalError("connection failed: Connection refused"), True),
        (psycopg.errors.AdminShutdown("terminating connection due to administrator command"), True),
        (psycopg.errors.UniqueViolation("duplicate key"), False),
        (sqlalchemy.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("server closed")), True),
        (
            sqlalchemy.exc.ProgrammingError("SELECT x", {}, psycopg.errors.UndefinedColumn("no column x")),
            False,
        ),
        (sqlalchemy.exc.TimeoutError("QueuePool limit reached"), True),
        (_raised(persistence.OperationalError("gone"), psycopg.OperationalError("gone")), True),
        (_raised(persistence.IntegrityError("taken"), psycopg.errors.UniqueViolation("taken")), False),
        (
            _raised(persistence.OperationalError("locked"), sqlite3.OperationalError("database is locked")),
            True,
        ),
        (_raised(persistence.OperationalError("no t"), sqlite3.OperationalError("no such table: t")), False),
        (sqlalchemy.exc.OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: t")), False),
        (ValueError("a bug"), False),
    ],
)
def test_which_errors_are_the_database_being_unavailable(error: BaseException, unavailable: bool) -> None:
    assert database_unavailable(error) is unavailable
