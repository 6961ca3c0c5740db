"""RDY-04: a command refused by its guards lists exactly readiness's blockers, in readiness's order, whether
the status guard failed (invalid_transition) or another guard did (guard_failed)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ptw_domain import commands as c
from ptw_domain.errors import GuardFailed, InvalidTransition
from tests.builders import World, activate, submit


def test_RDY_04_a_wrong_status_refusal_lists_every_readiness_blocker(world: World) -> None:  # noqa: N802
    pid = world.draft(hazards=())  # draft: activate fails LIFE-02, and more
    issuer = world.actor("app")
    expected = world.service.readiness(pid, actor=issuer).actions["activate"].blockers
    with pytest.raises(InvalidTransition) as refused:
        world.run(activate(world, pid, issuer))
    assert expected[0].rule == "LIFE-02"
    assert refused.value.blockers == expected


def test_RDY_04_a_guard_refusal_lists_every_readiness_blocker(world: World) -> None:  # noqa: N802
    pid = world.approved()
    world.clock.advance(
        timedelta(hours=3, minutes=30)
    )  # past the start window: LIFE-23 and LIFE-17 both fail
    issuer = world.actor("req")  # the requestor as issuer: ROLE-04 and SOD-02 too
    expected = world.service.readiness(pid, actor=issuer).actions["activate"].blockers
    assert [b.rule for b in expected][:2] == ["LIFE-23", "LIFE-17"]
    with pytest.raises((GuardFailed, InvalidTransition)) as refused:
        world.run(activate(world, pid, issuer))
    # the command first records the expiry that was due (TIME-04), so it is judged on an expired permit
    after = world.service.readiness(pid, actor=issuer).actions["activate"].blockers
    assert refused.value.blockers == after


def test_RDY_04_submit_from_rejected_is_refused_with_the_resubmit_hint(world: World) -> None:  # noqa: N802
    pid = world.submitted()
    world.run(c.RejectPermit(actor=world.actor("ver"), permit_id=pid, reason="scope unclear"))
    with pytest.raises(InvalidTransition) as refused:
        world.run(submit(world, pid))
    assert "ResubmitPermit" in refused.value.allowed_commands
