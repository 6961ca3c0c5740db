"""Two services on one store: each one's cache goes stale when the other writes. Decisions taken on a cached
stream are only kept when the store accepts the write; refusals and no-ops are confirmed on fresh streams."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ptw_domain import commands as c
from ptw_domain.clock import ManualClock
from ptw_domain.errors import InvalidTransition
from ptw_domain.service import PermitService
from tests.builders import World, edit, nominate


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def two(shared_url: str, clock: ManualClock) -> Iterator[tuple[World, PermitService]]:
    first = PermitService(shared_url, clock=clock)
    second = PermitService(shared_url, clock=clock)
    yield World.create(first, clock), second
    first.close()
    second.close()


def test_an_edit_that_looks_like_a_no_op_on_a_stale_cache_is_applied(
    two: tuple[World, PermitService],
) -> None:
    world, second = two
    pid = world.draft()
    world.run(edit(world, pid, notes="A"))  # first service caches notes = A
    second.execute(edit(world, pid, notes="B"))  # the store now says B; the first cache still says A
    result = world.run(edit(world, pid, notes="A"))
    assert result.events == ("PermitEdited",)
    assert second.permit(pid).content.notes == "A"


def test_a_write_decided_on_a_stale_cache_is_decided_again(two: tuple[World, PermitService]) -> None:
    world, second = two
    pid = world.draft()
    world.run(edit(world, pid, notes="A"))
    second.execute(edit(world, pid, notes="B"))
    world.run(edit(world, pid, notes="C"))
    history = second.history(pid)
    assert [e.version for e in history] == list(range(1, len(history) + 1))
    assert second.permit(pid).content.notes == "C"
    assert all(v.ok for v in second.verify_chain([pid]))


def test_a_refusal_on_a_stale_cache_is_confirmed_on_fresh_state(two: tuple[World, PermitService]) -> None:
    """LIFE-02 must be judged on the recorded status, not on a cached one."""
    world, second = two
    pid = world.submitted()  # the first service caches status submitted
    second.execute(c.WithdrawPermit(actor=world.actor("req"), permit_id=pid))  # store: draft
    world.run(nominate(world, pid))
    with pytest.raises(InvalidTransition):
        world.run(c.WithdrawPermit(actor=world.actor("req"), permit_id=pid))  # stale cache would allow it
    assert second.permit(pid).status == "draft"
