"""The runner: exactly once, batched, poison events stop a projection, blue/green rebuild, verification."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from ptw_projections.database import open_read_database
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


@pytest.mark.postgres
def test_read_side_commits_wait_for_the_wal_flush_only_when_the_url_asks(postgres_url: str) -> None:
    """ADR 0015: the read side is rebuilt from the events, so by default its commits skip the WAL flush."""
    for suffix, expected in (("", "off"), ("&read_synchronous_commit=on", "on")):
        db = open_read_database(postgres_url + suffix)
        try:
            with db.engine.connect() as conn:
                assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == expected
        finally:
            db.dispose()
    with pytest.raises(ValueError, match="read_synchronous_commit"):
        open_read_database(postgres_url + "&read_synchronous_commit=local")
