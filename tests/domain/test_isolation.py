# ruff: noqa: N802
"""Section 7: the point library, shared isolations with forward-only states, SOD-03, categories, de-isolation
guards, personal locks and the lock-removal exception."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from ptw_domain.errors import Forbidden, GuardFailed, InvalidTransition, NotFound, ValidationFailed
from ptw_domain.isolation import commands as ic
from ptw_domain.isolation.handling import point_id_for
from ptw_domain.roles import Role
from tests.builders import World, activate, approve, close, complete


@pytest.fixture
def electrical(world: World) -> World:
    world.publish_template(
        {"key": "electrical", "category": "electrical"}
    )  # structured isolation, category II
    world.register_worker("sparky", "electrical_authorised")
    return world


def isolate(
    world: World,
    isolation_id: uuid.UUID,
    category: str = "I",
    locks: tuple[str, ...] = ("L-1",),
    who: str = "iso",
) -> ic.IsolatePoint:
    return ic.IsolatePoint(
        actor=world.actor(who),
        isolation_id=isolation_id,
        lock_ids=locks,
        tag="DANGER",
        method="locked off",
        achieved_category=category,
        isolated_at=world.clock.now(),
        isolator_worker_id=world.workers["iso"],
    )


def verify(
    world: World, isolation_id: uuid.UUID, who: str = "iso2", passed: bool = True
) -> ic.VerifyIsolation:
    return ic.VerifyIsolation(
        actor=world.actor(who),
        isolation_id=isolation_id,
        method="test for dead",
        passed=passed,
        verified_at=world.clock.now(),
    )


def isolation_of(world: World, pid: uuid.UUID) -> uuid.UUID:
    return world.permit(pid).isolations.assignments[0].isolation_id


def test_ISO_01_a_point_code_is_unique_in_the_project(world: World) -> None:
    world.register_point("V-101")
    with pytest.raises(InvalidTransition) as twice:
        world.register_point("v-101")
    assert twice.value.rule_ids == ("ISO-01",)
    other = World.create(world.service, world.clock, code="SOUTH")
    other.register_point("V-101")  # another project may use the same code


def test_ISO_01_a_point_of_another_project_is_not_found(world: World) -> None:
    other = World.create(world.service, world.clock, code="SOUTH")
    other.register_point("V-9")
    pid = world.draft()
    with pytest.raises(NotFound) as refused:
        world.run(
            ic.AssignIsolationPoint(
                actor=world.actor("iso"), permit_id=pid, point_id=point_id_for(other.project_id, "V-9")
            )
        )
    assert refused.value.facts == {"field": "point_id"}


def test_ISO_02_a_point_with_an_open_isolation_cannot_be_deactivated(world: World) -> None:
    pid = world.draft()
    point_id = world.assign_point(pid, required=False)
    with pytest.raises(GuardFailed) as refused:
        world.run(ic.DeactivateIsolationPoint(actor=world.actor("iso"), point_id=point_id))
    assert refused.value.rule_ids == ("ISO-02",)


def test_ISO_03_two_permits_share_the_one_open_isolation_of_a_point(world: World) -> None:
    world.register_point("V-200")
    first, second = world.draft(), world.draft()
    world.assign_point(first, code="V-200")
    world.assign_point(second, code="V-200")
    assert isolation_of(world, first) == isolation_of(world, second)


def test_ISO_04_states_move_forward_only(electrical: World) -> None:
    world = electrical
    pid = world.approved(template="electrical")
    iso = isolation_of(world, pid)
    with pytest.raises(InvalidTransition):  # verify before isolate
        world.run(verify(world, iso))
    world.run(isolate(world, iso))
    with pytest.raises(InvalidTransition):  # isolate twice
        world.run(isolate(world, iso))
    world.run(verify(world, iso))
    with pytest.raises(InvalidTransition) as back:
        world.run(verify(world, iso))
    assert back.value.rule_ids == ("ISO-04",)


def test_ISO_05_and_ISO_04_unassigning_the_last_link_withdraws_an_assigned_isolation(world: World) -> None:
    pid = world.draft()
    point_id = world.assign_point(pid, code=None, required=False)
    iso = isolation_of(world, pid)
    world.run(ic.UnassignIsolationPoint(actor=world.actor("iso"), permit_id=pid, point_id=point_id))
    assert world.permit(pid).isolations.assignments == ()
    history = [e.type for e in world.service.store.events.get(iso)]
    assert history[-2:] == ["IsolationUnlinked", "IsolationWithdrawn"]
    other = world.draft()
    world.run(ic.AssignIsolationPoint(actor=world.actor("iso"), permit_id=other, point_id=point_id))
    assert isolation_of(world, other) != iso  # a new isolation opens on the point


def test_ISO_05_points_are_not_removed_after_approval(electrical: World) -> None:
    world = electrical
    pid = world.approved(template="electrical")
    point_id = world.permit(pid).isolations.assignments[0].point_id
    with pytest.raises(InvalidTransition):
        world.run(ic.UnassignIsolationPoint(actor=world.actor("iso"), permit_id=pid, point_id=point_id))


def test_ISO_06_isolating_needs_competency_locks_and_tag(electrical: World) -> None:
    world = electrical
    pid = world.approved(template="electrical")
    iso = isolation_of(world, pid)
    world.register_point("V-3", required_locks=2)
    with pytest.raises(Forbidden):  # not an isolating authority
        world.run(isolate(world, iso, who="app"))
    world.register_worker("rookie", role=Role.ISOLATING_AUTHORITY)
    with pytest.raises(GuardFailed) as untrained:
        world.run(
            ic.IsolatePoint(
                actor=world.actor("rookie"),
                isolation_id=iso,
                lock_ids=("L-9",),
                tag=None,
                method="m",
                achieved_category="I",
                isolated_at=world.clock.now(),
                isolator_worker_id=world.workers["rookie"],
            )
        )
    assert {"competency_missing", "tag_required"} <= {b.code for b in untrained.value.blockers}


def test_ISO_07_and_SOD_03_the_isolator_cannot_verify(electrical: World) -> None:
    world = electrical
    pid = world.approved(template="electrical")
    iso = isolation_of(world, pid)
    world.run(isolate(world, iso))
    with pytest.raises(GuardFailed) as refused:
        world.run(verify(world, iso, who="iso"))
    assert refused.value.rule_ids == ("SOD-03",)
    result = world.run(verify(world, iso, passed=False))
    assert result.events == ("IsolationVerificationFailed",)  # stays isolated
    world.run(verify(world, iso))


def test_ISO_08_below_the_minimum_category_is_refused(electrical: World) -> None:
    world = electrical
    pid = world.under_review(template="electrical")
    world.register_point("SW-1", category="III")
    world.assign_point(pid, code="SW-1")
    blockers = world.service.readiness(pid).actions["approve"].blockers
    assert [b.code for b in blockers if b.rule == "ISO-08"] == ["category_not_achievable"]
    with pytest.raises(GuardFailed) as low:
        world.run(isolate(world, isolation_of(world, pid), category="III"))
    assert low.value.rule_ids == ("ISO-08",)


def test_ISO_09_and_ISO_10_structured_isolation_assigned_and_verified(electrical: World) -> None:
    world = electrical
    pid = world.under_review(template="electrical")
    assert "ISO-09" in [b.rule for b in world.service.readiness(pid).actions["approve"].blockers]
    world.assign_point(pid)
    world.run(approve(world, pid))
    assert "ISO-10" in [b.rule for b in world.service.readiness(pid).actions["activate"].blockers]
    world.isolate_and_verify(pid, category="II")
    assert "ISO-10" not in [b.rule for b in world.service.readiness(pid).actions["activate"].blockers]


def test_ISO_11_ISO_12_de_isolation_waits_for_holding_permits_and_personal_locks(electrical: World) -> None:
    world = electrical
    pid = world.active(template="electrical")
    iso = isolation_of(world, pid)
    with pytest.raises(GuardFailed) as holding:
        world.run(ic.DeisolatePoint(actor=world.actor("iso"), isolation_id=iso))
    assert holding.value.rule_ids == ("ISO-11",)
    world.clock.advance(timedelta(minutes=30))
    world.run(complete(world, pid))
    result = world.run(ic.DeisolatePoint(actor=world.actor("iso"), isolation_id=iso))
    assert result.events == ("PointDeisolated",)
    assert world.service.history(pid)[-1].type == "LinkedIsolationEnded"  # on the permit's own record


def test_ISO_14_an_area_authority_takes_an_isolation_over_to_operations(electrical: World) -> None:
    world = electrical
    pid = world.completed(template="electrical")
    iso = isolation_of(world, pid)
    with pytest.raises(ValidationFailed):
        world.run(ic.TransferIsolationToOperations(actor=world.actor("area"), isolation_id=iso, reason=" "))
    world.run(
        ic.TransferIsolationToOperations(
            actor=world.actor("area"), isolation_id=iso, reason="left in place for recommissioning"
        )
    )
    assert "CLO-05" not in [b.rule for b in world.service.readiness(pid).actions["close"].blockers]


def test_CLO_05_close_needs_every_isolation_dispositioned(electrical: World) -> None:
    world = electrical
    pid = world.completed(template="electrical")
    assert "CLO-05" in [b.rule for b in world.service.readiness(pid).actions["close"].blockers]
    world.run(ic.DeisolatePoint(actor=world.actor("iso"), isolation_id=isolation_of(world, pid)))
    assert "CLO-05" not in [b.rule for b in world.service.readiness(pid).actions["close"].blockers]


def lock(world: World, pid: uuid.UUID, who: str = "crew1", lock_id: str = "P-1") -> ic.ApplyPersonalLock:
    return ic.ApplyPersonalLock(
        actor=world.actor(who), permit_id=pid, lock_id=lock_id, worker_id=world.workers[who]
    )


def test_LOCK_01_02_05_CLO_01_personal_locks_are_the_owners_and_block_hand_back(electrical: World) -> None:
    world = electrical
    pid = world.active(template="electrical")
    with pytest.raises(Forbidden):
        world.run(
            ic.ApplyPersonalLock(
                actor=world.actor("req"), permit_id=pid, lock_id="P-1", worker_id=world.workers["crew1"]
            )
        )
    world.run(lock(world, pid))
    with pytest.raises(GuardFailed) as lock_in_use:
        world.run(lock(world, pid))
    assert lock_in_use.value.rule_ids == ("LOCK-06",)
    with pytest.raises(GuardFailed) as hand_back:
        world.run(complete(world, pid))
    assert "LOCK-05" in hand_back.value.rule_ids
    with pytest.raises(Forbidden) as not_owner:
        world.run(ic.RemovePersonalLock(actor=world.actor("iso"), permit_id=pid, lock_id="P-1"))
    assert not_owner.value.rule_ids == ("LOCK-02",)
    world.run(ic.RemovePersonalLock(actor=world.actor("crew1"), permit_id=pid, lock_id="P-1"))
    world.run(complete(world, pid))


def test_LOCK_02_and_LOCK_04_the_exception_needs_three_facts_and_flags_the_worker(electrical: World) -> None:
    world = electrical
    pid = world.active(template="electrical")
    world.run(lock(world, pid))
    now = world.clock.now()
    facts = dict(  # noqa: C408 - keyword arguments of the command
        verified_absent_by="gatehouse",
        verified_absent_at=now,
        contact_attempts="phone x3",
        contacted_at=now,
    )
    with pytest.raises(ValidationFailed) as missing:
        world.run(
            ic.RecordLockRemovalException(
                actor=world.actor("iso"),
                permit_id=pid,
                lock_id="P-1",
                **facts,
                will_inform_before_resuming=False,
            )
        )
    assert missing.value.facts == {"fields": ["will_inform_before_resuming"]}
    world.run(
        ic.RecordLockRemovalException(
            actor=world.actor("iso"), permit_id=pid, lock_id="P-1", **facts, will_inform_before_resuming=True
        )
    )
    assert world.permit(pid).isolations.locks == ()
    assert world.service.worker(world.workers["crew1"]).flagged
    with pytest.raises(GuardFailed) as flagged:
        world.run(lock(world, pid, lock_id="P-2"))
    assert "LOCK-04" in flagged.value.rule_ids
    world.run(ic.AcknowledgeLockRemoval(actor=world.actor("crew1"), worker_id=world.workers["crew1"]))
    world.run(lock(world, pid, lock_id="P-2"))


def isolation_locks(world: World, isolation_id: uuid.UUID) -> tuple[str, ...]:
    [isolated] = [e for e in world.service.store.events.get(isolation_id) if e.type == "PointIsolated"]
    return isolated.payload.lock_ids  # type: ignore[no-any-return]


def test_LOCK_06_a_lock_id_is_unique_among_the_personal_locks_applied_in_the_project(
    electrical: World,
) -> None:
    world = electrical
    first, second = world.active(template="electrical"), world.active(template="electrical")
    world.run(lock(world, first))
    with pytest.raises(GuardFailed) as in_use:
        world.run(lock(world, second))  # another permit of the project
    assert in_use.value.rule_ids == ("LOCK-06",)
    assert [(b.code, b.facts) for b in in_use.value.blockers] == [
        ("lock_in_use", {"lock_id": "P-1", "applied_on": str(first)})
    ]
    assert world.permit(second).isolations.locks == ()  # a refused command records nothing
    world.run(ic.RemovePersonalLock(actor=world.actor("crew1"), permit_id=first, lock_id="P-1"))
    world.run(lock(world, second))  # removal frees the id
    other = World.create(world.service, world.clock, code="SOUTH")
    other.publish_template({"key": "electrical", "category": "electrical"})
    other.run(lock(other, other.active(template="electrical")))  # unique in the project, not across projects


def test_LOCK_06_an_isolations_locks_are_applied_in_the_project_until_de_isolation(electrical: World) -> None:
    world = electrical
    isolated = world.completed(template="electrical")
    [held] = isolation_locks(world, isolation_of(world, isolated))
    pid = world.active(template="electrical")
    with pytest.raises(GuardFailed) as personal:
        world.run(lock(world, pid, lock_id=held))
    assert [b.code for b in personal.value.blockers] == ["lock_in_use"]
    other = world.under_review(template="electrical")
    world.assign_point(other)
    with pytest.raises(GuardFailed) as isolating:
        world.run(isolate(world, isolation_of(world, other), locks=(held, "L-NEW")))
    assert (isolating.value.rule_ids, isolating.value.blockers[0].facts["lock_id"]) == (("LOCK-06",), held)
    world.run(ic.DeisolatePoint(actor=world.actor("iso"), isolation_id=isolation_of(world, isolated)))
    world.run(lock(world, pid, lock_id=held))  # de-isolation frees the isolation's ids


def test_AUD_04_a_permits_verification_covers_its_linked_isolations(electrical: World) -> None:
    world = electrical
    pid = world.active(template="electrical")
    streams = world.service.permit_streams(pid)
    assert streams == [pid, isolation_of(world, pid)]
    assert [v.ok for v in world.service.verify_chain(streams)] == [True, True]
    assert world.service.verify_chain(streams)[1].events >= 4  # opened, linked, isolated, verified


def test_CLO_05_closing_releases_this_permits_link_to_an_isolation_kept_for_another(
    electrical: World,
) -> None:
    world = electrical
    world.register_point("CB-77", category="II")
    first = world.under_review(template="electrical", area="SS-1", equipment_tags=("MCC-1",))
    world.assign_point(first, code="CB-77")
    world.run(approve(world, first))
    second = world.under_review(template="electrical", area="SS-9", equipment_tags=("MCC-9",))
    world.assign_point(second, code="CB-77")
    world.prepare_crew(first)
    world.clock.advance(timedelta(minutes=30))
    world.run(activate(world, first))
    world.clock.advance(timedelta(hours=1))
    world.run(complete(world, first))
    world.clock.advance(timedelta(minutes=10))
    world.run(close(world, first))  # CLO-05: the isolation stays, linked to the other permit
    iso = isolation_of(world, first)
    assert [e.type for e in world.service.store.events.get(iso)][-1] == "IsolationUnlinked"
    assert world.permit(first).status == "closed"
