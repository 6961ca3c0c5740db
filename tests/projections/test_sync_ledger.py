# ruff: noqa: N802
"""The sync ledger read model: the sync review list (SYNC-07) with the permit list's `needs_review` filter and
column (RM-01, RM-05), and the sync health figures (SYNC-12), on SQLite and PostgreSQL.

Given a world and a device's offline batch (tests/domain/test_sync.py builds them), When the projections catch
up, Then the review list, the permit list and the health figures say what the ledger recorded.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from ptw_projections.params import parse_query
from ptw_projections.permit_list.query import PermitQuery, list_permits
from ptw_projections.sync_ledger.query import sync_health, sync_review_list
from ptw_projections.verify import verify
from tests.builders import World, edit, nominate, submit
from tests.domain.test_sync import DEVICE, item, only, sync
from tests.projections.conftest import Projected


def flagged(world: World, ccid: str = "c1") -> uuid.UUID:
    """A draft whose offline submit failed a guard (no verifier nominated, LIFE-08): on the review list."""
    pid = world.draft()
    outcome = only(sync(world, item(world, ccid, submit(world, pid), base=1)))
    assert (outcome.reason, outcome.needs_review) == ("guard_failed", True)
    return pid


def in_review(projected: Projected, world: World, **query: Any) -> dict[uuid.UUID, bool]:
    """The permit list's `needs_review` per permit, for the (unpaged) list filtered by `query`."""
    page = list_permits(
        projected.catch_up(),
        world.project_id,
        parse_query({"page_size": 100, **query}, PermitQuery),
        as_of=world.clock.now(),
    )
    return {i.id: i.needs_review for i in page.items}


def test_SYNC_07_a_guard_failing_offline_puts_the_permit_on_the_review_list_with_its_blockers(
    world: World, projected: Projected
) -> None:
    pid = flagged(world)
    review = sync_review_list(projected.catch_up(), world.project_id)
    [entry] = review.items
    assert (entry.permit_id, entry.permit_number, entry.client_command_id, entry.command) == (
        pid,
        world.permit(pid).number,
        "c1",
        "SubmitPermit",
    )
    assert (entry.device_id, entry.user) == (DEVICE, "req")
    assert [b.code for b in entry.blockers] == ["verifier_not_nominated"]
    assert review.as_of_position == world.service.store.head_position()


def test_SYNC_07_a_later_applied_offline_command_on_the_permit_takes_it_off_the_list(
    world: World, projected: Projected
) -> None:
    pid = flagged(world)
    other = flagged(world, "c2")
    world.run(nominate(world, pid))  # online: the list keeps the permit until an offline command is applied
    assert [i.permit_id for i in sync_review_list(projected.catch_up(), world.project_id).items] == [
        pid,
        other,
    ]
    applied = only(sync(world, item(world, "c3", edit(world, pid, title="t"), base=2)))
    assert applied.outcome == "applied"
    assert [i.permit_id for i in sync_review_list(projected.catch_up(), world.project_id).items] == [other]


def test_SYNC_07_a_later_failing_command_replaces_the_entry_and_other_conflicts_do_not_list(
    world: World, projected: Projected
) -> None:
    pid = flagged(world)
    missing_base = only(sync(world, item(world, "c2", edit(world, pid, title="t"))))
    assert (missing_base.reason, missing_base.needs_review) == ("missing_base_version", False)
    world.clock.advance(timedelta(minutes=5))
    again = only(sync(world, item(world, "c3", submit(world, pid), base=1)))
    assert again.needs_review
    [entry] = sync_review_list(projected.catch_up(), world.project_id).items
    assert (entry.client_command_id, entry.recorded_at) == ("c3", world.clock.now())


def test_RM_01_RM_05_needs_review_filters_and_shows_the_sync_review_list(
    world: World, projected: Projected
) -> None:
    pid = flagged(world)
    calm = world.draft()
    assert in_review(projected, world) == {pid: True, calm: False}
    assert in_review(projected, world, needs_review="true") == {pid: True}
    assert in_review(projected, world, needs_review="false") == {calm: False}
    sync(world, item(world, "c2", nominate(world, pid), base=1))
    assert in_review(projected, world, needs_review="true") == {}


def test_SYNC_12_health_counts_the_outcomes_by_reason_and_device_over_24_hours(
    world: World, projected: Projected
) -> None:
    pid = world.draft()
    sync(
        world,
        item(world, "c1", edit(world, pid, title="x"), base=1),
        item(world, "c2", edit(world, pid, title="y")),  # missing base: conflict
        item(world, "c3", edit(world, uuid.uuid4(), title="z"), base=1),  # rejected not_found
    )
    world.clock.advance(timedelta(hours=1))
    sync(world, item(world, "c1", edit(world, pid, title="w"), base=2), device="tablet-9")
    sync(world, item(world, "c1", edit(world, pid, title="x"), base=1))  # a replay records nothing
    reads = projected.catch_up()
    health = sync_health(reads, world.project_id, until=world.clock.now())
    assert (health.applied, health.conflicts, health.rejected, health.devices) == (2, 1, 1, 2)
    assert health.reasons == {"missing_base_version": 1, "not_found": 1}
    assert (health.until - health.since, health.last_recorded_at) == (timedelta(hours=24), world.clock.now())
    later = sync_health(reads, world.project_id, until=world.clock.now() + timedelta(hours=23, minutes=30))
    assert (later.applied, later.conflicts, later.rejected, later.devices) == (1, 0, 0, 1)


def test_TEN_02_another_projects_review_list_and_health_are_apart(world: World, projected: Projected) -> None:
    flagged(world)
    south = World.create(world.service, world.clock, code="SOUTH")
    reads = projected.catch_up()
    assert sync_review_list(reads, south.project_id).items == []
    health = sync_health(reads, south.project_id, until=world.clock.now())
    assert (health.applied, health.conflicts, health.rejected, health.devices) == (0, 0, 0, 0)


def test_AUD_07_the_sync_ledger_read_model_equals_a_fresh_replay(world: World, projected: Projected) -> None:
    pid = flagged(world)
    flagged(world, "c2")
    sync(world, item(world, "c3", nominate(world, pid), base=1))
    projected.catch_up()
    result = verify(projected.runner("sync_ledger"))
    assert result.ok, result.differences
