"""The runner's guarantees (issue 4, read side): exactly once, batched; a poison event stops a projection with
its error on record and nothing skipped; one runner per projection; following the store; blue/green rebuild
under a live follower; verification (AUD-07) that finds a tampered row; read-your-writes (RM-08) and lag.

Each test runs on SQLite (the embedded default, polling) and PostgreSQL (LISTEN/NOTIFY subscription).
"""

from __future__ import annotations

import gc
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner
from eventsourcing.persistence import StoredEvent
from psycopg.pq import TransactionStatus
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    MetaData,
    String,
    Table,
    event,
    func,
    select,
    text,
    update,
)

from ptw_api.cli import cli
from ptw_domain.clock import ManualClock
from ptw_domain.service import PermitService
from ptw_domain.store.mapper import decode_event
from ptw_projections import folding
from ptw_projections.catalogue import Catalogue, PositionMoved, Stage
from ptw_projections.database import ReadDatabase, open_read_database
from ptw_projections.errors import NotCaughtUp
from ptw_projections.locks import ProjectionBusy
from ptw_projections.projection import Positioned, Projection, TableDefinition
from ptw_projections.reader import ReadSide
from ptw_projections.registry import projections
from ptw_projections.runner import ProjectionFailed, Runner
from ptw_projections.verify import verify
from tests.builders import World, edit
from tests.projections.conftest import Projected

FOLLOW_TIMEOUT = 15.0  # generous: a loaded CI machine, four xdist workers
WRITER_ROUNDS = 8
# The runner treats every projection alike; two of different shapes (folded states upserted, append-only rows)
# keep these tests quick as projections are added.
CORE = ["permit_list", "audit_trail"]


# --- helpers -------------------------------------------------------------------------------------------------


@pytest.fixture
def projected(service: PermitService, read_db: ReadDatabase) -> Projected:
    """As the read-side fixture, with the CORE projections only."""
    projected = Projected(service, read_db)
    projected.runners = [r for r in projected.runners if r.projection.name in CORE]
    return projected


def _seen_events(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("position", BigInteger, primary_key=True, autoincrement=False),
        Column("type", String(64), nullable=False),
    )


class Fussy(Projection):
    """A test-only projection that records every event's type, and cannot apply events of `poison` type."""

    name: ClassVar[str] = "fussy"
    version: ClassVar[int] = 1
    definitions: ClassVar[Mapping[str, TableDefinition]] = {"seen_events": _seen_events}

    def __init__(self, poison: str | None = None) -> None:
        self.poison = poison

    def apply(self, conn: Connection, tables: Mapping[str, Table], events: Sequence[Positioned]) -> None:
        rows = []
        for position, recorded in events:
            if recorded.type == self.poison:
                raise ValueError(f"fussy cannot apply {recorded.type}")
            rows.append({"position": position, "type": recorded.type})
        conn.execute(tables["seen_events"].insert(), rows)


def positions(world: World) -> list[tuple[int, str]]:
    """(position, event type) of every event in the store, in log order."""
    rows = world.service.store.recorder.select_notifications(start=0, limit=100_000)
    return [(r.id, decode_event(r.topic, r.state).type) for r in rows]


def view_rows(db: ReadDatabase, projection: Projection) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the stable views show, each table in primary-key order."""
    out = {}
    with db.engine.connect() as conn:
        for base, view in projection.views(db.metadata()).items():
            keys = list(view.primary_key.columns)
            out[base] = [tuple(r) for r in conn.execute(select(view).order_by(*keys))]
    return out


def table_positions(db: ReadDatabase, runner: Runner, base: str = "seen_events") -> list[int]:
    live = runner.layout.active()
    assert live is not None
    table = runner.layout.tables(live.generation)[base]
    with db.engine.connect() as conn:
        return list(conn.execute(select(table.c.position).order_by(table.c.position)).scalars())


def invoke(url: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--database-url", url, "projections", *args], catch_exceptions=False)


@contextmanager
def following(*runners: Runner, poll_seconds: float = 0.05) -> Iterator[list[BaseException]]:
    """`runner.follow` in a thread per runner until the block ends; their exceptions are handed back."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def target(runner: Runner) -> None:
        try:
            runner.follow(stop, poll_seconds=poll_seconds)
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=target, args=(r,), name=f"test-follow-{r.projection.name}", daemon=True)
        for r in runners
    ]
    for thread in threads:
        thread.start()
    try:
        yield errors
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=FOLLOW_TIMEOUT)
        assert not any(t.is_alive() for t in threads), "a follower did not stop when asked"


def caught_up(reads: ReadSide, position: int, names: list[str], errors: list[BaseException]) -> None:
    """RM-08: wait until every named projection has passed `position`; a dead follower shows its own error."""
    try:
        reads.wait_for(position, names, timeout=FOLLOW_TIMEOUT)
    except NotCaughtUp as timeout:
        raise AssertionError(f"{timeout}; follower errors: {errors!r}") from errors[0] if errors else timeout


def some_activity(world: World, n: int = 1) -> None:
    """A few commands: drafts, a submission, an edit."""
    for i in range(n):
        pid = world.draft(title=f"Job {i}")
        world.nominate_and_submit(pid)
        world.run(edit(world, world.draft(), description=f"edited {i}"))


# --- poison events -----------------------------------------------------------------------------------------


def test_a_poison_event_stops_the_projection_after_the_good_prefix_and_a_fix_resumes_there(
    world: World, read_db: ReadDatabase
) -> None:
    world.submitted()
    world.draft()
    log = positions(world)
    poison = next(p for p, kind in log if kind == "PermitSubmitted")
    runner = Runner(world.service.store, read_db, Fussy(poison="PermitSubmitted"), batch_size=50)
    generation = runner.live_generation()

    with pytest.raises(ProjectionFailed) as info:
        runner.catch_up(generation)

    assert info.value.position == poison
    assert "fussy cannot apply PermitSubmitted" in info.value.error
    good = [p for p, _ in log if p < poison]
    assert table_positions(read_db, runner) == good  # the good prefix of the failed batch is committed
    with read_db.engine.connect() as conn:
        row = runner.catalogue.get(conn, "fussy", generation.generation)
    assert row is not None
    assert row.position == good[-1]  # stops before the poison event
    assert row.error_position == poison
    assert row.error is not None and "fussy cannot apply PermitSubmitted" in row.error

    # Trying again fails at the same event: nothing after it is applied, nothing is skipped.
    with pytest.raises(ProjectionFailed) as again:
        runner.catch_up(generation)
    assert again.value.position == poison
    assert table_positions(read_db, runner) == good

    # A fixed projection (new code, same generation) continues from exactly there; the error is cleared.
    fixed = Runner(world.service.store, read_db, Fussy(poison=None), batch_size=3)
    assert fixed.catch_up(fixed.live_generation()) == world.service.store.head_position()
    assert table_positions(read_db, fixed) == [p for p, _ in log]
    with read_db.engine.connect() as conn:
        row = fixed.catalogue.get(conn, "fussy", generation.generation)
    assert row is not None and row.error is None and row.error_position is None


def test_a_poison_event_stops_a_follower_with_the_error(world: World, read_db: ReadDatabase) -> None:
    runner = Runner(world.service.store, read_db, Fussy(poison="PermitDrafted"), batch_size=10)
    runner.catch_up(runner.live_generation())  # everything before the first permit
    with following(runner) as errors:
        world.draft()
        poison = next(p for p, kind in positions(world) if kind == "PermitDrafted")
        for _ in range(int(FOLLOW_TIMEOUT / 0.05)):
            if errors:
                break
            threading.Event().wait(0.05)
    assert len(errors) == 1 and isinstance(errors[0], ProjectionFailed), errors
    assert errors[0].position == poison
    assert runner.catalogue.position_of(runner.layout.ensure_active()) == poison - 1


def test_status_shows_position_head_lag_and_the_error_of_a_stopped_built_in_projection(
    world: World, projected: Projected, database_url: str
) -> None:
    world.approved()
    projected.catch_up()
    head = world.service.store.head_position()

    healthy = invoke(database_url, "status")
    assert healthy.exit_code == 0, healthy.output
    assert f"store head {head}" in healthy.output
    for name in ("permit_list", "audit_trail"):
        line = next(line for line in healthy.output.splitlines() if name in line)
        assert "active" in line and f" {head} " in line and " 0 " in line  # position = head, lag 0

    # An event this version of ptw cannot read (written by a newer one): a realistic poison event.
    world.service.store.recorder.insert_events(
        [StoredEvent(uuid.uuid4(), 1, "ptw.future:PermitTeleported", b"{}")]
    )
    world.draft()  # and a good event after it, which must not be applied either
    poison = head + 1
    assert world.service.store.head_position() > poison

    stopped = invoke(database_url, "run", "--until-caught-up")
    assert stopped.exit_code == 1
    assert f"stopped at position {poison}" in stopped.output
    assert "Traceback" not in stopped.output

    status = invoke(database_url, "status")
    assert status.exit_code == 1
    assert f"at {poison}: ptw.future:PermitTeleported" in status.output
    assert "KeyError" in status.output
    new_head = world.service.store.head_position()
    line = next(line for line in status.output.splitlines() if "permit_list" in line)
    assert f" {head} " in line and f" {new_head - head} " in line  # position before the poison, its lag
    assert f"at {poison}:" in line
    assert projected.reads.position("permit_list") == head

    # The library-level runner says the same, for every projection; nothing after the poison is applied.
    for name in ("permit_list", "audit_trail"):
        runner = projected.runner(name)
        with pytest.raises(ProjectionFailed) as info:
            runner.catch_up(runner.live_generation())
        assert info.value.position == poison
        assert projected.reads.position(name) == head


# --- exactly once -------------------------------------------------------------------------------------------


def test_catching_up_in_pieces_and_again_applies_each_event_once(world: World, read_db: ReadDatabase) -> None:
    some_activity(world, 3)
    world.approved()
    head = world.service.store.head_position()
    runner = Runner(world.service.store, read_db, Fussy(), batch_size=7)
    generation = runner.live_generation()
    log = [p for p, _ in positions(world)]
    for until in (5, 5, 17, 40, head, head):
        runner.catch_up(generation, until=until)
        assert runner.catalogue.position_of(generation) == max(p for p in log if p <= until)
    runner.catch_up(generation)
    assert table_positions(read_db, runner) == [p for p, _ in positions(world)]


def test_a_rebuild_leaves_what_it_keeps_out_of_the_cycle_collectors_walks_and_following_does_not(
    world: World, read_db: ReadDatabase
) -> None:
    """The states a rebuild leaves in memory are frozen (gc.freeze), so no collection after it walks them all
    again; a follower's catch-up freezes nothing (what it leaves behind stays collectable); both leave the
    collector on."""
    some_activity(world, 3)
    gc.unfreeze()
    runner = Runner(world.service.store, read_db, projections(["audit_trail"])[0], batch_size=7)
    generation = runner.rebuild()
    frozen = gc.get_freeze_count()
    assert frozen > 0 and gc.isenabled()
    some_activity(world, 1)
    runner.catch_up(generation)
    assert gc.get_freeze_count() <= frozen and gc.isenabled()  # frozen objects freed since: fewer
    gc.unfreeze()


@pytest.mark.parametrize("name", ["permit_list", "audit_trail", "board"])
def test_a_rebuild_that_knows_its_tables_were_empty_still_reads_every_state_it_wrote(
    world: World, read_db: ReadDatabase, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A folder that remembers the streams written since its generation was empty skips looking up the others; a
    state pushed out of memory (a cache of one state, permits edited in turn across batches) is still read back, so
    the rows equal a build that looks every stream up (verify's scratch build, with that knowledge switched off)."""
    permits = [world.draft(title=f"Job {i}") for i in range(3)]
    for round_ in range(3):
        for pid in permits:
            world.run(edit(world, pid, description=f"round {round_}"))
    monkeypatch.setattr(folding, "CACHE_SIZE", 1)
    Runner(world.service.store, read_db, projections([name])[0], batch_size=2).rebuild()
    monkeypatch.setattr(folding, "KNOWN_SIZE", 0)
    assert verify(Runner(world.service.store, read_db, projections([name])[0], batch_size=50)).ok


def test_two_runners_on_one_generation_alternately_never_apply_an_event_twice(
    world: World, read_db: ReadDatabase
) -> None:
    some_activity(world, 3)
    head = world.service.store.head_position()
    first, second = (Runner(world.service.store, read_db, Fussy(), batch_size=4) for _ in range(2))
    generation = first.live_generation()
    assert second.live_generation().generation == generation.generation
    rows = world.service.store.recorder.select_notifications(start=0, limit=10)
    assert first.apply(generation, rows[:6]) == rows[5].id
    assert second.apply(generation, rows) == rows[-1].id  # the six already applied are not applied again
    assert first.apply(generation, rows) == rows[-1].id  # a stale batch changes nothing
    for step, runner in enumerate([first, second] * 10):
        runner.catch_up(generation, until=min(rows[-1].id + 5 * (step + 1), head))
    assert table_positions(read_db, first) == [p for p, _ in positions(world)]

    # The compare-and-set on the position: a writer that read an old position is refused and rolled back.
    catalogue = Catalogue(read_db)
    with pytest.raises(PositionMoved), read_db.writing() as conn:
        catalogue.advance(conn, generation, head - 1, head + 1)
    assert catalogue.position_of(generation) == head


def test_board_runners_taking_turns_on_one_generation_still_equal_a_fresh_build(
    world: World, read_db: ReadDatabase
) -> None:
    """The board keeps each stream's state and open interval in memory between batches; a runner whose position
    another writer has moved forgets them and reads the tables again, so intervals closed by the other runner's
    batches are not written twice nor missed."""
    world.active()
    world.approved()
    head = world.service.store.head_position()
    first, second = (
        Runner(world.service.store, read_db, projections(["board"])[0], batch_size=3) for _ in "12"
    )
    generation = first.live_generation()
    step = 0
    while first.catalogue.position_of(generation) < head:
        runner = (first, second)[step % 2]
        runner.catch_up(generation, until=min(2 * (step + 1), head))
        step += 1
    assert verify(Runner(world.service.store, read_db, projections(["board"])[0])).ok


def test_two_runners_racing_on_one_generation_apply_each_event_once(
    world: World, read_db: ReadDatabase
) -> None:
    """Concurrent writers (no lock held), as two `ptw projections rebuild` at once would be."""
    some_activity(world, 6)
    head = world.service.store.head_position()
    runners = [
        Runner(world.service.store, read_db, p, batch_size=3) for p in projections(["audit_trail"]) * 2
    ]
    generation = runners[0].live_generation()
    start = threading.Barrier(len(runners))
    errors: list[BaseException] = []

    def race(runner: Runner) -> None:
        start.wait()
        try:
            while runner.catalogue.position_of(generation) < head:
                try:
                    runner.catch_up(generation)
                except PositionMoved:
                    continue  # the other one got there first: re-read and go on
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=race, args=(r,)) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    audit = runners[0].layout.tables(generation.generation)["audit_events"]
    with read_db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit)).scalar_one() == head
        state = runners[0].catalogue.get(conn, "audit_trail", generation.generation)
    assert state is not None and state.position == head and state.error is None
    assert verify(runners[0]).ok


# --- one runner per projection, following the store, read-your-writes ---------------------------------------


def test_a_follower_picks_up_new_commands_and_a_second_follower_is_refused(
    world: World, projected: Projected, read_db: ReadDatabase
) -> None:
    reads = projected.catch_up()
    runners = [Runner(world.service.store, read_db, p, batch_size=50) for p in projections(CORE)]
    names = [r.projection.name for r in runners]
    with following(*runners) as errors:
        for i in range(3):
            some_activity(world)
            head = world.service.store.head_position()
            caught_up(reads, head, names, errors)  # RM-08: returns once passed
            assert all(reads.position(n) >= head for n in names), i

        rival = Runner(world.service.store, read_db, projections(["permit_list"])[0])
        with pytest.raises(ProjectionBusy):
            rival.follow(threading.Event())
        # the refused rival did not disturb the holder, which carries on
        world.approved()
        caught_up(reads, world.service.store.head_position(), names, errors)
    assert not errors, errors

    # Once the holder has stopped, another runner may take the projection.
    stop = threading.Event()
    stop.set()
    rival.follow(stop)
    assert all(verify(r).ok for r in runners)


@pytest.mark.postgres
def test_a_follower_holds_one_connection_which_keeps_its_lock_and_writes_each_batch_as_one_transaction(
    postgres_url: str, clock: ManualClock
) -> None:
    """The advisory lock is a session's and its statements run outside any transaction, on the connection the
    batches are written on; every statement of a batch there still runs inside its transaction."""
    service = PermitService(postgres_url, clock=clock)
    read_db = open_read_database(postgres_url)
    try:
        world = World.create(service, clock)
        runner = Runner(service.store, read_db, projections(["audit_trail"])[0])
        reads = ReadSide(read_db)
        with following(runner) as errors:
            some_activity(world)
            caught_up(reads, service.store.head_position(), ["audit_trail"], errors)
            assert read_db.engine.pool.checkedout() == 1  # type: ignore[attr-defined]
            writer = runner._writer
            assert writer is not None
            driver: Any = writer.connection.driver_connection
            with read_db.engine.connect() as conn:
                holders = conn.execute(
                    text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted")
                )
                assert driver.info.backend_pid in set(holders.scalars())
            statuses: list[TransactionStatus] = []
            event.listen(
                writer, "after_cursor_execute", lambda *_: statuses.append(driver.info.transaction_status)
            )
            world.draft()
            caught_up(reads, service.store.head_position(), ["audit_trail"], errors)
            assert statuses and set(statuses) == {TransactionStatus.INTRANS}
            assert driver.info.transaction_status == TransactionStatus.IDLE  # and none is left open
        assert not errors, errors
    finally:
        read_db.dispose()
        service.close()


def test_wait_for_times_out_with_not_caught_up_and_lag_counts_per_projection(
    world: World, projected: Projected
) -> None:
    reads = projected.catch_up()
    reached = world.service.store.head_position()
    some_activity(world)
    head = world.service.store.head_position()
    reads.wait_for(reached, ["permit_list", "audit_trail"], timeout=0.1)  # already passed: at once

    with pytest.raises(NotCaughtUp) as info:
        reads.wait_for(head, ["permit_list"], timeout=0.2)
    assert (info.value.name, info.value.position, info.value.reached) == ("permit_list", head, reached)
    behind = {r.projection.name: head - reached for r in projected.runners}
    assert {lag.name: lag.lag for lag in reads.lag(head) if lag.name in CORE} == behind

    projected.runner("audit_trail").catch_up(projected.runner("audit_trail").live_generation())
    reads.wait_for(head, ["audit_trail"], timeout=0.1)
    assert {lag.name: lag.lag for lag in reads.lag(head) if lag.name in CORE} == {**behind, "audit_trail": 0}


# --- blue/green rebuild, verification -----------------------------------------------------------------------


def _keep_writing(world: World, stop: threading.Event, errors: list[BaseException]) -> Callable[[], None]:
    """Commands arriving now and then (a bounded number: a rebuild chases the head it saw when it started)."""

    def target() -> None:
        try:
            for _ in range(WRITER_ROUNDS):
                if stop.wait(0.05):
                    return
                some_activity(world)
        except BaseException as error:
            errors.append(error)

    return target


def test_rebuild_beside_a_live_follower_switches_and_the_follower_carries_on_with_the_new_generation(
    world: World, projected: Projected, read_db: ReadDatabase, database_url: str
) -> None:
    world.active()
    some_activity(world, 4)
    reads = projected.catch_up()
    followers = [Runner(world.service.store, read_db, p, batch_size=20) for p in projections(CORE)]
    names = [r.projection.name for r in followers]
    before = {p.name: view_rows(read_db, p) for p in projections(CORE)}
    old = {r.projection.name: r.layout.active() for r in followers}

    with following(*followers) as errors:
        # commands keep arriving while both projections are rebuilt beside the live ones
        stop_writing, write_errors = threading.Event(), []
        writer = threading.Thread(target=_keep_writing(world, stop_writing, write_errors), daemon=True)
        writer.start()
        try:
            for rebuilder in (
                Runner(world.service.store, read_db, p, batch_size=20) for p in projections(CORE)
            ):
                new = rebuilder.rebuild()
                previous = old[rebuilder.projection.name]
                assert previous is not None and new.generation > previous.generation
                live = rebuilder.layout.active()
                assert live is not None and live.generation == new.generation
        finally:
            stop_writing.set()
            writer.join(timeout=FOLLOW_TIMEOUT)
        assert not write_errors, write_errors
        caught_up(reads, world.service.store.head_position(), names, errors)
        # the followers moved to the new generations and keep them current
        some_activity(world)
        head = world.service.store.head_position()
        caught_up(reads, head, names, errors)
    assert not errors, errors

    with read_db.engine.connect() as conn:
        generations = Catalogue(read_db).generations(conn)
    assert [(g.name, g.stage) for g in generations] == [
        (name, Stage.ACTIVE) for name in sorted(names)
    ]  # only the new generations are left
    ok = invoke(database_url, "verify", *CORE)
    assert ok.exit_code == 0, ok.output
    assert all(f"{name}: ok (" in ok.output for name in names)
    assert all(f"at position {head})" in line for line in ok.output.splitlines() if ": ok (" in line)

    # Same events, same content: a switch to a generation rebuilt from them changes nothing readers see.
    stable = {p.name: view_rows(read_db, p) for p in projections(CORE)}
    for runner in followers:
        runner.rebuild()
    assert {p.name: view_rows(read_db, p) for p in projections(CORE)} == stable
    assert stable["permit_list"]["projects"] == before["permit_list"]["projects"]
    earlier = before["audit_trail"]["audit_events"]
    assert stable["audit_trail"]["audit_events"][: len(earlier)] == earlier


def test_verify_reports_a_tampered_live_row_by_column(
    world: World, projected: Projected, read_db: ReadDatabase, database_url: str
) -> None:
    pid = world.approved()
    world.draft()
    projected.catch_up()
    runner = projected.runner("permit_list")
    assert verify(runner).ok

    live = runner.layout.active()
    assert live is not None
    permits = runner.layout.tables(live.generation)["permits"]
    with read_db.writing() as conn:
        conn.execute(update(permits).where(permits.c.permit_id == pid).values(title="Nothing to see here"))

    result = verify(runner)
    assert not result.ok
    assert [(d.table, d.key, d.kind, d.columns) for d in result.differences] == [
        ("permits", [pid], "values_differ", ["title"])
    ]
    assert verify(projected.runner("audit_trail")).ok

    out = invoke(database_url, "verify", "permit_list")
    assert out.exit_code == 1
    assert "permit_list: 1 difference(s)" in out.output
    assert f"  permits [{pid!r}]: values_differ title" in out.output

    # A rebuild replaces the tampered generation with one built from the events.
    runner.rebuild()
    assert verify(runner).ok
    assert invoke(database_url, "verify", "permit_list").exit_code == 0
