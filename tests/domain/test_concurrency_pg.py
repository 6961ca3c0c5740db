# ruff: noqa: N802
"""Races on PostgreSQL: several services on one database, one clock (LIFE-11, NUM-02)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from ptw_domain import commands as c
from ptw_domain.clock import ManualClock
from ptw_domain.errors import AlreadyApproved, DomainError
from ptw_domain.service import PermitService
from tests.builders import START, World

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


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_LIFE_11_concurrent_approvals_record_exactly_one(postgres_url: str, round_: int) -> None:
    clock = ManualClock(START)
    main = PermitService(postgres_url, clock=clock)
    services = [PermitService(postgres_url, clock=clock) for _ in range(2)]
    try:
        world = World.create(main, clock)
        pid = world.under_review()
        commands = [
            c.ApprovePermit(actor=world.actor(who), permit_id=pid, signature=world.signature(pid))
            for who in ("app", "app2")
        ]
        results = race(
            [lambda s=s, cmd=cmd: s.execute(cmd) for s, cmd in zip(services, commands, strict=True)]
        )
        errors = [r for r in results if isinstance(r, Exception)]
        successes = [r for r in results if not isinstance(r, Exception)]
        assert len(successes) == 1, results
        assert len(errors) == 1, results
        assert isinstance(errors[0], AlreadyApproved), errors[0]
        assert errors[0].rule_ids == ("LIFE-11",)
        history = PermitService(postgres_url, clock=clock)
        try:
            types = [e.type for e in history.history(pid)]
            assert types.count("PermitApproved") == 1
            assert all(v.ok for v in history.verify_chain([pid]))
        finally:
            history.close()
    finally:
        for s in (main, *services):
            s.close()


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_NUM_02_concurrent_creations_get_distinct_consecutive_numbers(postgres_url: str, round_: int) -> None:
    clock = ManualClock(START)
    main = PermitService(postgres_url, clock=clock)
    services = [PermitService(postgres_url, clock=clock) for _ in range(8)]
    try:
        world = World.create(main, clock)
        commands = [
            c.CreatePermit(
                actor=world.actor("req"),
                permit_id=uuid.uuid4(),
                project_id=world.project_id,
                template_key="hot-work",
                content=world.content(),
            )
            for _ in services
        ]
        results = race(
            [lambda s=s, cmd=cmd: s.execute(cmd) for s, cmd in zip(services, commands, strict=True)]
        )
        failures = [r for r in results if isinstance(r, Exception)]
        assert not failures, failures
        numbers = sorted(r.permit_number for r in results)
        assert numbers == [f"NORTH-2026-{n:05d}" for n in range(1, 9)]
        project = main.project(world.project_id)
        assert sorted(project.permits) == numbers
        assert {project.permits[r.permit_number] for r in results} == {cmd.permit_id for cmd in commands}
    finally:
        for s in (main, *services):
            s.close()


def test_LIFE_11_same_approver_racing_with_itself_records_one_and_typed_refusals(postgres_url: str) -> None:
    """A refused racer never leaks a storage exception: it is a typed DomainError (or succeeds)."""
    clock = ManualClock(START)
    main = PermitService(postgres_url, clock=clock)
    services = [PermitService(postgres_url, clock=clock) for _ in range(4)]
    try:
        world = World.create(main, clock)
        pid = world.under_review()
        cmd = c.ApprovePermit(actor=world.actor("app"), permit_id=pid, signature=world.signature(pid))
        results = race([lambda s=s: s.execute(cmd) for s in services])
        assert sum(not isinstance(r, Exception) for r in results) == 1
        assert all(isinstance(r, DomainError) for r in results if isinstance(r, Exception))
    finally:
        for s in (main, *services):
            s.close()
