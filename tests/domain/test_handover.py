# ruff: noqa: N802
"""Section 4.9, SOD-07 and SIG-01: shift handovers at the project's boundaries (06:00 and 18:00 UTC here), their
signed recording and acknowledgement, the missed-handover time fact and the resume guard it raises."""

from __future__ import annotations

import uuid
from datetime import timedelta

import msgspec
import pytest

from ptw_domain import commands as c
from ptw_domain.canonical import canonical_json
from ptw_domain.errors import (
    DomainError,
    Forbidden,
    GuardFailed,
    InvalidTransition,
    NotFound,
    ReauthenticationRequired,
    StaleView,
)
from ptw_domain.events.handover import HandoverRole
from ptw_domain.handover import commands as hc
from ptw_domain.isolation import commands as ic
from ptw_domain.people import commands as pc
from ptw_domain.roles import CompanyKind, Role
from ptw_domain.signatures import SignatureInput
from ptw_domain.store.mapper import decode_event
from tests.builders import START, World, activate, codes, complete, refused, resume, types
from tests.domain.test_people import certify, link_worker

EVENING = START.replace(hour=18)  # the boundary the permits below are live at
PERFORMING, ISSUING, ISOLATING = HandoverRole.PERFORMING, HandoverRole.ISSUING, HandoverRole.ISOLATING


@pytest.fixture
def crew(world: World) -> World:
    """`req2` can take over as PA, `app3` as issuer."""
    world.add_person("req2", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR)
    world.add_person("app3", Role.APPROVER, level=3)
    return world


def live_over_evening(world: World) -> uuid.UUID:
    """A cold-work permit active from about 08:30 until 21:00, so live at the 18:00 boundary."""
    return world.active(
        template="cold-work",
        planned_start=START + timedelta(hours=1),
        planned_end=START + timedelta(hours=13),
    )


def record(
    world: World,
    pid: uuid.UUID,
    incoming: str = "req2",
    actor: str = "req",
    role: HandoverRole = PERFORMING,
    handover_id: uuid.UUID | None = None,
) -> hc.RecordHandover:
    return hc.RecordHandover(
        actor=world.actor(actor),
        permit_id=pid,
        handover_id=handover_id or uuid.uuid4(),
        role=role,
        incoming=world.people[incoming],
        notes="Flange bolts torqued to 50 %, rest next shift",
        signature=world.signature(pid),
    )


def acknowledge(world: World, pid: uuid.UUID, handover_id: uuid.UUID, actor: str = "req2") -> None:
    world.run(
        hc.AcknowledgeHandover(
            actor=world.actor(actor), permit_id=pid, handover_id=handover_id, signature=world.signature(pid)
        )
    )


def hand_over(world: World, pid: uuid.UUID, incoming: str = "req2", actor: str = "req") -> uuid.UUID:
    command = record(world, pid, incoming, actor)
    world.run(command)
    acknowledge(world, pid, command.handover_id, incoming)
    return command.handover_id


def resume_blockers(world: World, pid: uuid.UUID) -> list[str]:
    return [b.rule for b in world.service.readiness(pid).actions["resume"].blockers]


def test_HOV_01_a_handover_is_due_at_each_boundary_a_permit_is_live_at(crew: World) -> None:
    world = crew
    evening = live_over_evening(world)
    handed_back = world.active(template="cold-work")  # valid until 17:00
    world.clock.set(START.replace(hour=16))
    world.run(complete(world, handed_back))
    world.clock.set(EVENING + timedelta(minutes=30))  # the grace after 18:00 has ended
    world.service.run_sweep()
    missed = [e.payload for e in world.service.history(evening) if e.type == "HandoverMissed"]
    assert [m.boundary for m in missed] == [EVENING]  # not 06:00 that morning: before activation
    assert "HandoverMissed" not in types(world, handed_back)  # not live at 18:00


def test_HOV_02_the_snapshot_holds_the_isolations_personal_locks_and_open_conflicts(crew: World) -> None:
    world = crew
    window = {"planned_start": START + timedelta(hours=1), "planned_end": START + timedelta(hours=13)}
    pid = world.approved(template="cold-work", **window)
    point_id = world.assign_point(pid)
    world.prepare_crew(pid)  # isolates and proves the point (ISO-10)
    world.clock.advance(timedelta(minutes=30))
    world.run(activate(world, pid))
    world.run(
        ic.ApplyPersonalLock(
            actor=world.actor("crew1"), permit_id=pid, lock_id="P-7", worker_id=world.workers["crew1"]
        )
    )
    neighbour = world.approved(template="cold-work", **window)  # same area and time: a low SIMOPS notice
    world.clock.set(EVENING - timedelta(minutes=45))
    world.run(record(world, pid))
    snapshot = world.service.history(pid)[-1].payload.snapshot
    [isolation] = snapshot.isolations
    assignment = world.service.permit(pid).isolations.assignment(point_id)
    assert assignment is not None
    assert (isolation.isolation_id, isolation.status, isolation.required, isolation.achieved_category) == (
        assignment.isolation_id,
        "verified",
        True,
        "I",
    )
    assert isolation.point_code.startswith("V-") and len(isolation.lock_ids) == 1
    assert [(lock.lock_id, lock.worker_id) for lock in snapshot.personal_locks] == [
        ("P-7", world.workers["crew1"])
    ]
    assert [(c.severity, c.other_permit) for c in snapshot.open_conflicts] == [("low", neighbour)]


def test_HOV_02_a_handover_is_recorded_while_live_in_the_window_of_a_boundary(crew: World) -> None:
    world = crew
    approved = world.approved(template="cold-work")
    refused(world, approved, record(world, approved), InvalidTransition)  # not live
    pid = live_over_evening(world)
    world.clock.set(START.replace(hour=12))
    outside = refused(world, pid, record(world, pid), GuardFailed)
    assert codes(outside) == {"outside_handover_window"}
    world.clock.set(EVENING - timedelta(minutes=45))
    refused(
        world, pid, record(world, pid, actor="app"), Forbidden
    )  # only the PA hands the performing role over
    first = record(world, pid)
    assert world.run(first).events == ("HandoverRecorded",)
    recorded = world.service.history(pid)[-1].payload
    assert (recorded.boundary, recorded.outgoing, recorded.incoming.person_id) == (EVENING, "req", "req2")
    snapshot = recorded.snapshot
    assert (snapshot.status, snapshot.performing_authority, snapshot.issuer_of_record) == (
        "active",
        "req",
        "app",
    )
    assert snapshot.people_inside == () and snapshot.suspension_reasons == ()
    # only one handover satisfies a boundary: a newer one replaces a pending one, which can no longer be taken up
    second = record(world, pid, "app3", actor="app", role=ISSUING)
    world.run(second)
    replacement = record(world, pid)
    world.run(replacement)
    stale = refused(
        world,
        pid,
        hc.AcknowledgeHandover(
            actor=world.actor("req2"),
            permit_id=pid,
            handover_id=first.handover_id,
            signature=world.signature(pid),
        ),
        GuardFailed,
    )
    assert codes(stale) == {"superseded"}
    acknowledge(world, pid, replacement.handover_id)
    world.add_person("req3", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR)
    again = refused(world, pid, record(world, pid, "req3", actor="req2"), GuardFailed)
    assert codes(again) == {"already_handed_over"}
    world.clock.set(EVENING + timedelta(minutes=30))
    world.service.run_sweep()
    assert "HandoverMissed" not in types(
        world, pid
    )  # acknowledged within the grace: the boundary is satisfied


def test_SOD_07_the_incoming_person_differs_from_the_outgoing_person(crew: World) -> None:
    world = crew
    pid = live_over_evening(world)
    world.clock.set(EVENING - timedelta(minutes=30))
    same = refused(world, pid, record(world, pid, incoming="req"), GuardFailed)
    assert same.rule_ids == ("SOD-07",)


def test_HOV_03_a_missed_handover_is_recorded_once_and_suspends_an_active_permit(crew: World) -> None:
    world = crew
    pid = live_over_evening(world)
    world.clock.set(EVENING - timedelta(minutes=10))
    late = record(world, pid)
    world.run(late)  # recorded in time, but not acknowledged within the grace
    world.clock.set(EVENING + timedelta(minutes=29))
    assert world.service.run_sweep() == []
    world.clock.set(EVENING + timedelta(minutes=30))
    assert [r.events for r in world.service.run_sweep()] == [("HandoverMissed", "PermitSuspended")]
    assert world.service.run_sweep() == []  # TIME-03: once per boundary
    missed, suspended = world.service.history(pid)[-2:]
    assert (missed.payload.boundary, missed.payload.due_at) == (EVENING, EVENING + timedelta(minutes=30))
    assert (missed.metadata.rule, missed.metadata.actor.kind) == ("HOV-03", "system")
    assert (suspended.payload.reason_code, suspended.payload.by_system) == ("handover_missed", True)
    assert suspended.payload.cause_ref == f"handover:{EVENING.isoformat()}"


def test_HOV_03_a_permit_already_suspended_gets_the_fact_but_no_new_cause(crew: World) -> None:
    world = crew
    pid = live_over_evening(world)
    world.clock.set(EVENING - timedelta(hours=1))
    world.run(
        c.SuspendPermit(actor=world.actor("safe"), permit_id=pid, reason_code="manual", text="Unit upset")
    )
    world.clock.set(EVENING + timedelta(hours=1))
    world.service.run_sweep()
    state = world.permit(pid)
    assert state.handover.missed == (EVENING,)
    assert [s.reason_code for s in state.suspensions] == ["manual"]
    assert "HOV-04" in resume_blockers(world, pid)  # the miss still has to be cleared


def test_HOV_04_the_incoming_person_acknowledges_and_takes_the_role_over(crew: World) -> None:
    world = crew
    world.add_person("novice", Role.APPROVER, level=1)
    pid = live_over_evening(world)
    world.clock.set(EVENING - timedelta(minutes=20))
    no_role = refused(world, pid, record(world, pid, incoming="app3"), GuardFailed)  # not a requestor
    assert no_role.rule_ids == ("ROLE-04",)
    performing = record(world, pid)
    world.run(performing)
    refused(
        world,
        pid,
        hc.AcknowledgeHandover(
            actor=world.actor("app3"),
            permit_id=pid,
            handover_id=performing.handover_id,
            signature=world.signature(pid),
        ),
        Forbidden,
    )
    refused(
        world,
        pid,
        hc.AcknowledgeHandover(
            actor=world.actor("req2"), permit_id=pid, handover_id=uuid.uuid4(), signature=world.signature(pid)
        ),
        NotFound,
    )
    acknowledge(world, pid, performing.handover_id)
    assert world.permit(pid).performing_authority == "req2"
    low = refused(world, pid, record(world, pid, "novice", actor="app", role=ISSUING), GuardFailed)
    assert low.rule_ids == ("ROLE-04",)  # issuing at medium risk needs level 2
    issuing = record(world, pid, "app3", actor="app", role=ISSUING)
    world.run(issuing)
    acknowledge(world, pid, issuing.handover_id, "app3")
    assert world.permit(pid).issuer_of_record == "app3"
    world.clock.advance(timedelta(minutes=30))
    refused(world, pid, complete(world, pid, actor="req"), Forbidden)  # SEC-05, SEC-03: no longer the PA
    world.run(complete(world, pid, actor="req2"))
    assert world.permit(pid).hand_back.performing_authority == "req2"  # type: ignore[union-attr]


def test_HOV_04_a_missed_handover_blocks_resume_until_a_handover_is_acknowledged(crew: World) -> None:
    world = crew
    pid = live_over_evening(world)
    world.clock.set(EVENING + timedelta(minutes=31))
    world.service.run_sweep()
    assert world.permit(pid).status == "suspended"
    world.clock.advance(timedelta(minutes=15))
    world.brief(pid)  # TBT-05
    assert resume_blockers(world, pid) == ["HOV-04"]
    refused(world, pid, resume(world, pid), GuardFailed)
    late = record(world, pid)  # after the grace: a late handover for the missed boundary
    world.run(late)
    assert world.service.history(pid)[-1].payload.late is True
    assert resume_blockers(world, pid) == ["HOV-04"]  # recorded is not enough
    acknowledge(world, pid, late.handover_id)
    assert resume_blockers(world, pid) == []
    world.run(resume(world, pid, acceptor="req2"))
    assert world.permit(pid).status == "active"


def test_HOV_04_readiness_judges_a_due_miss_before_the_sweep_records_it(crew: World) -> None:
    """TIME-05/RDY-04: resume readiness and the command that first records the fact agree."""
    world = crew
    pid = live_over_evening(world)
    world.clock.set(EVENING - timedelta(minutes=5))
    world.run(c.SuspendPermit(actor=world.actor("safe"), permit_id=pid, reason_code="manual", text="Rain"))
    world.clock.set(EVENING)
    world.brief(pid)  # TBT-05, before the grace ends: nothing is due yet
    world.clock.set(EVENING + timedelta(minutes=40))
    assert world.permit(pid).handover.missed == ()
    before = world.service.readiness(pid, actor=world.actor("app")).actions["resume"].blockers
    assert [b.rule for b in before] == ["HOV-04"]
    with pytest.raises(GuardFailed) as refusal:
        world.run(resume(world, pid))
    assert refusal.value.blockers == before
    assert world.permit(pid).handover.missed == (EVENING,)  # recorded first, and kept (TIME-04)


@pytest.fixture
def qualified(crew: World) -> World:
    """COMP-03: a cold-work template naming codes for the PA (`performing_authority`) and the issuer (`issuer`),
    which `req` and `app` hold through their linked worker records (WRK-01)."""
    crew.publish_template(
        {
            "key": "cold-qualified",
            "category": "cold_work",
            "required_competencies": {"performing_authority": ["site_lead"], "issuer": ["permit_issuer"]},
        }
    )
    link_worker(crew, "req", "site_lead")
    link_worker(crew, "app", "permit_issuer")
    return crew


def hov_04(refusal: DomainError) -> list[tuple[str, str, str, list[str]]]:
    return [
        (b.code, b.facts["person_id"], b.facts["permit_role"], b.facts["missing"])
        for b in refusal.blockers
        if b.rule == "HOV-04"
    ]


def test_HOV_04_SIG_09_the_incoming_person_holds_the_competencies_of_the_role_at_the_signing_time(
    qualified: World,
) -> None:
    """The nominee is checked when the handover is recorded, the incoming person again when they sign the
    acknowledgement (COMP-02), which names the records relied on."""
    world = qualified
    pid = world.active(
        template="cold-qualified",
        planned_start=START + timedelta(hours=1),
        planned_end=START + timedelta(hours=13),
    )
    world.clock.set(EVENING - timedelta(minutes=45))
    unlinked = refused(world, pid, record(world, pid), GuardFailed)
    assert hov_04(unlinked) == [("no_worker_record", "req2", "performing_authority", ["site_lead"])]
    assert unlinked.blockers[0].facts["at"] == world.clock.now().isoformat()
    link_worker(world, "req2")
    untrained = refused(world, pid, record(world, pid), GuardFailed)
    assert hov_04(untrained) == [("competency_missing", "req2", "performing_authority", ["site_lead"])]
    first = certify(world, "req2", "site_lead")
    performing = record(world, pid)
    world.run(performing)
    world.run(
        pc.RevokeCompetency(
            actor=world.actor("safe"), worker_id=world.workers["req2"], competency_id=first, reason="fraud"
        )
    )
    ack = hc.AcknowledgeHandover(
        actor=world.actor("req2"),
        permit_id=pid,
        handover_id=performing.handover_id,
        signature=world.signature(pid),
    )
    revoked = refused(world, pid, ack, GuardFailed)
    assert hov_04(revoked) == [("competency_missing", "req2", "performing_authority", ["site_lead"])]
    renewed = certify(world, "req2", "site_lead")
    acknowledge(world, pid, performing.handover_id)
    assert world.service.history(pid)[-1].payload.signature.competency_ids == (str(renewed),)
    assert world.permit(pid).performing_authority == "req2"
    issuing = refused(world, pid, record(world, pid, "app3", actor="app", role=ISSUING), GuardFailed)
    assert hov_04(issuing) == [("no_worker_record", "app3", "issuer", ["permit_issuer"])]


def test_HOV_04_LOCK_03_an_isolating_handover_needs_the_isolating_authoritys_codes(world: World) -> None:
    """Template key `isolating_authority` (COMP-03's isolating authority): `iso2` takes the locks over only while
    holding its `isolation` code. Without codes under a key nothing is required (the tests above)."""
    world.publish_template(
        {
            "key": "electrical-iso",
            "category": "electrical",
            "required_competencies": {"isolating_authority": ["isolation"]},
        }
    )
    pid = world.active(
        template="electrical-iso",
        planned_start=START + timedelta(hours=1),
        planned_end=START + timedelta(hours=13),
    )
    world.clock.set(EVENING - timedelta(minutes=45))
    handover = record(world, pid, "iso2", actor="iso", role=ISOLATING)
    unlinked = refused(world, pid, handover, GuardFailed)
    assert hov_04(unlinked) == [("no_worker_record", "iso2", "isolating_authority", ["isolation"])]
    [held] = link_worker(world, "iso2", "isolation").values()
    world.run(handover)
    acknowledge(world, pid, handover.handover_id, "iso2")
    acknowledged = world.service.history(pid)[-1].payload
    assert (acknowledged.by, acknowledged.signature.competency_ids) == ("iso2", (str(held),))


def test_SIG_01_SIG_03_SIG_11_both_sides_of_a_handover_sign_inside_the_events(crew: World) -> None:
    world = crew
    pid = live_over_evening(world)
    world.clock.set(EVENING - timedelta(minutes=30))
    command = record(world, pid)
    world.run(command)
    acknowledge(world, pid, command.handover_id)
    recorded, acknowledged = (e.payload for e in world.service.history(pid)[-2:])
    core_hash = world.permit(pid).core_hash
    for event, signer in ((recorded, "req"), (acknowledged, "req2")):
        signature = event.signature
        assert (signature.point, signature.signer, signature.role, signature.intent) == (
            "handover",
            signer,
            "requestor",
            "RecordHandover" if signer == "req" else "AcknowledgeHandover",
        )
        assert (signature.core_hash, signature.reauthenticated_at) == (core_hash, world.clock.now())
    views = [v for v in world.service.signatures(pid) if v.signature.point == "handover"]
    assert [(v.signature.signer, v.status) for v in views] == [("req", "valid"), ("req2", "valid")]


def test_SIG_04_SIG_05_a_handover_signature_needs_fresh_evidence_and_the_current_core_hash(
    crew: World,
) -> None:
    world = crew
    pid = live_over_evening(world)
    world.clock.set(EVENING - timedelta(minutes=30))
    before = len(world.service.history(pid))
    stale = msgspec.structs.replace(record(world, pid), signature=SignatureInput(core_hash="0" * 64))
    assert refused(world, pid, stale, StaleView).rule_ids == ("SIG-05",)
    old = record(world, pid)
    world.clock.advance(timedelta(minutes=6))  # the actor authenticated more than 300 s ago
    assert refused(world, pid, old, ReauthenticationRequired).rule_ids == ("SIG-04",)
    assert len(world.service.history(pid)) == before  # SIG-03: a refused act leaves no signature
    command = record(world, pid)
    world.run(command)
    late_ack = hc.AcknowledgeHandover(
        actor=world.actor("req2"),
        permit_id=pid,
        handover_id=command.handover_id,
        signature=world.signature(pid),
    )
    world.clock.advance(timedelta(minutes=6))
    refused(world, pid, late_ack, ReauthenticationRequired)
    acknowledge(world, pid, command.handover_id)
    again = world.run(
        hc.AcknowledgeHandover(
            actor=world.actor("req2"),
            permit_id=pid,
            handover_id=command.handover_id,
            signature=world.signature(pid),
        )
    )
    assert again.events == ()  # SIG-10: one signature per handover and signer


def test_AUD_10_handover_events_stored_before_signing_decode_without_a_signature() -> None:
    """Schema evolution: `signature` was added with a default, so events an older release stored still read."""
    body = {
        "stream_id": str(uuid.uuid4()),
        "version": 40,
        "event_id": str(uuid.uuid4()),
        "type": "HandoverAcknowledged",
        "schema_version": 1,
        "occurred_at": "2026-11-25T17:40:00Z",
        "metadata": {"stream_type": "permit", "actor": {"id": "req2", "kind": "user"}},
        "payload": {"handover_id": str(uuid.uuid4()), "by": "req2", "policy_version": 0},
        "prev_hash": "0" * 64,
        "hash": "0" * 64,
    }
    decoded = decode_event("HandoverAcknowledged", canonical_json(body))
    assert (decoded.payload.by, decoded.payload.signature) == ("req2", None)
