"""The board at an instant (BRD-01) and the current board as the board at now."""

from __future__ import annotations

from datetime import timedelta

from ptw_domain.permit.status import Status
from ptw_projections.board.query import board_at
from tests.builders import World, complete
from tests.projections.conftest import Projected


def test_brd01_board_at_t_shows_what_was_on_site_then(world: World, projected: Projected) -> None:
    clock = world.clock
    before = clock.now()
    pid = world.active()
    activated = clock.now()
    clock.advance(timedelta(hours=1))
    world.run(complete(world, pid))
    after = clock.now()
    reads = projected.catch_up()

    assert board_at(reads, world.project_id, before - timedelta(seconds=1)).permits == []
    during = board_at(reads, world.project_id, activated + timedelta(minutes=30))
    assert [(p.id, p.status, p.effective_status) for p in during.permits] == [
        (pid, Status.ACTIVE, Status.ACTIVE)
    ]
    assert board_at(reads, world.project_id, after).permits == []  # handed back: off the board


def test_brd01_a_permit_past_its_validity_shows_expired_at_t(world: World, projected: Projected) -> None:
    pid = world.active()
    valid_until = world.permit(pid).valid_until
    reads = projected.catch_up()
    late = board_at(reads, world.project_id, valid_until + timedelta(minutes=1))
    [card] = late.permits
    assert (card.id, card.status, card.effective_status) == (pid, Status.ACTIVE, Status.EXPIRED)
    assert board_at(reads, world.project_id, valid_until - timedelta(minutes=1)).permits[
        0
    ].effective_status is (Status.ACTIVE)


def test_brd01_intervals_spanning_days_are_found_on_every_day(world: World, projected: Projected) -> None:
    """A permit left live past midnight, recorded expired by the sweep two days later, handed back on the third:
    on the board (expired from its validity end, TIME-05) on each day in between, off it afterwards."""
    pid = world.active()
    activated = world.clock.now()
    world.clock.advance(timedelta(days=2))
    world.service.run_sweep()
    world.clock.advance(timedelta(days=1))
    world.run(complete(world, pid))
    reads = projected.catch_up()
    for days in range(3):
        [card] = board_at(reads, world.project_id, activated + timedelta(days=days, minutes=5)).permits
        assert card.id == pid
        assert card.effective_status is (Status.ACTIVE if days == 0 else Status.EXPIRED)
    assert board_at(reads, world.project_id, world.clock.now()).permits == []
