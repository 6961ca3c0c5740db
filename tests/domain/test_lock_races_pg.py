# ruff: noqa: N802
"""LOCK-06 under concurrency: two processes applying one lock id on two permits of a project at once can never
both succeed. Two services (as two processes would) race on one PostgreSQL store."""

from __future__ import annotations

import threading

import pytest

from ptw_domain.errors import DomainError
from ptw_domain.isolation import commands as ic
from ptw_domain.isolation.project_locks import project_locks_id
from ptw_domain.service import PermitService
from ptw_domain.store.streams import fold
from tests.builders import World

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("round_", range(20))
def test_LOCK_06_two_permits_racing_for_one_lock_id_exactly_one_applies_it(
    two_services: tuple[World, PermitService], round_: int
) -> None:
    world, other = two_services
    world.publish_template({"key": "electrical", "category": "electrical"})
    first, second = world.active(template="electrical"), world.active(template="electrical")
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def apply(name: str, service: PermitService, permit_id: object) -> None:
        command = ic.ApplyPersonalLock(
            actor=world.actor("crew1"),
            permit_id=permit_id,
            lock_id="P-RACE",
            worker_id=world.workers["crew1"],
        )
        start.wait()
        try:
            service.execute(command)
            outcomes[name] = "applied"
        except DomainError as refused:
            outcomes[name] = ",".join(b.code for b in refused.blockers) or refused.code

    threads = [
        threading.Thread(target=apply, args=("first", world.service, first)),
        threading.Thread(target=apply, args=("second", other, second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == ["applied", "lock_in_use"], outcomes
    holders = [pid for pid in (first, second) if other.permit(pid).isolations.locks]
    assert len(holders) == 1
    register = other.store.repository.get(project_locks_id(world.project_id), projector_func=fold).state  # type: ignore[arg-type]
    assert register.applied["P-RACE"] == holders[0]
    assert all(v.ok for v in other.verify_chain([first, second, project_locks_id(world.project_id)]))
