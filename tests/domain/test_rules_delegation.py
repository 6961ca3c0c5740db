# ruff: noqa: N802
"""Delegation DEL-01..04: acting on behalf, recorded as such; revoked, expired, self and SOD-breaching use refused."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from ptw_domain import commands as c
from ptw_domain.errors import Forbidden, GuardFailed, ValidationFailed
from ptw_domain.roles import Role
from tests.builders import World, approve, member, refused, verify


def grant(
    world: World, delegator: str, delegate: str, role: str = "approver", hours: int = 24, **kw: Any
) -> uuid.UUID:
    did = uuid.uuid4()
    world.run(
        c.GrantDelegation(
            actor=world.actor(delegator),
            delegation_id=did,
            project_id=world.project_id,
            delegate=world.people[delegate],
            role=role,
            valid_until=world.clock.now() + timedelta(hours=hours),
            **kw,
        )
    )
    return did


def verifier_delegate(world: World, *roles: Role, level: int) -> tuple[uuid.UUID, uuid.UUID]:
    """A submitted permit whose verifier `ver` has delegated the verifier role for it to `ver2` (holding
    `roles`); returns the permit and the delegation."""
    world.add_person("ver2", *roles, level=level)
    pid = world.submitted()
    return pid, grant(world, "ver", "ver2", role="verifier", permit_id=pid)


@pytest.fixture
def deputy(world: World) -> World:
    world.add_person("dep", Role.APPROVER)
    return world


def test_DEL_01_DEL_02_delegate_approves_on_behalf_of_the_delegator(deputy: World) -> None:
    world = deputy
    pid = world.under_review()
    did = grant(world, "app", "dep", permit_id=pid)
    world.run(approve(world, pid, "dep", delegation_id=did))
    event = world.service.history(pid)[-1]
    assert event.type == "PermitApproved"
    assert event.payload.approver == "dep"
    assert event.payload.on_behalf_of == "app"
    assert event.payload.signature.on_behalf_of == "app"
    assert event.metadata.actor.id == "dep"
    assert event.metadata.on_behalf_of == "app"
    assert event.metadata.delegation_id == did
    state = world.permit(pid)
    assert (state.approved_by, state.approved_on_behalf_of) == ("dep", "app")


def test_DEL_01_without_the_delegation_the_deputy_is_not_a_nominee(deputy: World) -> None:
    world = deputy
    pid = world.under_review()
    refused(world, pid, approve(world, pid, "dep", delegation_id=None), Forbidden)


def test_DEL_04_revoked_delegation_is_refused(deputy: World) -> None:
    world = deputy
    pid = world.under_review()
    did = grant(world, "app", "dep", permit_id=pid)
    world.run(c.RevokeDelegation(actor=world.actor("app"), delegation_id=did, reason="back from leave"))
    err = refused(world, pid, approve(world, pid, "dep", delegation_id=did), Forbidden)
    assert err.rule_ids == ("DEL-04",)
    assert "revoked" in err.facts["problems"]


def test_DEL_04_expired_delegation_is_refused(deputy: World) -> None:
    world = deputy
    pid = world.under_review()
    did = grant(world, "app", "dep", hours=1)
    world.clock.advance(timedelta(hours=1))
    err = refused(world, pid, approve(world, pid, "dep", delegation_id=did), Forbidden)
    assert err.rule_ids == ("DEL-04",)
    assert "outside its validity" in err.facts["problems"]


def test_DEL_04_delegation_for_another_permit_is_refused(deputy: World) -> None:
    world = deputy
    pid = world.under_review()
    other = world.under_review()
    did = grant(world, "app", "dep", permit_id=other)
    err = refused(world, pid, approve(world, pid, "dep", delegation_id=did), Forbidden)
    assert "not for this permit" in err.facts["problems"]


def test_DEL_04_someone_else_cannot_use_the_delegation(deputy: World) -> None:
    world = deputy
    pid = world.under_review()
    did = grant(world, "app", "dep", permit_id=pid)
    err = refused(world, pid, approve(world, pid, "app2", delegation_id=did), Forbidden)
    assert "granted to someone else" in err.facts["problems"]


def test_DEL_04_self_delegation_is_refused(world: World) -> None:
    with pytest.raises(ValidationFailed) as info:
        grant(world, "app", "app")
    assert info.value.rule_ids == ("DEL-04",)


def test_DEL_01_delegate_must_hold_the_role(world: World) -> None:
    with pytest.raises(GuardFailed) as info:
        grant(world, "app", "ver")
    assert info.value.rule_ids == ("DEL-01",)


def test_DEL_01_only_an_own_role_is_delegated(deputy: World) -> None:
    with pytest.raises(Forbidden) as info:
        grant(deputy, "ver", "dep", role="approver")
    assert info.value.rule_ids == ("DEL-01",)


def test_DEL_03_delegate_who_is_the_requestor_is_refused(world: World) -> None:
    world.add_person("req", Role.REQUESTOR, Role.APPROVER)
    pid = world.under_review()
    did = grant(world, "app", "req", permit_id=pid)
    err = refused(world, pid, approve(world, pid, "req", delegation_id=did), GuardFailed)
    assert {"SOD-01", "DEL-03"} & set(err.rule_ids)
    assert world.permit(pid).status == "under_review"


def test_DEL_03_verifier_delegate_acting_for_the_verifier_is_recorded(world: World) -> None:
    pid, did = verifier_delegate(world, Role.VERIFIER, level=2)
    world.run(verify(world, pid, actor="ver2", delegation_id=did))
    event = world.service.history(pid)[-1]
    assert event.payload.verifier == "ver2"
    assert event.payload.on_behalf_of == "ver"
    assert event.metadata.delegation_id == did


def test_DEL_03_SOD_01_delegating_verifier_cannot_be_nominated_approver(world: World) -> None:
    pid, did = verifier_delegate(world, Role.VERIFIER, level=2)
    world.run(verify(world, pid, actor="ver2", delegation_id=did))
    # SOD-01 compares persons under delegation: the verifier who delegated cannot be nominated approver later.
    ver_as_approver = member("ver", Role.APPROVER, level=3)
    err = refused(
        world,
        pid,
        c.NominateApprovers(actor=world.actor("ver"), permit_id=pid, approvers=(ver_as_approver,)),
        GuardFailed,
    )
    assert "SOD-01" in err.rule_ids


def test_DEL_03_SOD_01_verifying_delegate_cannot_nominate_themself_as_approver(world: World) -> None:
    pid, did = verifier_delegate(world, Role.VERIFIER, Role.APPROVER, level=3)
    err = refused(
        world,
        pid,
        verify(world, pid, approvers=(world.people["ver2"],), actor="ver2", delegation_id=did),
        GuardFailed,
    )
    assert "SOD-01" in err.rule_ids
