"""Issue 3, point 7: two permits racing for a SIMOPS check cannot both pass. Two services submit overlapping
high-severity permits at once; whatever the interleaving, the conflict is detected and the newer one is blocked."""

from __future__ import annotations

import threading

import pytest

from ptw_domain.service import PermitService
from tests.builders import World, nominate, submit

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("round_", range(10))
def test_two_concurrent_submissions_cannot_both_pass_the_simops_check(
    two_services: tuple[World, PermitService], round_: int
) -> None:
    world, other = two_services
    world.publish_template({"key": "tank", "category": "confined_space"})
    area = f"U{round_:03d}"
    tank, weld = world.draft(template="tank", area=area), world.draft(area=area)
    for pid in (tank, weld):
        world.run(nominate(world, pid))
    start = threading.Barrier(2)

    def run(service: PermitService, pid: object) -> None:
        start.wait()
        service.execute(submit(world, pid))  # type: ignore[arg-type]

    threads = [
        threading.Thread(target=run, args=(world.service, tank)),
        threading.Thread(target=run, args=(other, weld)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    blocked = {
        pid: [b for b in other.readiness(pid).actions["approve"].blockers if b.rule == "SIM-06"]
        for pid in (tank, weld)
    }
    assert sorted(len(b) for b in blocked.values()) == [0, 1], blocked  # exactly the newer one is blocked
    assert all(v.ok for v in other.verify_chain())
