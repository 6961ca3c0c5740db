# ruff: noqa: N802
"""Races on PostgreSQL: several services on one database, one clock (LIFE-11, NUM-02)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from ptw_domain.clock import ManualClock
from ptw_domain.errors import AlreadyApproved, DomainError
from ptw_domain.service import PermitService
from tests.builders import START, World, approve, create

pytestmark = pytest.mark.postgres

ROUNDS = 3


def race(fns: list[Callable[[], Any]]) -> list[Any]:
    """Run the callables at once behind a barrier; return each result or raised exception."""
    barrier = threading.Barrier(len(fns))
    out: list[Any] = [None] * len(fns)

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fns[i]()
        except Exception as exc:
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return out


@contextmanager
def racers(postgres_url: str, n: int) -> Iterator[tuple[World, list[PermitService]]]:
    """A world on one service plus `n` more services on the same database and clock; all closed after."""
    clock = ManualClock(START)
    main = PermitService(postgres_url, clock=clock)
    services = [PermitService(postgres_url, clock=clock) for _ in range(n)]
    try:
        yield World.create(main, clock), services
    finally:
        for s in (main, *services):
            s.close()


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_LIFE_11_concurrent_approvals_record_exactly_one(postgres_url: str, round_: int) -> None:
    with racers(postgres_url, 2) as (world, services):
        pid = world.under_review()
        commands = [approve(world, pid, who) for who in ("app", "app2")]
        results = race(
            [lambda s=s, cmd=cmd: s.execute(cmd) for s, cmd in zip(services, commands, strict=True)]
        )
        errors = [r for r in results if isinstance(r, Exception)]
        successes = [r for r in results if not isinstance(r, Exception)]
        assert len(successes) == 1, results
        assert len(errors) == 1, results
        assert isinstance(errors[0], AlreadyApproved), errors[0]
        assert errors[0].rule_ids == ("LIFE-11",)
        history = PermitService(postgres_url, clock=world.clock)
        try:
            types = [e.type for e in history.history(pid)]
            assert types.count("PermitApproved") == 1
            assert all(v.ok for v in history.verify_chain([pid]))
        finally:
            history.close()


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_NUM_02_concurrent_creations_get_distinct_consecutive_numbers(postgres_url: str, round_: int) -> None:
    with racers(postgres_url, 8) as (world, services):
        commands = [create(world) for _ in services]
        results = race(
            [lambda s=s, cmd=cmd: s.execute(cmd) for s, cmd in zip(services, commands, strict=True)]
        )
        failures = [r for r in results if isinstance(r, Exception)]
        assert not failures, failures
        numbers = sorted(r.permit_number for r in results)
        assert numbers == [f"NORTH-2026-{n:05d}" for n in range(1, 9)]
        project = world.service.project(world.project_id)
        assert sorted(project.permits) == numbers
        assert {project.permits[r.permit_number] for r in results} == {cmd.permit_id for cmd in commands}


def test_LIFE_11_same_approver_racing_with_itself_records_one_and_typed_refusals(postgres_url: str) -> None:
    """A refused racer never leaks a storage exception: it is a typed DomainError (or succeeds)."""
    with racers(postgres_url, 4) as (world, services):
        pid = world.under_review()
        cmd = approve(world, pid)
        results = race([lambda s=s: s.execute(cmd) for s in services])
        assert sum(not isinstance(r, Exception) for r in results) == 1
        assert all(isinstance(r, DomainError) for r in results if isinstance(r, Exception))
