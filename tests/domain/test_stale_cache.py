"""Two services on one store: each one's cache goes stale when the other writes. Decisions taken on a cached
stream are only kept when the store accepts the write; refusals and no-ops are confirmed on fresh streams."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Notification

from ptw_domain import commands as c
from ptw_domain.clock import ManualClock
from ptw_domain.errors import InvalidTransition
from ptw_domain.service import PermitService
from ptw_domain.simops.streams import register_id
from ptw_domain.store.loader import Freshness, NotCached
from ptw_domain.store.postgres import AppendFunctionRecorder
from ptw_domain.store.streams import Stream
from tests.builders import World, edit, nominate


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def two(shared_url: str, clock: ManualClock) -> Iterator[tuple[World, PermitService]]:
    first = PermitService(shared_url, clock=clock)
    second = PermitService(shared_url, clock=clock)
    yield World.create(first, clock), second
    first.close()
    second.close()


def test_an_edit_that_looks_like_a_no_op_on_a_stale_cache_is_applied(
    two: tuple[World, PermitService],
) -> None:
    world, second = two
    pid = world.draft()
    world.run(edit(world, pid, notes="A"))  # first service caches notes = A
    second.execute(edit(world, pid, notes="B"))  # the store now says B; the first cache still says A
    result = world.run(edit(world, pid, notes="A"))
    assert result.events == ("PermitEdited",)
    assert second.permit(pid).content.notes == "A"


def test_a_write_decided_on_a_stale_cache_is_decided_again(two: tuple[World, PermitService]) -> None:
    world, second = two
    pid = world.draft()
    world.run(edit(world, pid, notes="A"))
    second.execute(edit(world, pid, notes="B"))
    world.run(edit(world, pid, notes="C"))
    history = second.history(pid)
    assert [e.version for e in history] == list(range(1, len(history) + 1))
    assert second.permit(pid).content.notes == "C"
    assert all(v.ok for v in second.verify_chain([pid]))


def test_a_refusal_on_a_stale_cache_is_confirmed_on_fresh_state(two: tuple[World, PermitService]) -> None:
    """LIFE-02 must be judged on the recorded status, not on a cached one."""
    world, second = two
    pid = world.submitted()  # the first service caches status submitted
    second.execute(c.WithdrawPermit(actor=world.actor("req"), permit_id=pid))  # store: draft
    world.run(nominate(world, pid))
    with pytest.raises(InvalidTransition):
        world.run(c.WithdrawPermit(actor=world.actor("req"), permit_id=pid))  # stale cache would allow it
    assert second.permit(pid).status == "draft"


def test_readiness_reads_the_permit_and_its_simops_register_fresh(two: tuple[World, PermitService]) -> None:
    """RDY-01 judges the recorded state whatever this service cached: the permit and the project's SIMOPS
    register, read together (in one round trip on PostgreSQL), are both brought up to date."""
    world, second = two
    pid = world.submitted()
    world.service.readiness(pid, within=world.project_id)  # caches both streams here
    register = register_id(world.project_id)
    cached = _cached(world.service, register).version
    dataclasses.replace(world, service=second).submitted()  # same site, same hours: the register changes
    second.execute(c.WithdrawPermit(actor=world.actor("req"), permit_id=pid))
    seen = world.service.readiness(pid, within=world.project_id)
    assert seen.status == "draft"
    assert seen == second.readiness(pid, within=world.project_id)
    assert _cached(world.service, register).version == _cached(second, register).version > cached


def _cached(service: PermitService, stream_id: uuid.UUID) -> Stream[Any]:
    cache = service.store.repository.cache
    assert cache is not None
    found = cache.get(stream_id)
    assert isinstance(found, Stream)
    return found


# --- the cache watch (ADR 0006): a service that shares its store keeps its cached streams current ---------------


@pytest.fixture
def watched(postgres_url: str, clock: ManualClock) -> Iterator[tuple[World, PermitService]]:
    """A watching service (as an API worker is) and a second writer on the same PostgreSQL store."""
    first = PermitService(postgres_url, clock=clock, watch_other_writers=True)
    second = PermitService(postgres_url, clock=clock)
    yield World.create(first, clock), second
    first.close()
    second.close()


def cached(service: PermitService, stream_id: uuid.UUID) -> Stream[Any] | None:
    cache = service.store.repository.cache
    assert cache is not None
    try:
        return cache.get(stream_id)  # type: ignore[no-any-return]
    except KeyError:
        return None


def eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.01)


@pytest.mark.postgres
def test_a_watching_service_folds_what_another_process_writes_into_its_cache(
    watched: tuple[World, PermitService],
) -> None:
    world, second = watched
    pid = world.draft()
    world.run(edit(world, pid, notes="A"))
    second.execute(edit(world, pid, notes="B"))
    recorded = second.permit(pid)
    eventually(lambda: (s := cached(world.service, pid)) is not None and s.version == recorded.version)
    stream = cached(world.service, pid)
    assert stream is not None and stream.state == recorded  # the same state the store folds
    assert stream.head_hash == second.history(pid)[-1].hash
    world.run(edit(world, pid, notes="C"))  # decided on the current version: the store takes it
    assert second.permit(pid).content.notes == "C"


@pytest.mark.postgres
def test_the_watch_reads_the_notifications_the_library_reads(watched: tuple[World, PermitService]) -> None:
    """`select_since`, the watch's fixed statement, gives what the library's `select_notifications` gives after
    a position: every later event in log order, with its state, a page at a time."""
    world, _second = watched
    for _ in range(3):
        world.draft()
    recorder = world.service.store.recorder
    assert isinstance(recorder, AppendFunctionRecorder)
    for start, limit in ((0, 10**6), (2, 5), (recorder.max_notification_id() or 0, 10)):
        assert recorder.select_since(start, limit) == recorder.select_notifications(
            start=start, limit=limit, inclusive_of_start=False
        )
    assert len(recorder.select_since(2, 5)) == 5


@pytest.mark.postgres
def test_the_watch_drops_a_cached_stream_it_cannot_continue(watched: tuple[World, PermitService]) -> None:
    """An event past the next version (or one this process cannot read) leaves no state to fold into: the
    stream is dropped and loaded when a command needs it; an event this process already has changes nothing."""
    world, second = watched
    pid = world.draft()
    world.run(edit(world, pid, notes="A"))
    stream = cached(world.service, pid)
    assert stream is not None
    watch = world.service._watch
    assert watch is not None
    row = world.service.store.recorder.select_notifications(start=0, limit=10**6)[-1]
    assert row.originator_version == stream.version
    watch.apply(row)  # this process wrote it
    assert cached(world.service, pid) is stream
    watch.apply(dataclasses.replace(row, originator_version=stream.version + 2))
    assert cached(world.service, pid) is None
    world.run(edit(world, pid, notes="B"))  # loaded again from the store
    reloaded = cached(world.service, pid)
    assert reloaded is not None and reloaded.state == second.permit(pid)
    watch.apply(dataclasses.replace(row, originator_version=reloaded.version + 1, state=b"not an event"))
    assert cached(world.service, pid) is None


@pytest.mark.postgres
def test_closing_a_watching_service_stops_its_watch(postgres_url: str, clock: ManualClock) -> None:
    service = PermitService(postgres_url, clock=clock, watch_other_writers=True)
    assert any(t.name == "ptw-cache-watch" for t in threading.enumerate())
    service.close()
    assert not any(t.name == "ptw-cache-watch" for t in threading.enumerate())


def test_a_store_only_one_process_writes_has_no_watch(tmp_path: Path, clock: ManualClock) -> None:
    service = PermitService(f"sqlite:///{tmp_path / 'one.db'}", clock=clock, watch_other_writers=True)
    try:
        assert service._watch is None
        assert not any(t.name == "ptw-cache-watch" for t in threading.enumerate())
    finally:
        service.close()


# --- readiness from the watched cache (ADR 0016): no round trip when the watch vouches for both streams --------


def vouched(service: PermitService, permit_id: uuid.UUID, project_id: uuid.UUID, at_least: int = 0) -> bool:
    watch = service._watch
    assert watch is not None
    return watch.current([permit_id, register_id(project_id)], at_least) is not None


def read_until_vouched(
    service: PermitService, permit_id: uuid.UUID, project_id: uuid.UUID, at_least: int = 0
) -> Any:
    """Readiness, asked until the watch vouches for the streams it read (a read during which the watch took in
    events is not vouched for; the next one is, once the watch is quiet). Returns the last answer."""
    answers = []

    def vouched_after_reading() -> bool:
        answers.append(service.readiness(permit_id, within=project_id, at_least=at_least))
        return vouched(service, permit_id, project_id, at_least)

    eventually(vouched_after_reading)
    return answers[-1]


class StoreReads:
    """Counts the reads of events a service makes (delegating to its real recorder)."""

    def __init__(self, service: PermitService, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        recorder = service.store.recorder
        for name in ("select_after", "select_stream", "select_events"):
            real = getattr(recorder, name)
            monkeypatch.setattr(recorder, name, self._counting(real))

    def _counting(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def read(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return real(*args, **kwargs)

        return read


@pytest.mark.postgres
def test_readiness_is_answered_from_the_streams_the_watch_vouches_for(
    watched: tuple[World, PermitService], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once read while the watch took in nothing, the permit and the SIMOPS register are current as of the
    watch's position: a readiness asking for no later position reads nothing from the store, and says the
    same as one read from it."""
    world, second = watched
    pid = world.submitted()
    read_until_vouched(world.service, pid, world.project_id)
    reads = StoreReads(world.service, monkeypatch)
    served = world.service.readiness(pid, within=world.project_id, at_least=0)
    assert reads.count == 0
    assert served == second.readiness(pid, within=world.project_id)


@pytest.mark.postgres
def test_another_writers_change_reaches_readiness_served_from_the_cache(
    watched: tuple[World, PermitService],
) -> None:
    """RM-08 across processes: asked for the position of another process's write, readiness reflects it at
    once (read from the store if the watch has not passed it yet); once the watch has passed it, readiness is
    served from vouched streams again."""
    world, second = watched
    pid = world.submitted()
    read_until_vouched(world.service, pid, world.project_id)
    withdrawn = second.execute(c.WithdrawPermit(actor=world.actor("req"), permit_id=pid))
    assert withdrawn.position is not None
    seen = world.service.readiness(pid, within=world.project_id, at_least=withdrawn.position)
    assert seen.status == "draft" and seen.version == withdrawn.version
    again = read_until_vouched(world.service, pid, world.project_id, withdrawn.position)
    assert again.version == seen.version


@pytest.mark.postgres
def test_streams_read_while_the_watch_took_in_events_are_not_vouched_for(
    watched: tuple[World, PermitService],
) -> None:
    """The race the vouching guards against: an event the watch takes in while a stream is being read may be
    one the read missed, and the watch skipped it (the stream was not cached yet). Such a read is not kept as
    current; the next read of the store is."""
    world, _second = watched
    pid = world.submitted()
    watch = world.service._watch
    assert watch is not None
    eventually(lambda: watch.position == world.service.store.head_position())
    since = watch.mark()
    world.service.permit(pid)  # a read of the store, putting the stream in the cache
    loaded = cached(world.service, pid)
    assert loaded is not None
    other = Notification(  # another writer's event on a stream this process does not cache
        id=since + 1, originator_id=uuid.uuid4(), originator_version=1, topic="t", state=b""
    )
    watch.take_in([other], time.monotonic())
    watch.confirm([loaded], since)
    assert watch.current([pid], 0) is None
    assert watch.current([pid], 0) is None  # and it stays unvouched until read again
    read_until_vouched(world.service, pid, world.project_id)


@pytest.mark.postgres
def test_a_stream_this_process_writes_is_vouched_for_again_only_after_a_read(
    watched: tuple[World, PermitService],
) -> None:
    """A command's save puts the committed stream in the cache without the watch's position in view: another
    writer's next event may already be past it. Only a read of the store makes it current again."""
    world, _second = watched
    pid = world.submitted()
    read_until_vouched(world.service, pid, world.project_id)
    world.run(c.WithdrawPermit(actor=world.actor("req"), permit_id=pid))
    assert not vouched(world.service, pid, world.project_id)
    assert read_until_vouched(world.service, pid, world.project_id).status == "draft"


@pytest.mark.postgres
def test_a_closed_watch_vouches_for_nothing(postgres_url: str, clock: ManualClock) -> None:
    service = PermitService(postgres_url, clock=clock, watch_other_writers=True)
    world = World.create(service, clock)
    pid = world.submitted()
    read_until_vouched(service, pid, world.project_id)
    watch = service._watch
    assert watch is not None
    watch.close()  # the cache is still there; the watch no longer follows the store
    try:
        assert not vouched(service, pid, world.project_id)
    finally:
        service.close()


@pytest.mark.postgres
def test_readiness_from_memory_alone_is_the_same_answer_or_not_cached_having_read_nothing(
    watched: tuple[World, PermitService], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cached_only` (an API answering in its event loop, ADR 0016): vouched streams give the answer a read of
    the store gives; a permit not vouched for, a position the watch has not reached, or a past version raise
    NotCached without a read of the store."""
    world, second = watched
    pid, other = world.submitted(), world.submitted()
    read_until_vouched(world.service, pid, world.project_id)
    reads = StoreReads(world.service, monkeypatch)
    served = world.service.readiness(pid, within=world.project_id, at_least=0, cached_only=True)
    assert served == second.readiness(pid, within=world.project_id)
    ahead = world.service.store.head_position() + 1
    for asked in (
        {"permit_id": other, "at_least": 0},  # written here, never read since: not vouched for
        {"permit_id": pid, "at_least": ahead},
        {"permit_id": pid, "at_least": 0, "version": 1},
    ):
        with pytest.raises(NotCached):
            world.service.readiness(within=world.project_id, cached_only=True, **asked)  # type: ignore[arg-type]
    assert reads.count == 0


def answered_from_memory(
    service: PermitService, permit_id: uuid.UUID, project_id: uuid.UUID, *, pause: float = 0.0
) -> None:
    """Readiness read from the store, then (after `pause` seconds) from memory alone, until memory alone answers
    (the watch vouches only for streams read while it took in nothing)."""

    def attempt() -> bool:
        service.readiness(permit_id, within=project_id, at_least=0)
        time.sleep(pause)
        try:
            service.readiness(permit_id, within=project_id, at_least=0, cached_only=True)
        except NotCached:
            return False
        return True

    eventually(attempt)


@pytest.mark.postgres
def test_a_permits_isolations_are_read_with_it_and_vouched_for_like_it(
    watched: tuple[World, PermitService], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readiness reads the permit's isolations fresh: together with it, and from the watched cache once vouched
    for, so that readiness of an isolated permit is answered from memory too, as a read of the store answers."""
    world, second = watched
    pid = world.submitted()
    world.assign_point(pid)
    assert world.permit(pid).isolations.isolation_ids()
    answered_from_memory(world.service, pid, world.project_id)
    reads = StoreReads(world.service, monkeypatch)
    served = world.service.readiness(pid, within=world.project_id, at_least=0, cached_only=True)
    assert reads.count == 0
    assert served == second.readiness(pid, within=world.project_id)


@pytest.mark.postgres
def test_references_the_watch_keeps_current_are_renewed_without_a_read(
    postgres_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Project settings, templates and policy are trusted for the reference time to live; in a watching service a
    reference the watch has kept current since it was read is renewed past it without a read, and another
    process's change to it arrives through the watch."""
    service = PermitService(postgres_url, clock=clock, watch_other_writers=True, reference_ttl_seconds=0.05)
    second = PermitService(postgres_url, clock=clock)
    try:
        world = World.create(service, clock)
        pid = world.submitted()
        # once every reference read has lapsed (one lapsed is read again, and vouched for if the watch was quiet)
        answered_from_memory(service, pid, world.project_id, pause=0.1)
        reads = StoreReads(service, monkeypatch)
        time.sleep(0.1)
        service.readiness(pid, within=world.project_id, at_least=0, cached_only=True)
        assert reads.count == 0
        changed = dataclasses.replace(world, service=second).change_settings(offline_max_age_hours=24)

        def seen() -> bool:
            project = service._loader.get(world.project_id, Freshness.REFERENCE)
            return project is not None and project.version == changed.version

        eventually(seen)
        assert reads.count == 0
    finally:
        service.close()
        second.close()


def test_readiness_from_memory_alone_without_a_watch_is_never_answered(
    two: tuple[World, PermitService],
) -> None:
    """Without a watch nothing vouches for a cached stream: readiness from memory alone is always NotCached
    (the API then answers it in its thread pool, from the store)."""
    world, _second = two
    pid = world.submitted()
    world.service.readiness(pid, within=world.project_id, at_least=0)
    with pytest.raises(NotCached):
        world.service.readiness(pid, within=world.project_id, at_least=0, cached_only=True)


def test_readiness_asked_for_a_position_reads_the_store_where_no_watch_keeps_the_cache(
    two: tuple[World, PermitService],
) -> None:
    """SQLite (one writing process) and a PostgreSQL service without a watch read both streams fresh: the
    position asked for is always reflected."""
    world, second = two
    pid = world.submitted()
    world.service.readiness(pid, within=world.project_id, at_least=0)
    withdrawn = second.execute(c.WithdrawPermit(actor=world.actor("req"), permit_id=pid))
    seen = world.service.readiness(pid, within=world.project_id, at_least=withdrawn.position)
    assert seen.status == "draft"
