# ruff: noqa: N802
"""ISO-13 and LOCK-03: an isolation's locks belong to whoever applied them (the isolator) until an acknowledged
`isolating` handover moves them (HOV-04); de-isolation by anyone else is refused unless the LOCK-02 facts were
recorded for each lock (through a linked permit, or on the isolation itself), and then flags the owner's worker
record (LOCK-04). Every backend."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from ptw_domain import commands as c
from ptw_domain.errors import Forbidden, GuardFailed, InvalidTransition, NotFound, StaleView, ValidationFailed
from ptw_domain.events.handover import HandoverRole
from ptw_domain.handover import commands as hc
from ptw_domain.isolation import commands as ic
from ptw_domain.people import commands as pc
from ptw_domain.signatures import SignatureInput
from tests.builders import START, World, absence_facts, complete, lock_exception, refused

EVENING = START.replace(hour=18)


@pytest.fixture
def electrical(world: World) -> World:
    """A template with structured isolation: `World.active` isolates (as `iso`) and verifies (as `iso2`)."""
    world.publish_template({"key": "electrical", "category": "electrical"})
    return world


def isolation_of(world: World, pid: uuid.UUID) -> uuid.UUID:
    return world.permit(pid).isolations.assignments[0].isolation_id


def isolation_events(world: World, isolation_id: uuid.UUID) -> list[Any]:
    return list(world.service.store.events.get(isolation_id))


def deisolate(world: World, isolation_id: uuid.UUID, who: str) -> ic.DeisolatePoint:
    return ic.DeisolatePoint(actor=world.actor(who), isolation_id=isolation_id)


def exception(world: World, pid: uuid.UUID, lock_id: str, **overrides: Any) -> ic.RecordLockRemovalException:
    """LOCK-02: the three facts, recorded by `iso2` (an isolating authority) through the permit."""
    return lock_exception(world, pid, lock_id, actor="iso2", **overrides)


def test_ISO_13_LOCK_03_only_the_owner_of_the_locks_de_isolates(electrical: World) -> None:
    world = electrical
    pid = world.completed(template="electrical")
    iid = isolation_of(world, pid)
    before = len(isolation_events(world, iid))
    with pytest.raises(GuardFailed) as not_owner:
        world.run(deisolate(world, iid, "iso2"))
    assert not_owner.value.rule_ids == ("ISO-13", "LOCK-03")
    [blocker] = not_owner.value.blockers
    locks = isolation_events(world, iid)[2].payload.lock_ids  # as PointIsolated recorded them
    assert (blocker.code, blocker.facts) == ("not_lock_owner", {"owner": "iso", "lock_ids": list(locks)})
    assert len(isolation_events(world, iid)) == before  # a refused command records nothing
    world.run(deisolate(world, iid, "iso"))
    deisolated = isolation_events(world, iid)[-1].payload
    assert (deisolated.by, deisolated.method, deisolated.locks_removed) == ("iso", "owner", locks)


def test_ISO_13_LOCK_02_with_the_exception_facts_for_each_lock_another_de_isolates(electrical: World) -> None:
    world = electrical
    pid = world.completed(template="electrical")  # LOCK-05: only the isolation's locks remain
    iid = isolation_of(world, pid)
    [lock_id] = isolation_events(world, iid)[2].payload.lock_ids
    missing = refused(world, pid, exception(world, pid, lock_id, contact_attempts=" "), ValidationFailed)
    assert missing.facts == {"fields": ["contact_attempts"]}
    with pytest.raises(Forbidden):  # LOCK-02/SEC-04: an isolating authority or project admin
        world.run(lock_exception(world, pid, lock_id, actor="req"))
    result = world.run(exception(world, pid, lock_id))
    assert result.events == ("LinkedIsolationLockExcepted",)  # the permit's own record of it
    recorded = isolation_events(world, iid)[-1]
    assert recorded.type == "IsolationLockExceptionRecorded"
    assert (recorded.payload.lock_id, recorded.payload.owner, recorded.payload.recorded_by) == (
        lock_id,
        "iso",
        "iso2",
    )
    assert world.run(exception(world, pid, lock_id)).events == ()  # recorded once
    world.run(deisolate(world, iid, "iso2"))
    deisolated = isolation_events(world, iid)[-1].payload
    assert (deisolated.by, deisolated.method, deisolated.locks_removed) == ("iso2", "exception", (lock_id,))


def test_ISO_13_RDY_04_de_isolation_readiness_shows_the_blockers_the_command_is_refused_with(
    electrical: World,
) -> None:
    """RDY-03/04 for de-isolation: holding permits (ISO-11) and lock ownership (ISO-13) are reported together, and
    the readiness of the act lists the very blockers of the refusal."""
    world = electrical
    pid = world.active(template="electrical")
    iid = isolation_of(world, pid)
    with pytest.raises(GuardFailed) as refusal:
        world.run(deisolate(world, iid, "iso2"))
    assert [b.rule for b in refusal.value.blockers] == ["ISO-11", "ISO-13"]
    assert world.service.deisolation_blockers(iid, actor=world.actor("iso2")) == list(refusal.value.blockers)
    assert [b.rule for b in world.service.deisolation_blockers(iid, actor=world.actor("iso"))] == ["ISO-11"]
    world.clock.advance(timedelta(minutes=30))
    world.run(complete(world, pid))
    assert world.service.deisolation_blockers(iid, actor=world.actor("iso")) == []
    world.run(deisolate(world, iid, "iso"))


def live_over_evening(world: World) -> uuid.UUID:
    """An electrical permit active from about 09:30 until 21:00, live at the 18:00 boundary (HOV-01)."""
    return world.active(
        template="electrical",
        planned_start=START + timedelta(hours=1),
        planned_end=START + timedelta(hours=13),
    )


def isolating_handover(world: World, pid: uuid.UUID, actor: str = "iso") -> hc.RecordHandover:
    return hc.RecordHandover(
        actor=world.actor(actor),
        permit_id=pid,
        handover_id=uuid.uuid4(),
        role=HandoverRole.ISOLATING,
        incoming=world.people["iso2"],
        notes="Breaker CB-1 locked off, key in the cabinet",
        signature=world.signature(pid),
    )


def test_LOCK_03_HOV_04_an_acknowledged_isolating_handover_moves_the_locks(electrical: World) -> None:
    world = electrical
    pid = live_over_evening(world)
    iid = isolation_of(world, pid)
    locks = isolation_events(world, iid)[2].payload.lock_ids
    world.clock.set(EVENING - timedelta(minutes=45))
    refused(world, pid, isolating_handover(world, pid, actor="iso2"), Forbidden)  # iso2 owns no locks yet
    handover = isolating_handover(world, pid)
    world.run(handover)
    assert isolation_events(world, iid)[-1].type == "IsolationVerified"  # recording moves nothing
    stale = hc.AcknowledgeHandover(
        actor=world.actor("iso2"),
        permit_id=pid,
        handover_id=handover.handover_id,
        signature=SignatureInput(core_hash="0" * 64),
    )
    before = len(isolation_events(world, iid))
    refused(world, pid, stale, StaleView)  # SIG-05: neither stream records anything
    assert len(isolation_events(world, iid)) == before
    acknowledged = world.run(
        hc.AcknowledgeHandover(
            actor=world.actor("iso2"),
            permit_id=pid,
            handover_id=handover.handover_id,
            signature=world.signature(pid),
        )
    )
    assert acknowledged.events == ("HandoverAcknowledged",)
    moved = isolation_events(world, iid)[-1]  # in the acknowledgement's own transaction
    assert moved.type == "IsolationLockOwnershipTransferred"
    assert (moved.payload.outgoing, moved.payload.incoming, moved.payload.lock_ids) == ("iso", "iso2", locks)
    assert (moved.payload.permit_id, moved.payload.handover_id) == (pid, handover.handover_id)
    assert moved.occurred_at == world.service.history(pid)[-1].occurred_at
    # the work ends; now the incoming isolating authority removes the locks, the outgoing one may not
    world.clock.advance(timedelta(minutes=10))
    world.run(complete(world, pid))
    with pytest.raises(GuardFailed) as not_owner:
        world.run(deisolate(world, iid, "iso"))
    assert not_owner.value.blockers[0].facts["owner"] == "iso2"
    world.run(deisolate(world, iid, "iso2"))
    assert isolation_events(world, iid)[-1].payload.method == "owner"


def on_isolation(world: World, iid: uuid.UUID, lock_id: str, who: str = "iso2", **overrides: Any) -> Any:
    """LOCK-02 recorded on the isolation itself (`RecordIsolationLockException`)."""
    return ic.RecordIsolationLockException(
        actor=world.actor(who), isolation_id=iid, lock_id=lock_id, **{**absence_facts(world), **overrides}
    )


def worker_events(world: World, person: str) -> list[Any]:
    return list(world.service.store.events.get(world.workers[person]))


def test_LOCK_04_ISO_13_locks_removed_by_exception_at_de_isolation_flag_their_owner(
    electrical: World,
) -> None:
    """LOCK-04: the owner of isolation locks removed by exception is flagged on their linked worker record, in the
    de-isolation's own transaction, until they acknowledge it, like a personal lock removed by exception."""
    world = electrical
    pid = world.completed(template="electrical")
    iid = isolation_of(world, pid)
    [lock_id] = isolation_events(world, iid)[2].payload.lock_ids
    world.run(exception(world, pid, lock_id))
    assert not world.service.worker(world.workers["iso"]).flagged  # recording the facts flags nobody yet
    world.run(deisolate(world, iid, "iso2"))
    deisolated = isolation_events(world, iid)[-1]
    flag = worker_events(world, "iso")[-1]
    assert flag.type == "WorkerFlaggedForLockRemoval"
    assert (flag.payload.isolation_id, flag.payload.permit_id, flag.payload.lock_id) == (iid, None, lock_id)
    assert flag.occurred_at == deisolated.occurred_at
    assert world.service.worker(world.workers["iso"]).lock_flags == (lock_id,)
    with pytest.raises(Forbidden):  # LOCK-04/SEC-05: acknowledged personally
        world.run(ic.AcknowledgeLockRemoval(actor=world.actor("iso2"), worker_id=world.workers["iso"]))
    world.run(ic.AcknowledgeLockRemoval(actor=world.actor("iso"), worker_id=world.workers["iso"]))
    assert not world.service.worker(world.workers["iso"]).flagged


def test_LOCK_04_the_owner_removing_their_own_locks_is_not_flagged(electrical: World) -> None:
    world = electrical
    pid = world.completed(template="electrical")
    iid = isolation_of(world, pid)
    before = len(worker_events(world, "iso"))
    world.run(deisolate(world, iid, "iso"))
    assert len(worker_events(world, "iso")) == before
    assert not world.service.worker(world.workers["iso"]).flagged


def test_LOCK_04_an_owner_linked_to_no_worker_record_cannot_have_their_locks_removed_by_exception(
    electrical: World,
) -> None:
    """LOCK-04 (ADR 0008): the flag lives on the owner's worker record; when the owner is linked to none, the
    removal by exception is refused (`owner_not_flaggable`) rather than made without the flag, until the member is
    linked to their worker record (WRK-01). Readiness shows the same blocker."""
    world = electrical
    pid = world.completed(template="electrical")
    iid = isolation_of(world, pid)
    [lock_id] = isolation_events(world, iid)[2].payload.lock_ids
    world.run(exception(world, pid, lock_id))
    unlink = pc.UpdateWorker(actor=world.actor("admin"), worker_id=world.workers["iso"], person_id=None)
    world.run(unlink)
    before = (len(isolation_events(world, iid)), len(worker_events(world, "iso")))
    with pytest.raises(GuardFailed) as refusal:
        world.run(deisolate(world, iid, "iso2"))
    assert refusal.value.rule_ids == ("LOCK-04",)
    [blocker] = refusal.value.blockers
    assert (blocker.code, blocker.facts) == ("owner_not_flaggable", {"owner": "iso"})
    assert world.service.deisolation_blockers(iid, actor=world.actor("iso2")) == [blocker]
    assert (len(isolation_events(world, iid)), len(worker_events(world, "iso"))) == before
    world.run(pc.UpdateWorker(actor=world.actor("admin"), worker_id=world.workers["iso"], person_id="iso"))
    world.run(deisolate(world, iid, "iso2"))
    assert world.service.worker(world.workers["iso"]).lock_flags == (lock_id,)


def test_LOCK_02_ISO_13_the_facts_are_recorded_on_an_isolation_linked_only_to_a_cancelled_permit(
    electrical: World,
) -> None:
    """LOCK-02: a cancelled permit carries no exception, so the facts are recorded on the isolation itself, by an
    isolating authority or project admin (SEC-04), with the same three-fact check; then another de-isolates
    (ISO-13) and the owner is flagged (LOCK-04)."""
    world = electrical
    pid = world.approved(template="electrical")
    world.isolate_and_verify(pid)
    world.run(c.CancelPermit(actor=world.actor("req"), permit_id=pid, reason="called off"))
    iid = isolation_of(world, pid)
    [lock_id] = isolation_events(world, iid)[2].payload.lock_ids
    refused(world, pid, exception(world, pid, lock_id), InvalidTransition)  # no path through the permit
    before = len(isolation_events(world, iid))
    with pytest.raises(ValidationFailed) as missing:
        world.run(on_isolation(world, iid, lock_id, will_inform_before_resuming=False))
    assert (missing.value.rule_ids, missing.value.facts) == (
        ("LOCK-02",),
        {"fields": ["will_inform_before_resuming"]},
    )
    with pytest.raises(Forbidden) as forbidden:
        world.run(on_isolation(world, iid, lock_id, who="req"))
    assert forbidden.value.rule_ids == ("SEC-04",)
    with pytest.raises(NotFound):
        world.run(on_isolation(world, iid, "L-NONE"))
    assert len(isolation_events(world, iid)) == before  # a refused command records nothing
    assert world.run(on_isolation(world, iid, lock_id)).events == ("IsolationLockExceptionRecorded",)
    recorded = isolation_events(world, iid)[-1].payload
    assert (recorded.lock_id, recorded.owner, recorded.recorded_by, recorded.permit_id) == (
        lock_id,
        "iso",
        "iso2",
        None,
    )
    assert world.run(on_isolation(world, iid, lock_id, who="admin")).events == ()  # recorded once
    world.run(deisolate(world, iid, "iso2"))
    assert isolation_events(world, iid)[-1].payload.method == "exception"
    assert world.service.worker(world.workers["iso"]).lock_flags == (lock_id,)


def test_LOCK_02_ISO_14_an_isolation_held_by_operations_takes_the_facts_on_its_own_stream(
    electrical: World,
) -> None:
    """LOCK-02/ISO-13: once held by operations (ISO-14) the isolation depends on no permit, so the permit that
    linked it no longer carries the facts; the isolation does."""
    world = electrical
    pid = world.completed(template="electrical")
    iid = isolation_of(world, pid)
    [lock_id] = isolation_events(world, iid)[2].payload.lock_ids
    transfer = ic.TransferIsolationToOperations(
        actor=world.actor("area"), isolation_id=iid, reason="left in place for recommissioning"
    )
    world.run(transfer)
    refused(world, pid, exception(world, pid, lock_id), NotFound)
    with pytest.raises(GuardFailed) as not_owner:
        world.run(deisolate(world, iid, "iso2"))
    assert "ISO-13" in not_owner.value.rule_ids
    world.run(on_isolation(world, iid, lock_id))
    world.run(deisolate(world, iid, "iso2"))
    assert isolation_events(world, iid)[-1].payload.method == "exception"
    assert world.service.worker(world.workers["iso"]).flagged
