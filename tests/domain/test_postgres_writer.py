"""ADR 0006: the append function takes the EXCLUSIVE table lock before drawing notification ids and holds it
to commit, so events become visible in notification-id order (what a projection tailing the log relies on)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from ptw_domain.clock import ManualClock
from ptw_domain.service import PermitService
from ptw_domain.store.postgres import AppendFunctionRecorder
from ptw_domain.store.streams import fold
from tests.builders import World, edit

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_world(postgres_url: str, clock: ManualClock) -> Iterator[tuple[World, str]]:
    service = PermitService(postgres_url, clock=clock)
    yield World.create(service, clock), postgres_url.split("schema=")[1]
    service.close()


def test_the_store_uses_the_append_function(pg_world: tuple[World, str]) -> None:
    world, _ = pg_world
    assert isinstance(world.service.store.recorder, AppendFunctionRecorder)


def test_an_append_takes_the_exclusive_table_lock(pg_world: tuple[World, str], postgres_dsn: str) -> None:
    world, schema = pg_world
    pid = world.draft()
    done = threading.Event()

    def write() -> None:
        world.service.execute(edit(world, pid, notes="x"))
        done.set()

    with psycopg.connect(postgres_dsn) as holder:
        # ROW EXCLUSIVE (what a plain INSERT takes) does not block another plain INSERT, but it does block
        # the EXCLUSIVE lock the append function must take: waiting here proves the function locks.
        holder.execute(f'LOCK TABLE "{schema}".ptw_events IN ROW EXCLUSIVE MODE')
        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.4)
        assert not done.is_set(), "the append did not wait for the table lock"
        holder.rollback()
    writer.join(timeout=10)
    assert done.is_set()


def test_concurrent_appends_are_visible_in_notification_order(pg_world: tuple[World, str]) -> None:
    world, _ = pg_world
    pids = [world.draft() for _ in range(3)]

    def edits(pid: uuid.UUID) -> None:
        for n in range(15):
            world.service.execute(edit(world, pid, notes=str(n)))

    threads = [threading.Thread(target=edits, args=(pid,)) for pid in pids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = world.service.store.recorder.select_notifications(start=None, limit=10_000)
    ids = [r.id for r in rows]
    assert ids == sorted(ids)
    per_stream: dict[object, list[int]] = {}
    for r in rows:
        per_stream.setdefault(r.originator_id, []).append(r.originator_version)
    assert all(v == sorted(v) for v in per_stream.values())


def test_a_cold_load_in_one_query_equals_the_librarys_replay(pg_world: tuple[World, str]) -> None:
    """Snapshot plus later events in one round trip gives the same stream as the library's repository."""
    world, _ = pg_world
    store = world.service.store
    pid = world.draft()
    for n in range(57):  # a snapshot at version 50, then 8 more events
        world.run(edit(world, pid, notes=str(n)))
    assert store.loads_in_one_query
    loaded = store.load_stream(pid)
    replayed = store.repository.get(pid, version=58, projector_func=fold)  # type: ignore[arg-type]
    assert loaded is not None
    assert (loaded.version, loaded.head_hash, loaded.state) == (58, replayed.head_hash, replayed.state)
    assert store.load_stream(uuid.uuid4()) is None
