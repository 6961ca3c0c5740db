"""Issue 3: one walk of a confined-space hot-work permit through every safety control, on every backend —
briefings, gas sessions, isolation, activation, a failing reading, revalidation, resume, hand-back, fire watch and
close. (The SIMOPS decision step joins when the SIMOPS area lands.)"""

from __future__ import annotations

from datetime import timedelta

from ptw_domain.isolation import commands as ic
from ptw_domain.people import commands as pc
from ptw_domain.people.state import PermitRole
from tests.builders import World, activate, approve, close, complete, resume, verify


def test_a_confined_space_hot_work_permit_from_draft_to_close(world: World) -> None:
    world.register_worker("att", "confined_space_attendant")
    world.register_worker("welder", "hot_work", "confined_space_entry")
    # Given: a hot-work permit inside a confined space, drafted, submitted and verified
    pid = world.draft(
        confined_space=True,
        emergency_arrangements="Tripod, winch and rescue team on call",
        description="Weld a nozzle inside vessel V-12",
    )
    world.nominate_and_submit(pid)
    world.run(verify(world, pid, approvers=(world.people["app"],)))
    # the isolation of the vessel's inlet, assigned and approved
    world.assign_point(pid)
    world.run(approve(world, pid))
    # people: the welder enters, an attendant keeps the roster, a fire watch stands by; all briefed
    for who, roles in (("welder", (PermitRole.CREW, PermitRole.ENTRANT)), ("att", (PermitRole.ATTENDANT,))):
        world.run(
            pc.AssignWorker(
                actor=world.actor("app"), permit_id=pid, worker_id=world.workers[who], permit_roles=roles
            )
        )
    world.run(pc.AssignFireWatch(actor=world.actor("app"), permit_id=pid, worker_id=world.workers["watch"]))
    world.brief(pid)
    world.run(
        pc.PostAttendant(
            actor=world.actor("att"), permit_id=pid, worker_id=world.workers["att"], on_duty=True
        )
    )
    # the point isolated and proved; the atmosphere tested: 0 % LEL for hot work inside (GAS-07)
    world.isolate_and_verify(pid)
    world.gas_test(pid)
    world.clock.advance(timedelta(minutes=30))
    assert world.service.readiness(pid, actor=world.actor("app")).actions["activate"].allowed
    world.run(activate(world, pid))
    world.run(pc.RecordEntry(actor=world.actor("welder"), permit_id=pid, worker_id=world.workers["welder"]))

    # When: a retest finds oxygen low — the permit is suspended in the same transaction (GAS-11)
    world.clock.advance(timedelta(hours=1))
    failing = world.gas_test(pid, O2=18.5)
    assert world.permit(pid).status == "suspended"
    world.run(pc.RecordExit(actor=world.actor("att"), permit_id=pid, worker_id=world.workers["welder"]))
    # revalidation: ventilate, test again, brief again (GAS-12, TBT-05), then issue and acceptance again
    world.clock.advance(timedelta(minutes=20))
    world.gas_test(pid)
    world.brief(pid)
    assert world.service.readiness(pid).actions["resume"].allowed
    world.run(resume(world, pid))
    # the work is finished: out of the vessel, hand back, fire watch, de-isolate, inspect and close
    world.clock.advance(timedelta(hours=2))
    world.run(complete(world, pid))
    world.clock.advance(timedelta(minutes=31))
    world.complete_fire_watch(pid)
    world.run(
        ic.DeisolatePoint(
            actor=world.actor("iso"), isolation_id=world.permit(pid).isolations.assignments[0].isolation_id
        )
    )
    world.clock.advance(timedelta(minutes=5))
    world.run(close(world, pid))

    # Then: closed, every act recorded in order, every chain intact, and the permit replays to the same state
    state = world.permit(pid)
    assert state.status == "closed"
    types = [e.type for e in world.service.history(pid)]
    for earlier, later in (
        ("PermitActivated", "PermitSuspended"),
        ("PermitSuspended", "PermitResumed"),
        ("PermitResumed", "PermitCompleted"),
        ("FireWatchCompleted", "PermitClosed"),
        ("LinkedIsolationEnded", "PermitClosed"),
    ):
        assert types.index(earlier) < types.index(later), (earlier, later)
    assert failing in state.gas.completed and state.gas.completed[failing] == "fail"
    assert all(v.ok for v in world.service.verify_chain(world.service.permit_streams(pid)))
    assert world.service.permit_at_version(pid, state.version) == state
