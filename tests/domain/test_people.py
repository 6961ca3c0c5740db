# ruff: noqa: N802
"""Section 5 and CLO-02/03: workers, competencies, briefings, the confined-space roster and the fire watch."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from ptw_domain import commands as c
from ptw_domain.errors import Forbidden, GuardFailed, InvalidTransition, NotFound, ValidationFailed
from ptw_domain.people import commands as pc
from ptw_domain.people.state import PermitRole
from tests.builders import START, World, activate, complete, resume

CREW, ENTRANT, ATTENDANT = PermitRole.CREW, PermitRole.ENTRANT, PermitRole.ATTENDANT


def assign(world: World, pid: uuid.UUID, who: str, *roles: PermitRole) -> None:
    world.run(
        pc.AssignWorker(
            actor=world.actor("app"), permit_id=pid, worker_id=world.workers[who], permit_roles=roles
        )
    )


def brief(world: World, pid: uuid.UUID, *attendees: str, held_at: object = None) -> uuid.UUID:
    tbt_id = uuid.uuid4()
    world.run(
        pc.HoldToolboxTalk(
            actor=world.actor("safe"),
            permit_id=pid,
            tbt_id=tbt_id,
            held_at=held_at or world.clock.now(),
            topics=("hazards",),
        )
    )
    for who in attendees:
        world.run(
            pc.AttendToolboxTalk(
                actor=world.actor(who), permit_id=pid, tbt_id=tbt_id, worker_id=world.workers[who]
            )
        )
    return tbt_id


def blockers(world: World, pid: uuid.UUID, action: str = "activate") -> list[str]:
    return [b.rule for b in world.service.readiness(pid, actor=world.actor("app")).actions[action].blockers]


@pytest.fixture
def confined(world: World) -> World:
    world.publish_template({"key": "confined-space", "category": "confined_space"})
    world.register_worker("att", "confined_space_attendant")
    return world


def approved_tank_entry(world: World) -> uuid.UUID:
    pid = world.approved(
        template="confined-space", emergency_arrangements="Tripod and winch; rescue team on call"
    )
    assign(world, pid, "crew1", CREW, ENTRANT)
    assign(world, pid, "att", ATTENDANT)
    brief(world, pid, "crew1", "att")
    world.run(
        pc.PostAttendant(
            actor=world.actor("att"), permit_id=pid, worker_id=world.workers["att"], on_duty=True
        )
    )
    world.gas_test(pid)  # confined space requires gas testing (GAS-08)
    world.isolate_and_verify(pid)  # and structured isolation, proved (ISO-10)
    return pid


def activated(world: World, pid: uuid.UUID) -> None:
    world.clock.advance(timedelta(minutes=30))
    world.run(activate(world, pid))


# --- workers and competencies ------------------------------------------------------------------------------


def test_WRK_01_the_registry_is_kept_by_safety_officers_and_admins(world: World) -> None:
    with pytest.raises(Forbidden):
        world.run(
            pc.RegisterWorker(
                actor=world.actor("req"),
                worker_id=uuid.uuid4(),
                organisation_id=world.organisation_id,
                full_name="X",
                company="Y",
            )
        )


def test_WRK_01_an_inactive_worker_cannot_be_assigned(world: World) -> None:
    world.run(pc.UpdateWorker(actor=world.actor("safe"), worker_id=world.workers["crew1"], active=False))
    pid = world.draft()
    with pytest.raises(GuardFailed) as refused:
        assign(world, pid, "crew1", CREW)
    assert refused.value.rule_ids == ("WRK-01",)


def test_TEN_03_a_worker_of_another_organisation_is_not_found(world: World) -> None:
    other = World.create(world.service, world.clock, code="SOUTH")
    pid = world.draft()
    with pytest.raises(NotFound) as refused:
        world.run(
            pc.AssignWorker(
                actor=world.actor("app"),
                permit_id=pid,
                worker_id=other.workers["crew1"],
                permit_roles=(CREW,),
            )
        )
    assert refused.value.facts == {"field": "worker_id"}


def test_COMP_01_a_record_needs_a_real_validity_and_evidence_hash(world: World) -> None:
    record = dict(  # noqa: C408 - keyword arguments of the command
        actor=world.actor("safe"),
        worker_id=world.workers["crew1"],
        competency_id=uuid.uuid4(),
        code="hot_work",
        issuer="T",
        evidence_uri="https://e/1",
        evidence_sha256="0" * 64,
    )
    with pytest.raises(ValidationFailed) as refused:
        world.run(pc.RecordCompetency(**record, valid_from=START, valid_until=START))
    assert refused.value.rule_ids == ("COMP-01",)
    with pytest.raises(ValidationFailed):  # SEC-12: not a SHA-256
        world.run(
            pc.RecordCompetency(
                **{**record, "evidence_sha256": "xyz"},
                valid_from=START,
                valid_until=START + timedelta(days=1),
            )
        )


def test_COMP_02_validity_is_half_open_and_revocation_applies_from_its_time(world: World) -> None:
    worker_id = world.register_worker("short", "hot_work", valid_for=timedelta(hours=2))
    state = world.service.worker(worker_id)
    record = state.competencies[0]
    assert state.competent("hot_work", record.valid_until - timedelta(microseconds=1)) == record
    assert state.competent("hot_work", record.valid_until) is None
    world.run(
        pc.RevokeCompetency(
            actor=world.actor("safe"),
            worker_id=worker_id,
            competency_id=record.competency_id,
            reason="failed audit",
        )
    )
    revoked = world.service.worker(worker_id)
    assert revoked.competent("hot_work", world.clock.now() - timedelta(seconds=1)) is not None
    assert revoked.competent("hot_work", world.clock.now()) is None


def test_COMP_03_and_COMP_04_activation_needs_the_roles_competencies(world: World) -> None:
    world.register_worker("novice")  # no hot_work competency
    pid = world.approved()
    assign(world, pid, "novice", CREW)
    world.prepare_crew(pid)
    world.clock.advance(timedelta(minutes=30))
    assert "COMP-04" in blockers(world, pid)
    with pytest.raises(GuardFailed) as refused:
        world.run(activate(world, pid))
    comp = next(b for b in refused.value.blockers if b.rule == "COMP-04")
    assert comp.facts["missing"] == ["hot_work"]


def test_COMP_04_a_worker_added_to_a_live_permit_must_be_competent(world: World) -> None:
    world.register_worker("novice")
    pid = world.active()
    with pytest.raises(GuardFailed) as refused:
        assign(world, pid, "novice", CREW)
    assert refused.value.rule_ids == ("COMP-04",)
    world.register_worker("welder2", "hot_work")
    assign(world, pid, "welder2", CREW)
    assigned = [e for e in world.service.history(pid) if e.type == "WorkerAssigned"][-1]
    assert len(assigned.payload.competency_ids) == 1  # COMP-02: the records relied on


def certify(world: World, person: str, code: str) -> uuid.UUID:
    """A valid `code` record on `person`'s worker record; its id."""
    competency_id = uuid.uuid4()
    world.run(
        pc.RecordCompetency(
            actor=world.actor("safe"),
            worker_id=world.workers[person],
            competency_id=competency_id,
            code=code,
            valid_from=START - timedelta(days=30),
            valid_until=START + timedelta(days=365),
            issuer="Training Ltd",
            evidence_uri=f"https://records.example/{person}/{code}",
            evidence_sha256="0" * 64,
        )
    )
    return competency_id


def link_worker(world: World, person: str, *codes: str) -> dict[str, uuid.UUID]:
    """A worker record linked to the existing member `person` (WRK-01), holding `codes`; their record ids."""
    world.workers[person] = uuid.uuid4()
    world.run(
        pc.RegisterWorker(
            actor=world.actor("safe"),
            worker_id=world.workers[person],
            organisation_id=world.organisation_id,
            full_name=person.title(),
            company="Owner",
            person_id=person,
        )
    )
    return {code: certify(world, person, code) for code in codes}


@pytest.fixture
def party_codes(world: World) -> World:
    """COMP-03: a template requiring codes of the PA (`performing_authority`) and of the issuer (`issuer`)."""
    world.publish_template(
        {
            "key": "cold-party",
            "category": "cold_work",
            "required_competencies": {"performing_authority": ["site_lead"], "issuer": ["permit_issuer"]},
        }
    )
    return world


def comp_04(world: World, pid: uuid.UUID, action: str = "activate", actor: str | None = "app") -> list[str]:
    readiness = world.service.readiness(pid, actor=world.actor(actor) if actor else None)
    return [
        f"{b.code}:{b.facts['permit_role']}"
        for b in readiness.actions[action].blockers
        if b.rule == "COMP-04"
    ]


def test_COMP_04_activation_checks_the_PAs_and_the_issuers_competencies_through_readiness(
    party_codes: World,
) -> None:
    world = party_codes
    pid = world.approved(template="cold-party")
    world.prepare_crew(pid)
    world.clock.advance(timedelta(minutes=30))
    assert comp_04(world, pid) == ["no_worker_record:performing_authority", "no_worker_record:issuer"]
    assert comp_04(world, pid, actor=None) == ["no_worker_record:performing_authority"]  # RDY-05: no issuer
    with pytest.raises(GuardFailed) as refused:
        world.run(activate(world, pid))
    readiness = world.service.readiness(pid, actor=world.actor("app")).actions["activate"]
    assert refused.value.blockers == readiness.blockers  # RDY-04
    pa_records = link_worker(world, "req", "site_lead")
    issuer_records = link_worker(world, "app", "gas_testing")  # linked, but not an issuer's code
    assert comp_04(world, pid) == ["competency_missing:issuer"]
    [missing] = world.service.readiness(pid, actor=world.actor("app")).actions["activate"].blockers
    assert (missing.facts["person_id"], missing.facts["missing"]) == ("app", ["permit_issuer"])
    issuer_records["permit_issuer"] = certify(world, "app", "permit_issuer")
    assert comp_04(world, pid) == []
    world.run(activate(world, pid))
    activated_event = world.service.history(pid)[-1].payload
    by_point = {s.point: s.competency_ids for s in activated_event.signatures}
    assert by_point == {  # COMP-02: each signature names the records relied on at the act
        "issuer": (str(issuer_records["permit_issuer"]),),
        "acceptor": (str(pa_records["site_lead"]),),
    }


def test_COMP_04_resume_checks_the_PAs_competency_at_the_act(party_codes: World) -> None:
    world = party_codes
    pa_records = link_worker(world, "req", "site_lead")
    link_worker(world, "app", "permit_issuer")
    pid = world.approved(template="cold-party")
    world.prepare_crew(pid)
    world.clock.advance(timedelta(minutes=30))
    world.run(activate(world, pid))
    world.run(c.SuspendPermit(actor=world.actor("safe"), permit_id=pid, reason_code="manual", text="Rain"))
    world.run(
        pc.RevokeCompetency(
            actor=world.actor("safe"),
            worker_id=world.workers["req"],
            competency_id=pa_records["site_lead"],
            reason="lapsed refresher",
        )
    )
    world.brief(pid, "crew1")  # TBT-05
    assert comp_04(world, pid, "resume") == ["competency_missing:performing_authority"]
    with pytest.raises(GuardFailed) as refused:
        world.run(resume(world, pid))
    assert [b.code for b in refused.value.blockers if b.rule == "COMP-04"] == ["competency_missing"]


def test_COMP_04_without_template_codes_the_PA_and_issuer_need_no_worker_record(world: World) -> None:
    pid = world.approved()  # hot work: codes for the crew and the fire watch only (COMP-03 defaults)
    world.prepare_crew(pid)
    world.clock.advance(timedelta(minutes=30))
    assert comp_04(world, pid) == []
    world.run(activate(world, pid))
    assert all(s.competency_ids == () for s in world.service.history(pid)[-1].payload.signatures)


def test_WRK_01_a_member_is_linked_to_one_worker_at_a_time(world: World) -> None:
    link_worker(world, "req")
    other = uuid.uuid4()
    register = pc.RegisterWorker(
        actor=world.actor("safe"),
        worker_id=other,
        organisation_id=world.organisation_id,
        full_name="Req Again",
        company="Owner",
        person_id="req",
    )
    with pytest.raises(ValidationFailed) as refused:
        world.run(register)
    assert (refused.value.rule_ids, refused.value.facts) == (("WRK-01",), {"field": "person_id"})
    world.run(pc.UpdateWorker(actor=world.actor("safe"), worker_id=world.workers["req"], person_id=None))
    world.run(register)  # the member is free again
    organisation = world.service.store.events.get(world.organisation_id)  # the organisation's stream
    assert [e.type for e in organisation if getattr(e.payload, "person_id", None) == "req"] == [
        "WorkerMemberLinked",
        "WorkerMemberUnlinked",
        "WorkerMemberLinked",
    ]


def test_COMP_05_a_lapsing_competency_does_not_suspend_but_warns_and_stops_counting(world: World) -> None:
    world.register_worker("expiring", "hot_work", valid_for=timedelta(days=3))
    pid = world.approved()
    world.prepare_crew(pid, crew="expiring")
    warnings = world.service.readiness(pid).actions["activate"].warnings
    assert "competency_ending" in [w.code for w in warnings]
    activated(world, pid)
    world.clock.advance(timedelta(days=4))
    assert world.permit(pid).status in ("active", "expired")  # never suspended by the lapse


# --- briefings ---------------------------------------------------------------------------------------------


def test_TBT_01_a_briefing_is_conducted_by_the_pa_an_issuer_or_a_safety_officer(world: World) -> None:
    pid = world.approved()
    with pytest.raises(Forbidden):
        world.run(
            pc.HoldToolboxTalk(
                actor=world.actor("ver"),
                permit_id=pid,
                tbt_id=uuid.uuid4(),
                held_at=world.clock.now(),
                topics=("hazards",),
            )
        )
    with pytest.raises(ValidationFailed) as future:
        world.run(
            pc.HoldToolboxTalk(
                actor=world.actor("req"),
                permit_id=pid,
                tbt_id=uuid.uuid4(),
                held_at=world.clock.now() + timedelta(hours=1),
                topics=("hazards",),
            )
        )
    assert future.value.rule_ids == ("TIME-02",)


def test_TBT_02_attendance_is_personal(world: World) -> None:
    pid = world.approved()
    assign(world, pid, "crew1", CREW)
    tbt_id = brief(world, pid)
    with pytest.raises(Forbidden):
        world.run(
            pc.AttendToolboxTalk(
                actor=world.actor("req"), permit_id=pid, tbt_id=tbt_id, worker_id=world.workers["crew1"]
            )
        )
    world.run(
        pc.AttendToolboxTalk(
            actor=world.actor("crew1"), permit_id=pid, tbt_id=tbt_id, worker_id=world.workers["crew1"]
        )
    )
    briefing = world.permit(pid).people.briefings[0]
    assert briefing.attended == {world.workers["crew1"]: world.clock.now()}


def test_TBT_03_and_WRK_04_activation_needs_a_recent_briefing_attended_by_everyone(world: World) -> None:
    pid = world.approved()
    assign(world, pid, "crew1", CREW)
    world.run(pc.AssignFireWatch(actor=world.actor("app"), permit_id=pid, worker_id=world.workers["watch"]))
    assert {"TBT-03", "WRK-04"} <= set(blockers(world, pid))
    brief(world, pid, "crew1")
    world.clock.advance(timedelta(hours=13))  # older than tbt_max_age_hours = 12
    assert "TBT-03" in blockers(world, pid)


def test_TBT_04_a_worker_added_after_activation_enters_only_after_a_new_briefing(
    confined: World,
) -> None:
    world = confined
    pid = approved_tank_entry(world)
    activated(world, pid)
    world.register_worker("late", "confined_space_entry")
    assign(world, pid, "late", ENTRANT)
    with pytest.raises(GuardFailed) as refused:
        world.run(pc.RecordEntry(actor=world.actor("late"), permit_id=pid, worker_id=world.workers["late"]))
    assert refused.value.rule_ids == ("TBT-04",)
    brief(world, pid, "late")
    world.run(pc.RecordEntry(actor=world.actor("late"), permit_id=pid, worker_id=world.workers["late"]))
    assert world.permit(pid).people.inside == (world.workers["late"],)


def test_TBT_05_resume_needs_a_briefing_after_the_suspension(world: World) -> None:
    pid = world.active()
    world.run(c.SuspendPermit(actor=world.actor("safe"), permit_id=pid, reason_code="manual", text="wind"))
    assert "TBT-05" in blockers(world, pid, "resume")
    brief(world, pid, "crew1", "watch")  # at the instant of the suspension: not after it
    assert "TBT-05" in blockers(world, pid, "resume")
    world.clock.advance(timedelta(minutes=10))
    brief(world, pid, "crew1", "watch")
    assert "TBT-05" not in blockers(world, pid, "resume")


# --- confined space ----------------------------------------------------------------------------------------


def test_CSE_01_activation_needs_an_attendant_on_duty_and_rescue_arrangements(confined: World) -> None:
    world = confined
    pid = world.approved(template="confined-space")
    assign(world, pid, "crew1", CREW, ENTRANT)
    brief(world, pid, "crew1")
    assert [
        b.code for b in world.service.readiness(pid).actions["activate"].blockers if b.rule == "CSE-01"
    ] == ["no_attendant", "no_rescue_arrangements"]


def test_CSE_02_entry_needs_an_active_permit_and_the_roster_exit_is_always_accepted(confined: World) -> None:
    world = confined
    pid = approved_tank_entry(world)
    entrant = world.workers["crew1"]
    with pytest.raises(InvalidTransition):
        world.run(pc.RecordEntry(actor=world.actor("crew1"), permit_id=pid, worker_id=entrant))
    activated(world, pid)
    world.run(pc.RecordEntry(actor=world.actor("crew1"), permit_id=pid, worker_id=entrant))
    with pytest.raises(GuardFailed) as not_entrant:
        world.run(pc.RecordEntry(actor=world.actor("att"), permit_id=pid, worker_id=world.workers["att"]))
    assert "not_on_roster" in [b.code for b in not_entrant.value.blockers]
    world.run(c.SuspendPermit(actor=world.actor("safe"), permit_id=pid, reason_code="manual", text="alarm"))
    world.run(pc.RecordExit(actor=world.actor("att"), permit_id=pid, worker_id=entrant))  # CSE-04: evacuate
    assert world.permit(pid).people.inside == ()
    with pytest.raises(InvalidTransition):  # CSE-04: no entry while suspended
        world.run(pc.RecordEntry(actor=world.actor("crew1"), permit_id=pid, worker_id=entrant))


def test_CSE_03_the_attendant_stays_on_duty_while_someone_is_inside(confined: World) -> None:
    world = confined
    pid = approved_tank_entry(world)
    activated(world, pid)
    world.run(pc.RecordEntry(actor=world.actor("crew1"), permit_id=pid, worker_id=world.workers["crew1"]))
    with pytest.raises(GuardFailed) as refused:
        world.run(
            pc.PostAttendant(
                actor=world.actor("att"), permit_id=pid, worker_id=world.workers["att"], on_duty=False
            )
        )
    assert refused.value.rule_ids == ("CSE-03",)
    world.run(pc.RecordExit(actor=world.actor("crew1"), permit_id=pid, worker_id=world.workers["crew1"]))
    world.run(
        pc.PostAttendant(
            actor=world.actor("att"), permit_id=pid, worker_id=world.workers["att"], on_duty=False
        )
    )
    assert world.permit(pid).people.attendants_on_duty == ()


def test_CLO_01_CSE_05_and_WRK_03_no_hand_back_or_release_while_someone_is_inside(confined: World) -> None:
    world = confined
    pid = approved_tank_entry(world)
    activated(world, pid)
    world.run(pc.RecordEntry(actor=world.actor("crew1"), permit_id=pid, worker_id=world.workers["crew1"]))
    with pytest.raises(GuardFailed) as hand_back:
        world.run(complete(world, pid))
    assert "CSE-05" in hand_back.value.rule_ids
    with pytest.raises(GuardFailed) as release:
        world.run(pc.ReleaseWorker(actor=world.actor("app"), permit_id=pid, worker_id=world.workers["crew1"]))
    assert release.value.rule_ids == ("WRK-03",)


# --- fire watch --------------------------------------------------------------------------------------------


def test_CLO_02_and_SOD_08_hot_work_needs_a_competent_fire_watch_who_is_not_crew(world: World) -> None:
    pid = world.approved()
    assign(world, pid, "crew1", CREW)
    brief(world, pid, "crew1")
    assert "CLO-02" in blockers(world, pid)
    with pytest.raises(GuardFailed) as crew_watch:
        world.run(
            pc.AssignFireWatch(actor=world.actor("app"), permit_id=pid, worker_id=world.workers["crew1"])
        )
    assert set(crew_watch.value.rule_ids) == {"CLO-02", "SOD-08"}
    world.run(pc.AssignFireWatch(actor=world.actor("app"), permit_id=pid, worker_id=world.workers["watch"]))
    assert "CLO-02" not in blockers(world, pid)


def test_CLO_03_the_fire_watch_completes_after_the_full_minutes(world: World) -> None:
    pid = world.completed()
    assert world.permit(pid).fire_watch_started_at is not None
    world.clock.advance(timedelta(minutes=20))
    with pytest.raises(GuardFailed) as early:
        world.complete_fire_watch(pid)
    assert early.value.blockers[0].facts["minutes_required"] == 30
    world.clock.advance(timedelta(minutes=11))
    with pytest.raises(Forbidden):
        world.run(pc.CompleteFireWatch(actor=world.actor("crew1"), permit_id=pid))
    world.complete_fire_watch(pid)
    done = world.service.history(pid)[-1]
    assert (done.type, done.payload.minutes) == ("FireWatchCompleted", 31)
    assert world.service.readiness(pid).progress["fire_watch_minutes_left"] == 0


def test_RDY_07_people_progress(world: World) -> None:
    pid = world.approved()
    world.prepare_crew(pid)
    progress = world.service.readiness(pid).progress
    assert progress["workers"] == {"assigned": 2, "briefed": 2, "competent": 2}  # the crew and the fire watch
    assert (progress["people_inside"], progress["fire_watch_minutes_left"]) == (0, None)
