# ruff: noqa: N802
"""Issue 3, point 7: two permits racing for a SIMOPS check cannot both pass. Two services submit overlapping
high-severity permits at once (or publish a zone map while one is submitted); whatever the interleaving, the
conflict is detected and the newer one is blocked."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ptw_domain.service import PermitService
from ptw_domain.simops import commands as sc
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


@pytest.mark.parametrize("round_", range(5))
def test_SIM_09_a_zone_map_published_during_a_submission_still_finds_the_adjacent_conflict(
    two_services: tuple[World, PermitService], round_: int
) -> None:
    """The publication and the submission both write the project's register, so the later one decides with the
    earlier in view: the newer permit is blocked whichever commits first."""
    world, other = two_services
    world.publish_template({"key": "tank", "category": "confined_space"})
    tank_area, weld_area = f"T{round_:03d}", f"W{round_:03d}"
    world.submitted(template="tank", area=tank_area)
    weld = world.draft(area=weld_area, equipment_tags=(f"P-{round_}",))
    world.run(nominate(world, weld))
    start = threading.Barrier(2)
    publish = sc.PublishZoneMap(
        actor=world.actor("admin"), project_id=world.project_id, adjacency={tank_area: (weld_area,)}
    )

    def run(service: PermitService, command: Any) -> None:
        start.wait()
        service.execute(command)

    threads = [
        threading.Thread(target=run, args=(world.service, publish)),
        threading.Thread(target=run, args=(other, submit(world, weld))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [blocker] = [b for b in other.readiness(weld).actions["approve"].blockers if b.rule == "SIM-06"]
    assert blocker.facts["overlapping"] == {"adjacent_areas": [f"{tank_area} <-> {weld_area}"]}
    assert all(v.ok for v in other.verify_chain())
