# ruff: noqa: N802
"""Section 10: the close-out checklist pinned at hand-back and stamped item by item (CLO-04), inhibits of safety
systems restored and confirmed by a second person before close (CLO-06)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from ptw_domain.closeout import commands as cc
from ptw_domain.errors import Forbidden, GuardFailed, InvalidTransition, NotFound, ValidationFailed
from ptw_domain.roles import Role
from tests.builders import World, activate, close, codes, complete, refused, types

VESSEL = {
    "key": "vessel",
    "category": "cold_work",
    "name": "Vessel internals",
    "closeout_checklists": {
        "medium": [
            "Manway closed with new gasket",
            {"key": "area_clean", "label": "Area clean", "required": False},
        ],
        "any": ["Tools removed"],
    },
}


@pytest.fixture
def vessel(world: World) -> World:
    world.publish_template(VESSEL)
    world.add_person("area2", Role.AREA_AUTHORITY, level=3)
    return world


def check(world: World, pid: uuid.UUID, key: str, actor: str = "req") -> cc.CheckCloseoutItem:
    return cc.CheckCloseoutItem(actor=world.actor(actor), permit_id=pid, key=key)


def inhibit(
    world: World,
    pid: uuid.UUID,
    actor: str = "area",
    inhibit_id: uuid.UUID | None = None,
    expected_restore_at: datetime | None = None,
) -> cc.ApplyInhibit:
    """The smoke heads of zone 12 inhibited for grinding, expected back in six hours unless stated."""
    return cc.ApplyInhibit(
        actor=world.actor(actor),
        permit_id=pid,
        inhibit_id=inhibit_id or uuid.uuid4(),
        system="Fire and gas detection",
        tag="FGS-ZONE-12",
        reason="Grinding dust would trip the smoke heads",
        expected_restore_at=expected_restore_at or world.clock.now() + timedelta(hours=6),
    )


def restore(
    world: World, pid: uuid.UUID, inhibit_id: uuid.UUID, confirmed_by: str, actor: str = "area"
) -> cc.RestoreInhibit:
    return cc.RestoreInhibit(
        actor=world.actor(actor), permit_id=pid, inhibit_id=inhibit_id, confirmed_by=confirmed_by
    )


def close_blockers(world: World, pid: uuid.UUID) -> list[str]:
    return [b.rule for b in world.service.readiness(pid).actions["close"].blockers]


def test_CLO_04_the_close_out_checklist_is_pinned_at_hand_back_and_gates_close(vessel: World) -> None:
    world = vessel
    pid = world.active(template="vessel")  # probability 2 x severity 3: medium risk
    refused(
        world, pid, check(world, pid, "manway_closed_with_new_gasket"), InvalidTransition
    )  # not handed back
    world.clock.advance(timedelta(hours=1))
    world.run(complete(world, pid))
    assert types(world, pid)[-2:] == ["PermitCompleted", "CloseoutChecklistPinned"]
    pinned = world.service.history(pid)[-1].payload
    assert (pinned.risk_level, [i.key for i in pinned.items]) == (
        "medium",
        ["manway_closed_with_new_gasket", "area_clean"],
    )
    world.publish_template(
        {**VESSEL, "closeout_checklists": {"any": ["Something else"]}}
    )  # later versions: no effect
    world.clock.advance(timedelta(minutes=10))
    assert close_blockers(world, pid) == ["CLO-04"]
    refused(world, pid, close(world, pid), GuardFailed)
    refused(world, pid, check(world, pid, "crew1_item", actor="crew1"), Forbidden)
    missing = refused(world, pid, check(world, pid, "no_such_item"), NotFound)
    assert missing.facts["field"] == "key"
    world.run(check(world, pid, "manway_closed_with_new_gasket"))  # the PA
    item = world.permit(pid).closeout.item("manway_closed_with_new_gasket")
    assert item is not None and (item.checked_by, item.checked_at) == ("req", world.clock.now())
    assert world.run(check(world, pid, "manway_closed_with_new_gasket", actor="app")).events == ()
    world.run(
        cc.UncheckCloseoutItem(actor=world.actor("area"), permit_id=pid, key="manway_closed_with_new_gasket")
    )
    assert close_blockers(world, pid) == ["CLO-04"]
    world.run(check(world, pid, "manway_closed_with_new_gasket", actor="app"))
    assert close_blockers(world, pid) == []  # the optional item may stay unchecked
    world.run(close(world, pid))
    refused(
        world, pid, check(world, pid, "area_clean", actor="app"), InvalidTransition
    )  # nothing after close


def test_CLO_06_inhibits_are_restored_and_confirmed_by_a_second_person_before_close(vessel: World) -> None:
    world = vessel
    pid = world.approved(template="vessel")
    refused(world, pid, inhibit(world, pid, actor="req"), Forbidden)  # SEC-04: area or isolating authority
    late = refused(world, pid, inhibit(world, pid, expected_restore_at=world.clock.now()), ValidationFailed)
    assert late.facts["field"] == "expected_restore_at"
    taken = inhibit(world, pid)
    assert world.run(taken).events == ("InhibitApplied",)
    refused(world, pid, inhibit(world, pid, inhibit_id=taken.inhibit_id), ValidationFailed)
    world.prepare_crew(pid)
    world.clock.advance(timedelta(minutes=30))
    world.run(activate(world, pid))
    world.clock.advance(timedelta(hours=1))
    world.run(complete(world, pid))
    world.run(check(world, pid, "manway_closed_with_new_gasket", actor="app"))
    refused(world, pid, inhibit(world, pid), InvalidTransition)  # applied only up to suspended
    assert close_blockers(world, pid) == ["CLO-06"]
    refused(world, pid, restore(world, pid, uuid.uuid4(), "safe"), NotFound)
    same = refused(world, pid, restore(world, pid, taken.inhibit_id, "area"), GuardFailed)
    assert same.rule_ids == ("CLO-06",)
    refused(world, pid, restore(world, pid, taken.inhibit_id, "  "), ValidationFailed)
    world.run(restore(world, pid, taken.inhibit_id, "area2"))
    restored = world.service.history(pid)[-1].payload
    assert (restored.restored_by, restored.confirmed_by) == ("area", "area2")
    assert close_blockers(world, pid) == []
    world.run(close(world, pid))


def test_RDY_08_an_inhibit_past_its_expected_restore_time_warns(vessel: World) -> None:
    world = vessel
    pid = world.active(template="vessel")
    due: datetime = world.clock.now() + timedelta(hours=1)
    world.run(inhibit(world, pid, expected_restore_at=due))
    warnings = world.service.readiness(pid).actions["close"].warnings
    assert "inhibit_overdue" not in {w.code for w in warnings}
    world.clock.set(due)
    overdue = [
        w for w in world.service.readiness(pid).actions["close"].warnings if w.code == "inhibit_overdue"
    ]
    assert [w.rule for w in overdue] == ["RDY-08"]


def test_RDY_07_close_out_progress(vessel: World) -> None:
    world = vessel
    pid = world.active(template="vessel")
    world.run(inhibit(world, pid))
    world.clock.advance(timedelta(hours=1))
    world.run(complete(world, pid))
    progress = world.service.readiness(pid).progress
    assert (progress["closeout_checklist"], progress["inhibits_open"]) == ({"checked": 0, "required": 1}, 1)
    assert codes(refused(world, pid, close(world, pid), GuardFailed)) == {
        "closeout_items_unchecked",
        "inhibit_not_restored",
    }
