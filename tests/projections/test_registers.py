# ruff: noqa: N802
"""RM-10 registers: open isolations with their states, locks, linked permits and holder (section 7), the
personal locks on the project's lockouts, and SIMOPS conflicts by state and severity (section 8)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from ptw_domain.events.simops import MatrixEntry
from ptw_domain.isolation import commands as ic
from ptw_domain.simops import commands as sc
from ptw_domain.simops.model import DEFAULT_MATRIX
from ptw_projections.errors import InvalidQuery
from ptw_projections.reader import ReadSide
from ptw_projections.registers.query import (
    ConflictItem,
    IsolationItem,
    conflict_register,
    isolation_register,
    lock_register,
)
from ptw_projections.verify import verify
from tests.builders import World, activate, cancel, complete, lock_exception
from tests.projections.conftest import Projected


@pytest.fixture
def electrical(world: World) -> World:
    """Structured isolation (ISO-09): an approved electrical permit has a required point assigned."""
    world.publish_template({"key": "electrical", "category": "electrical"})
    return world


@pytest.fixture
def site(world: World) -> World:
    world.publish_template({"key": "tank", "category": "confined_space"})
    return world


def isolation_of(world: World, pid: uuid.UUID) -> uuid.UUID:
    return world.permit(pid).isolations.assignments[0].isolation_id


def isolations(reads: ReadSide, world: World, **filters: Any) -> list[IsolationItem]:
    return isolation_register(reads, world.project_id, **filters).items


def only(reads: ReadSide, world: World, **filters: Any) -> IsolationItem:
    items = isolations(reads, world, **filters)
    assert len(items) == 1
    return items[0]


def lock(world: World, pid: uuid.UUID, lock_id: str = "P-1", who: str = "crew1") -> ic.ApplyPersonalLock:
    return ic.ApplyPersonalLock(
        actor=world.actor(who), permit_id=pid, lock_id=lock_id, worker_id=world.workers[who]
    )


def conflicts(reads: ReadSide, world: World, **filters: Any) -> list[ConflictItem]:
    return conflict_register(reads, world.project_id, **filters).items


def test_RM_10_ISO_04_an_isolation_moves_isolated_verified_deisolated_and_leaves_the_open_register(
    electrical: World, projected: Projected
) -> None:
    world = electrical
    pid = world.approved(template="electrical")
    iso = isolation_of(world, pid)
    assigned = only(projected.catch_up(), world)
    assert (assigned.id, assigned.status, assigned.in_place) == (iso, "assigned", False)
    assert assigned.isolated_by is None and assigned.lock_ids == []
    assert assigned.point_code.startswith("V-") and assigned.achievable_category == "I"
    number = world.permit(pid).number
    assert [(p.id, p.number, p.status, p.required, p.holding) for p in assigned.linked_permits] == [
        (pid, number, "approved", True, True)
    ]
    assert assigned.held_by_permit and not assigned.orphan

    world.isolate_and_verify(pid)  # ISO-06 by iso, ISO-07 by iso2
    verified = only(projected.catch_up(), world)
    assert (verified.status, verified.in_place, verified.achieved_category) == ("verified", True, "I")
    assert (verified.isolated_by, verified.verified_by) == ("iso", "iso2")
    assert verified.isolated_at == verified.verified_at == world.clock.now()
    assert len(verified.lock_ids) == 1 and verified.lock_ids[0].startswith("L-")

    world.prepare_crew(pid)
    world.clock.advance(timedelta(minutes=30))
    world.run(activate(world, pid))
    world.clock.advance(timedelta(hours=1))
    world.run(complete(world, pid))
    left = only(projected.catch_up(), world)
    assert left.linked_permits[0].status == "completed"
    assert not left.held_by_permit and left.orphan  # RPT-03: in place, nothing holds it

    world.run(ic.DeisolatePoint(actor=world.actor("iso"), isolation_id=iso))
    reads = projected.catch_up()
    assert isolations(reads, world) == []
    ended = only(reads, world, state="deisolated")
    assert (ended.status, ended.in_place, ended.lock_ids, ended.ended_by) == ("deisolated", False, [], "iso")
    assert ended.ended_at == world.clock.now() and not ended.orphan
    assert [i.id for i in isolations(reads, world, state="all")] == [iso]


def test_RM_10_ISO_03_a_shared_isolation_lists_every_linked_permit(
    world: World, projected: Projected
) -> None:
    world.register_point("V-200", category="II")
    first, second = world.draft(), world.draft()
    world.assign_point(first, code="V-200")
    world.assign_point(second, code="V-200", required=False)
    item = only(projected.catch_up(), world)
    numbers = sorted((world.permit(p).number, p) for p in (first, second))
    assert [(p.number, p.id) for p in item.linked_permits] == numbers
    assert {p.id: p.required for p in item.linked_permits} == {first: True, second: False}
    assert [p.status for p in item.linked_permits] == ["draft", "draft"]
    assert not item.held_by_permit and not item.orphan  # assigned: not in place
    assert item.achievable_category == "II"


def test_RM_10_ISO_05_an_isolation_withdrawn_with_its_last_link_leaves_the_open_register(
    world: World, projected: Projected
) -> None:
    pid = world.draft()
    point_id = world.assign_point(pid, required=False)
    assert len(isolations(projected.catch_up(), world)) == 1
    world.run(ic.UnassignIsolationPoint(actor=world.actor("iso"), permit_id=pid, point_id=point_id))
    reads = projected.catch_up()
    assert isolations(reads, world) == []
    withdrawn = only(reads, world, state="withdrawn")
    assert withdrawn.linked_permits == [] and withdrawn.ended_by == "iso"


def test_RM_10_ISO_14_an_isolation_taken_over_by_operations_is_operations_held_not_orphan(
    electrical: World, projected: Projected
) -> None:
    world = electrical
    pid = world.completed(template="electrical")
    iso = isolation_of(world, pid)
    assert only(projected.catch_up(), world, orphan=True).id == iso
    world.run(
        ic.TransferIsolationToOperations(
            actor=world.actor("area"), isolation_id=iso, reason="left in place for recommissioning"
        )
    )
    reads = projected.catch_up()
    held = only(reads, world)
    assert held.operations_held and held.operations_held_by == "area"
    assert held.operations_reason == "left in place for recommissioning"
    assert held.operations_held_at == world.clock.now()
    assert held.linked_permits == [] and not held.held_by_permit and not held.orphan
    assert isolations(reads, world, orphan=True) == []
    assert [i.id for i in isolations(reads, world, orphan=False)] == [iso]


def test_RM_10_LOCK_01_personal_locks_appear_on_the_lock_register_and_the_isolation_until_removed(
    electrical: World, projected: Projected
) -> None:
    world = electrical
    pid = world.active(template="electrical")
    iso = isolation_of(world, pid)
    applied_at = world.clock.now()
    world.run(lock(world, pid))
    reads = projected.catch_up()
    [item] = lock_register(reads, world.project_id).items
    assert (item.lock_id, item.permit.id, item.permit.number, item.permit.status) == (
        "P-1",
        pid,
        world.permit(pid).number,
        "active",
    )
    assert (item.worker_id, item.worker_name, item.person_id) == (world.workers["crew1"], "Crew1", "crew1")
    assert item.applied_at == applied_at
    assert [(i.id, i.status) for i in item.isolations] == [(iso, "verified")]
    on_isolation = only(reads, world).personal_locks  # ISO-12: what de-isolation waits for
    assert [(lk.lock_id, lk.worker_id) for lk in on_isolation] == [("P-1", world.workers["crew1"])]

    world.clock.advance(timedelta(minutes=5))
    world.run(ic.RemovePersonalLock(actor=world.actor("crew1"), permit_id=pid, lock_id="P-1"))
    reads = projected.catch_up()
    assert lock_register(reads, world.project_id).items == []
    assert only(reads, world).personal_locks == []


def test_RM_10_LOCK_02_a_lock_removed_by_exception_leaves_the_register(
    electrical: World, projected: Projected
) -> None:
    world = electrical
    pid = world.active(template="electrical")
    world.run(lock(world, pid))
    assert lock_register(projected.catch_up(), world.project_id, permit=pid).total == 1
    world.run(lock_exception(world, pid))
    assert lock_register(projected.catch_up(), world.project_id).total == 0


def test_RM_10_lock_register_filters_by_permit_and_worker(electrical: World, projected: Projected) -> None:
    world = electrical
    pid = world.active(template="electrical")
    world.run(lock(world, pid))
    reads = projected.catch_up()
    assert lock_register(reads, world.project_id, worker=world.workers["crew1"]).total == 1
    assert lock_register(reads, world.project_id, worker=world.workers["watch"]).total == 0
    assert lock_register(reads, world.project_id, permit=uuid.uuid4()).total == 0


def test_RM_10_isolation_filters_by_state_point_code_and_permit(world: World, projected: Projected) -> None:
    world.register_point("V-100")
    world.register_point("V-200")
    first, second = world.draft(), world.draft()
    world.assign_point(first, code="V-100")
    world.assign_point(second, code="V-200")
    reads = projected.catch_up()
    assert [i.point_code for i in isolations(reads, world)] == ["V-100", "V-200"]
    assert [i.point_code for i in isolations(reads, world, point="v-200 ")] == ["V-200"]  # ISO-01 codes
    assert isolations(reads, world, point="V-999") == []
    assert [i.point_code for i in isolations(reads, world, permit=first)] == ["V-100"]
    assert len(isolations(reads, world, state="assigned")) == 2
    assert isolations(reads, world, state="isolated,verified") == []
    assert len(isolations(reads, world, state="all")) == 2


def test_RM_04_registers_are_paged_in_point_code_order(world: World, projected: Projected) -> None:
    pid = world.draft()
    for code in ("V-3", "V-1", "V-2"):
        world.register_point(code)
        world.assign_point(pid, code=code)
    reads = projected.catch_up()
    first = isolation_register(reads, world.project_id, page_size=2)
    second = isolation_register(reads, world.project_id, page=2, page_size=2)
    assert [i.point_code for i in first.items] == ["V-1", "V-2"]
    assert [i.point_code for i in second.items] == ["V-3"]
    assert first.total == second.total == 3 and (second.page, second.page_size) == (2, 2)
    assert first.as_of_position == world.service.store.head_position()
    assert isolation_register(reads, world.project_id, page=3, page_size=2).items == []


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda r, p: isolation_register(r, p, state="open-ish"), "state"),
        (lambda r, p: isolation_register(r, p, state=","), "state"),
        (lambda r, p: isolation_register(r, p, point=" "), "point"),
        (lambda r, p: isolation_register(r, p, page=0), "page"),
        (lambda r, p: lock_register(r, p, page_size=101), "page_size"),
        (lambda r, p: conflict_register(r, p, state="closed"), "state"),
        (lambda r, p: conflict_register(r, p, severity="critical"), "severity"),
        (lambda r, p: conflict_register(r, p, page_size=0), "page_size"),
    ],
)
def test_RM_10_bad_input_names_the_parameter(
    world: World, projected: Projected, call: Callable[[ReadSide, uuid.UUID], object], parameter: str
) -> None:
    reads = projected.catch_up()
    with pytest.raises(InvalidQuery) as refused:
        call(reads, world.project_id)
    assert refused.value.parameter == parameter


def test_RM_10_SIM_05_open_conflicts_by_severity_most_severe_first(site: World, projected: Projected) -> None:
    world = site
    tank = world.submitted(template="tank", area="U100", equipment_tags=("T-1",))
    world.clock.advance(timedelta(minutes=5))
    hot = world.submitted(area="U100", equipment_tags=("P-1",))  # SIM-M01 hot work x confined space: high
    cold = world.submitted(template="cold-work", area="U300", equipment_tags=("C-1",))
    world.clock.advance(timedelta(minutes=5))
    cold2 = world.submitted(template="cold-work", area="U300", equipment_tags=("C-2",))  # SIM-M00: low
    reads = projected.catch_up()
    found = conflicts(reads, world)
    assert [(f.rule, f.severity, f.state) for f in found] == [
        ("SIM-M01", "high", "open"),
        ("SIM-M00", "low", "open"),
    ]
    high, low = found
    assert (high.older.id, high.newer.id) == (tank, hot)
    assert (high.older.number, high.newer.number) == (world.permit(tank).number, world.permit(hot).number)
    assert high.older.status == high.newer.status == "submitted"
    assert (low.older.id, low.newer.id) == (cold, cold2)
    assert len(high.facts_hash) == 64 and high.latest_decision is None and high.cleared_reason is None
    assert [f.id for f in conflicts(reads, world, severity="high")] == [high.id]
    assert [f.id for f in conflicts(reads, world, severity="low,medium")] == [low.id]
    assert [f.id for f in conflicts(reads, world, permit=cold2)] == [low.id]


def test_RM_10_SIM_10_a_conflict_shows_the_matrix_and_zone_map_versions_it_was_judged_under(
    site: World, projected: Projected
) -> None:
    world = site
    admin = world.actor("admin")
    world.run(sc.PublishZoneMap(actor=admin, project_id=world.project_id, adjacency={"U100": ("U200",)}))
    world.submitted(area="U400")
    world.submitted(area="U400")  # hot work twice: SIM-M05 medium, under matrix v1 and zone map v1
    [judged] = conflicts(projected.catch_up(), world)
    assert (judged.rule, judged.severity, judged.matrix_version, judged.zone_map_version) == (
        "SIM-M05",
        "medium",
        1,
        1,
    )
    raised = tuple(
        MatrixEntry(first="hot_work", second="hot_work", severity="high", rule="SIM-M05")
        if e.rule == "SIM-M05"
        else e
        for e in DEFAULT_MATRIX.entries
    )
    world.run(sc.PublishSimopsMatrix(actor=admin, project_id=world.project_id, entries=raised))  # SIM-09
    [rejudged] = conflicts(projected.catch_up(), world)
    assert (rejudged.id, rejudged.severity, rejudged.matrix_version, rejudged.zone_map_version) == (
        judged.id,
        "high",
        2,
        1,
    )


def test_RM_10_SIM_08_accepted_with_controls_and_not_accepted(site: World, projected: Projected) -> None:
    world = site
    world.submitted(template="tank", area="U100", equipment_tags=("T-1",))
    world.submitted(area="U100", equipment_tags=("P-1",))
    [conflict] = conflicts(projected.catch_up(), world)
    world.run(sc.ResolveConflict(actor=world.actor("area"), conflict_id=conflict.id, decision="not_accepted"))
    [still_open] = conflicts(projected.catch_up(), world)
    assert still_open.latest_decision is not None
    assert (still_open.latest_decision.decision, still_open.latest_decision.by) == ("not_accepted", "area")

    world.clock.advance(timedelta(minutes=1))
    world.run(
        sc.ResolveConflict(
            actor=world.actor("area"),
            conflict_id=conflict.id,
            decision="accept_with_controls",
            controls="Continuous gas monitor at the manway",
        )
    )
    reads = projected.catch_up()
    assert conflicts(reads, world) == []
    [accepted] = conflicts(reads, world, state="accepted")
    decision = accepted.latest_decision
    assert decision is not None and decision.current and decision.at == world.clock.now()
    assert (decision.decision, decision.controls) == (
        "accept_with_controls",
        "Continuous gas monitor at the manway",
    )
    assert decision.facts_hash == accepted.facts_hash
    assert [f.id for f in conflicts(reads, world, state="all")] == [conflict.id]


def test_RM_10_SIM_11_a_conflict_whose_permit_leaves_the_candidate_set_is_cleared(
    site: World, projected: Projected
) -> None:
    world = site
    world.submitted(template="tank", area="U100", equipment_tags=("T-1",))
    newer = world.submitted(area="U100", equipment_tags=("P-1",))
    world.run(cancel(world, newer, reason="no longer needed"))
    reads = projected.catch_up()
    assert conflicts(reads, world) == []
    [cleared] = conflicts(reads, world, state="cleared")
    assert cleared.state == "cleared" and cleared.cleared_reason == "left the candidate set"
    assert cleared.newer.status == "cancelled"
    assert [f.id for f in conflicts(reads, world, state="open,cleared")] == [cleared.id]


def test_TEN_02_another_projects_isolations_locks_and_conflicts_never_appear(
    electrical: World, projected: Projected
) -> None:
    north = electrical
    north.publish_template({"key": "tank", "category": "confined_space"})
    south = World.create(north.service, north.clock, code="SOUTH")
    south.publish_template({"key": "electrical", "category": "electrical"})
    south.publish_template({"key": "tank", "category": "confined_space"})
    south.register_point("V-SOUTH")
    theirs = south.active(template="electrical")
    south.run(lock(south, theirs))
    south.submitted(template="tank", area="U100", equipment_tags=("T-1",))
    south.submitted(area="U100", equipment_tags=("P-1",))
    ours = north.approved(template="electrical")
    reads = projected.catch_up()
    assert [i.linked_permits[0].id for i in isolations(reads, north)] == [ours]
    assert isolations(reads, north, point="V-SOUTH") == []
    assert isolations(reads, north, permit=theirs) == []
    assert lock_register(reads, north.project_id).items == []
    assert conflicts(reads, north, state="all") == []
    assert len(isolations(reads, south)) == 1 and lock_register(reads, south.project_id).total == 1
    assert len(conflicts(reads, south)) == 1


def test_AUD_07_a_rebuild_of_the_registers_equals_the_live_tables(site: World, projected: Projected) -> None:
    world = site
    world.publish_template({"key": "electrical", "category": "electrical"})
    pid = world.active(template="electrical")
    world.run(lock(world, pid))
    world.run(ic.RemovePersonalLock(actor=world.actor("crew1"), permit_id=pid, lock_id="P-1"))
    world.clock.advance(timedelta(hours=1))
    world.run(complete(world, pid))
    world.run(ic.DeisolatePoint(actor=world.actor("iso"), isolation_id=isolation_of(world, pid)))
    world.submitted(template="tank", area="U100", equipment_tags=("T-1",))
    newer = world.submitted(area="U100", equipment_tags=("P-1",))
    [conflict] = conflicts(projected.catch_up(), world)
    world.run(
        sc.ResolveConflict(
            actor=world.actor("area"), conflict_id=conflict.id, decision="accept_with_controls", controls="x"
        )
    )
    world.run(cancel(world, newer, reason="no longer needed"))
    projected.catch_up()
    result = verify(projected.runner("registers"))
    assert result.ok, result.differences
    assert result.rows_compared > 0
