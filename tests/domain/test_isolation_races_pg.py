"""Issue 3, point 7: de-isolating a point while a linked permit is being approved and activated can never leave an
active permit on a de-isolated point. Two services (as two processes would) race on one PostgreSQL store."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from ptw_domain.errors import DomainError
from ptw_domain.isolation import commands as ic
from ptw_domain.isolation.state import IsolationStatus
from ptw_domain.service import PermitService
from ptw_domain.store.streams import fold
from tests.builders import World, activate, approve

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("round_", range(20))
def test_deisolation_and_activation_race_never_leaves_an_active_permit_on_a_deisolated_point(
    two_services: tuple[World, PermitService], round_: int
) -> None:
    world, other = two_services
    world.publish_template({"key": "electrical", "category": "electrical"})
    pid = world.under_review(template="electrical")
    world.assign_point(pid)
    world.prepare_crew(pid)  # isolates and verifies the point, briefs the crew
    isolation_id = world.permit(pid).isolations.assignments[0].isolation_id
    world.clock.advance(timedelta(minutes=30))
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def issue() -> None:
        start.wait()
        try:
            world.run(approve(world, pid))
            world.run(activate(world, pid))
            outcomes["issue"] = "activated"
        except DomainError as refused:
            outcomes["issue"] = refused.code

    def deisolate() -> None:
        start.wait()
        try:
            other.execute(ic.DeisolatePoint(actor=world.actor("iso"), isolation_id=isolation_id))
            outcomes["deisolate"] = "deisolated"
        except DomainError as refused:
            outcomes["deisolate"] = refused.code

    threads = [threading.Thread(target=issue), threading.Thread(target=deisolate)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    permit = other.permit(pid)
    isolation = other.store.repository.get(isolation_id, projector_func=fold).state  # type: ignore[arg-type]
    unsafe = permit.status == "active" and isolation.status is IsolationStatus.DEISOLATED
    assert not unsafe, outcomes
    assert not (outcomes["issue"] == "activated" and outcomes["deisolate"] == "deisolated"), outcomes
    assert all(v.ok for v in other.verify_chain([pid, isolation_id]))
