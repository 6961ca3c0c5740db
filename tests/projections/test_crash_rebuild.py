"""A crash test of the blue/green rebuild: SIGKILL the runner process at random points, 20 times, restarting each
time; what readers see is always the complete live generation, the interrupted generation holds exactly the
events up to its tracked position (exactly once), and the finished rebuild equals a clean one.

The rebuilds run in processes forked by tests/projections/crash_rebuild_helper.py (imports paid once), each with
batches of 20 events so that kills land between batches, inside them, while a generation is created, and while
the views switch. Seeded: a failure names its seed. Two projections of different shapes are crashed (folded
states upserted, append-only rows): what is at stake is the runner's and the layout's transactions, which every
projection shares; that each projection restarts from its tables alone is checked for all of them by the
property test (test_replay_equivalence, its `restart` rule). The history (1,500 events written through the public
PermitService) is built once per worker in memory and copied byte for byte into each backend's store.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from sqlalchemy import func, select

from ptw_domain.clock import ManualClock
from ptw_domain.service import PermitService
from ptw_domain.store.application import PtwStore
from ptw_domain.store.mapper import decode_event
from ptw_domain.store.settings import store_env
from ptw_projections.catalogue import Catalogue, Stage
from ptw_projections.database import ReadDatabase
from ptw_projections.registry import projections
from ptw_projections.runner import Runner
from tests.builders import START, World, edit

HELPER = Path(__file__).with_name("crash_rebuild_helper.py")
KILLS = 20
BATCH_SIZE = 20
MIN_EVENTS = 1500
CRASHED = ["permit_list", "audit_trail"]


def build_history(world: World) -> None:
    """Enough events of enough kinds: permits approved, activated, closed, cancelled, edited."""
    n = 0
    while world.service.store.head_position() < MIN_EVENTS:
        n += 1
        if n % 10 == 0:
            world.closed()
        elif n % 7 == 0:
            world.run(edit(world, world.draft(), description=f"Edited {n}"))
        else:
            world.approved()


@cache
def history() -> tuple[StoredEvent, ...]:
    clock = ManualClock(START)
    service = PermitService("memory://", clock=clock)
    try:
        build_history(World.create(service, clock))
        rows = service.store.recorder.select_notifications(start=0, limit=100_000)
        return tuple(StoredEvent(r.originator_id, r.originator_version, r.topic, r.state) for r in rows)
    finally:
        service.close()


@pytest.fixture
def store(database_url: str) -> Iterator[PtwStore]:
    """The backend's store holding the history."""
    store = PtwStore(env=store_env(database_url))
    store.recorder.insert_events(list(history()))
    yield store
    store.close()


def view_rows(db: ReadDatabase) -> dict[str, dict[str, list[tuple[Any, ...]]]]:
    out: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    with db.engine.connect() as conn:
        for projection in projections(CRASHED):
            out[projection.name] = {
                base: [tuple(r) for r in conn.execute(select(view).order_by(*view.primary_key.columns))]
                for base, view in projection.views(db.metadata()).items()
            }
    return out


class ForkServer:
    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HELPER), url, str(BATCH_SIZE), *CRASHED],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def rebuild(self, kill_after: float = -1.0) -> tuple[str, float]:
        """Run one rebuild in a fresh process, SIGKILLed after `kill_after` seconds unless it finished first."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"go {kill_after}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline().split()
        assert line and line[0] == "done", f"the fork server stopped: {line}"
        outcome = "killed" if line[2] == "killed" else f"exit {line[3]}"
        return outcome, float(line[-1])

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def fork_server(database_url: str) -> Iterator[ForkServer]:
    server = ForkServer(database_url)
    yield server
    server.close()


def check_interrupted_state(db: ReadDatabase, log: list[int]) -> None:
    """After a kill: per projection one live generation, complete, and at most one building one; the audit
    trail's building generation holds exactly the events up to its tracked position."""
    catalogue = Catalogue(db)
    with db.engine.connect() as conn:
        generations = catalogue.generations(conn)
        audit_view = projections(["audit_trail"])[0].views(db.metadata())["audit_events"]
        assert conn.execute(select(func.count()).select_from(audit_view)).scalar_one() == len(log)
    for projection in projections(CRASHED):
        mine = [g for g in generations if g.name == projection.name]
        live = [g for g in mine if g.stage is Stage.ACTIVE]
        assert len(live) == 1 and live[0].position == log[-1], mine
        assert all(g.stage in (Stage.ACTIVE, Stage.BUILDING) and g.error is None for g in mine), mine
        assert len(mine) <= 2, mine
    audit = projections(["audit_trail"])[0]
    for g in generations:
        if g.name == "audit_trail" and g.stage is Stage.BUILDING:
            table = audit.tables(db.metadata(), g.generation)["audit_events"]
            with db.engine.connect() as conn:
                rows = list(conn.execute(select(table.c.position).order_by(table.c.position)).scalars())
            assert rows == [p for p in log if p <= g.position], g


def test_sigkilled_rebuilds_restart_and_end_equal_to_a_clean_rebuild(
    store: PtwStore, read_db: ReadDatabase, fork_server: ForkServer
) -> None:
    rows = store.recorder.select_notifications(start=0, limit=100_000)
    log = [r.id for r in rows]
    assert len(log) >= MIN_EVENTS
    assert {decode_event(r.topic, r.state).type for r in rows} >= {
        "PermitDrafted",
        "PermitApproved",
        "PermitActivated",
        "PermitClosed",
        "PermitEdited",
    }
    # The clean rebuild every crashed one must end equal to: in one go, in this process.
    started = time.monotonic()
    for projection in projections(CRASHED):
        Runner(store, read_db, projection).rebuild()
    clean_seconds = time.monotonic() - started
    clean = view_rows(read_db)
    assert len(clean["audit_trail"]["audit_events"]) == len(log)

    # A restart resumes the interrupted generation, so kills after up to a third of the time of that clean
    # rebuild (small batches make a rebuild about three times slower) walk through about one whole rebuild in
    # twenty steps: the start, every stage of the catch-up, the switch, perhaps a new start.
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    outcomes = []
    for kill in range(KILLS):
        outcome, _ = fork_server.rebuild(kill_after=rng.uniform(0, clean_seconds / 3))
        assert outcome in ("killed", "exit 0"), f"seed {seed}, kill {kill}: a restarted rebuild failed"
        outcomes.append(outcome)
        check_interrupted_state(read_db, log)
        if kill % 5 == 4:
            assert view_rows(read_db) == clean, f"seed {seed}, kill {kill}: readers saw other content"
    assert outcomes.count("killed") >= KILLS // 2, (seed, outcomes)

    assert fork_server.rebuild()[0] == "exit 0"  # the last restart, left to finish
    assert view_rows(read_db) == clean, f"seed {seed}: the finished rebuild differs from a clean one"
    with read_db.engine.connect() as conn:
        generations = Catalogue(read_db).generations(conn)
    assert sorted((g.name, g.stage) for g in generations) == sorted(
        (p.name, Stage.ACTIVE) for p in projections(CRASHED)
    )
