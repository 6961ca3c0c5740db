"""Permit detail (RM-06) from the read side agrees with the domain: signatures and their validity (SIG-11),
chain head, effective status (TIME-05); another project's permit reads as missing (TEN-02)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from ptw_domain.permit.status import Status
from ptw_projections.errors import InvalidQuery, NotFound
from ptw_projections.permit_list.detail import permit_detail, permit_detail_at
from tests.builders import World, amend
from tests.projections.conftest import Projected


def test_rm06_detail_matches_the_domain_state_signatures_and_chain_head(
    world: World, projected: Projected
) -> None:
    pid = world.approved()
    # SIG-11: amending the core after approval invalidates the earlier signatures of the cycle.
    world.run(amend(world, pid, actor="req", reason="scope grew", description="Weld the second flange too"))
    reads = projected.catch_up()
    detail = permit_detail(reads, world.project_id, pid, as_of=world.clock.now())
    service = world.service
    assert detail.permit == service.permit(pid)
    assert detail.version == service.permit(pid).version
    assert detail.chain_head == service.history(pid)[-1].hash
    assert detail.core_hash == service.permit(pid).core_hash
    expected = [(v.signature.signature_id, v.status) for v in service.signatures(pid)]
    assert [(v.signature.signature_id, v.status) for v in detail.signatures] == expected
    assert {v.status.value for v in detail.signatures} >= {"invalidated"}


def test_rm06_effective_status_is_judged_at_as_of(world: World, projected: Projected) -> None:
    pid = world.active()
    reads = projected.catch_up()
    valid_until = world.permit(pid).valid_until
    assert permit_detail(
        reads, world.project_id, pid, as_of=valid_until - timedelta(seconds=1)
    ).effective_status is (Status.ACTIVE)
    late = permit_detail(reads, world.project_id, pid, as_of=valid_until)
    assert (late.status, late.effective_status) == (Status.ACTIVE, Status.EXPIRED)


def test_ten02_a_permit_of_another_project_reads_as_missing(world: World, projected: Projected) -> None:
    other = World.create(world.service, world.clock, code="SOUTH")
    foreign = other.submitted()
    reads = projected.catch_up()
    with pytest.raises(NotFound):
        permit_detail(reads, world.project_id, foreign, as_of=world.clock.now())
    with pytest.raises(NotFound):
        permit_detail(reads, world.project_id, uuid.uuid4(), as_of=world.clock.now())


def test_brd02_the_detail_at_a_version_or_instant_is_the_permit_as_it_was(
    world: World, projected: Projected
) -> None:
    pid = world.approved()
    approved_version = world.permit(pid).version
    approved_at = world.clock.now()
    world.clock.advance(timedelta(minutes=10))
    world.run(amend(world, pid, actor="req", reason="scope grew", description="Weld the second flange too"))
    reads = projected.catch_up()
    service = world.service

    then = permit_detail_at(service, reads, world.project_id, pid, version=approved_version)
    assert then.permit == service.permit_at_version(pid, approved_version)
    assert then.chain_head == service.history(pid)[approved_version - 1].hash
    # SIG-11 as it read then: nothing was invalidated yet
    assert {v.status.value for v in then.signatures} == {"valid"}
    now = permit_detail(reads, world.project_id, pid, as_of=world.clock.now())
    assert "invalidated" in {v.status.value for v in now.signatures}

    at_instant = permit_detail_at(
        service, reads, world.project_id, pid, at=approved_at + timedelta(minutes=5)
    )
    assert at_instant.version == approved_version
    assert at_instant.permit.content.description != now.permit.content.description


def test_brd02_bad_input_and_tenancy(world: World, projected: Projected) -> None:
    pid = world.submitted()
    other = World.create(world.service, world.clock, code="SOUTH")
    reads = projected.catch_up()
    with pytest.raises(InvalidQuery) as both:
        permit_detail_at(world.service, reads, world.project_id, pid, version=1, at=world.clock.now())
    assert both.value.parameter == "version"
    with pytest.raises(NotFound):
        permit_detail_at(world.service, reads, other.project_id, pid, version=1)
    with pytest.raises(NotFound):
        permit_detail_at(world.service, reads, world.project_id, pid, version=999)


def test_rm06_detail_lists_the_conflicts_touching_the_permit_by_id(
    world: World, projected: Projected
) -> None:
    """The conflicts with every permit of the same place and hours, each naming the other permit, in id order
    (one statement on both backends: the UUID's order there is its text's)."""
    pid = world.submitted()
    others = {world.submitted() for _ in range(3)}
    reads = projected.catch_up()
    detail = permit_detail(reads, world.project_id, pid, as_of=world.clock.now())
    assert {line.other_permit for line in detail.conflicts} == others
    assert [str(line.conflict_id) for line in detail.conflicts] == sorted(
        str(line.conflict_id) for line in detail.conflicts
    )
    assert all(line.open for line in detail.conflicts)
    assert detail.as_of_position == reads.position("permit_list")
