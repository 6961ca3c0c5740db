# ruff: noqa: N802
"""SEC-09 / SIG-10 idempotency: a retried command with the same key returns the original result."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from ptw_domain import commands as c
from ptw_domain.errors import AlreadyApproved, GuardFailed, IdempotencyKeyReused, StaleVersion
from tests.builders import World, approve, create, edit


def ctx(key: str) -> c.CommandContext:
    return c.CommandContext(idempotency_key=key)


def keyed_approval(world: World, pid: uuid.UUID, key: str, actor: str = "app") -> c.ApprovePermit:
    """ApprovePermit carrying the idempotency key `key`."""
    return approve(world, pid, actor, context=ctx(key))


def test_SEC_09_same_key_same_command_replays_the_original_result(world: World) -> None:
    pid = world.under_review()
    first = world.run(keyed_approval(world, pid, "k-1"))
    assert first.replayed is False
    version = world.permit(pid).version
    events = len(world.service.history(pid))
    world.clock.advance(timedelta(seconds=30))  # a later retry with fresh auth_time is still the same command
    again = world.run(keyed_approval(world, pid, "k-1"))
    assert again.replayed is True
    assert (again.command, again.stream_id, again.version, again.events) == (
        first.command,
        first.stream_id,
        first.version,
        first.events,
    )
    assert world.permit(pid).version == version
    assert len(world.service.history(pid)) == events
    assert world.service.history(pid)[-1].metadata.idempotency_key == "k-1"


def test_SEC_09_create_permit_replay_returns_the_same_number_and_consumes_none(world: World) -> None:
    cmd = create(world, context=ctx("create-1"))
    first = world.run(cmd)
    again = world.run(cmd)
    assert again.replayed is True
    assert again.permit_number == first.permit_number == "NORTH-2026-00001"
    assert len(world.service.project(world.project_id).permits) == 1
    assert world.permit(world.draft()).number == "NORTH-2026-00002"


def test_SEC_09_same_key_different_command_is_refused(world: World) -> None:
    pid = world.under_review()
    world.run(keyed_approval(world, pid, "k-2"))
    version = world.permit(pid).version
    other = c.RejectPermit(actor=world.actor("app"), permit_id=pid, reason="no", context=ctx("k-2"))
    with pytest.raises(IdempotencyKeyReused) as info:
        world.run(other)
    assert info.value.code == "idempotency_key_reused"
    assert info.value.rule_ids == ("SEC-09",)
    assert world.permit(pid).version == version


def test_SEC_09_same_key_by_another_actor_is_refused(world: World) -> None:
    pid = world.under_review()
    world.run(keyed_approval(world, pid, "k-3"))
    with pytest.raises(IdempotencyKeyReused):
        world.run(keyed_approval(world, pid, "k-3", actor="app2"))


def test_SEC_09_refused_command_with_a_key_can_be_retried(world: World) -> None:
    pid = world.under_review(ppe=())
    version = world.permit(pid).version
    with pytest.raises(GuardFailed):
        world.run(keyed_approval(world, pid, "k-4"))
    assert world.permit(pid).version == version
    world.run(edit(world, pid, notes="n"))
    with pytest.raises(GuardFailed):
        world.run(keyed_approval(world, pid, "k-4"))  # still refused: nothing was remembered for the key


def test_SEC_09_refused_then_fixed_command_succeeds_with_the_same_key(world: World) -> None:
    pid = world.under_review()
    stale = approve(world, pid, expected_version=1, context=ctx("k-5"))
    with pytest.raises(StaleVersion):
        world.run(stale)
    result = world.run(keyed_approval(world, pid, "k-5"))
    assert result.replayed is False
    assert world.permit(pid).status == "approved"


def test_SIG_10_second_approval_with_a_new_key_is_refused_already_approved(world: World) -> None:
    pid = world.under_review()
    world.run(keyed_approval(world, pid, "k-6"))
    with pytest.raises(AlreadyApproved):
        world.run(keyed_approval(world, pid, "k-7", actor="app2"))
