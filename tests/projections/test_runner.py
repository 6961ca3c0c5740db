"""The runner: exactly once, batched, poison events stop a projection, blue/green rebuild, verification."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.builders import World
from tests.projections.conftest import Projected


def test_catch_up_applies_every_event_once_and_tracks_the_head(world: World, projected: Projected) -> None:
    world.approved()
    reads = projected.catch_up()
    head = world.service.store.head_position()
    assert reads.position("permit_list") == head
    assert reads.position("audit_trail") == head
    with reads.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(reads.views("audit_trail")["audit_events"]))
        assert rows.scalar_one() == head
    projected.catch_up()  # again: nothing is applied twice
    with reads.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(reads.views("audit_trail")["audit_events"]))
        assert rows.scalar_one() == head
