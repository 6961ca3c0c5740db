# ruff: noqa: N802
"""Section 6: gas testing — tester and instrument, order, server verdicts, freshness, latest decides, retests,
automatic suspension, voiding and units."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import msgspec
import pytest

from ptw_domain import commands as c
from ptw_domain.errors import Forbidden, GuardFailed, InvalidTransition, ValidationFailed
from ptw_domain.gas import commands as gc
from ptw_domain.gas.profiles import OSHA_DEFAULT, GasLimit
from ptw_domain.people import commands as pc
from ptw_domain.people.state import PermitRole
from ptw_domain.roles import Role
from tests.builders import World, activate, resume

UNITS = {"O2": "%vol", "LEL": "%LEL"}


def reading(
    world: World,
    pid: uuid.UUID,
    session: uuid.UUID,
    gas: str,
    value: float,
    *,
    tested_at: datetime | None = None,
    tester: str = "tester",
    unit: str | None = None,
    calibration_due: datetime | None = None,
    instrument: str = "MX4-0042",
) -> gc.RecordGasReading:
    now = world.clock.now()
    return gc.RecordGasReading(
        actor=world.actor(tester),
        permit_id=pid,
        reading_id=uuid.uuid4(),
        session_id=session,
        gas=gas,
        value=value,
        unit=unit or UNITS.get(gas, "ppm"),
        tested_at=tested_at or now,
        instrument=instrument,
        calibration_due=calibration_due or now + timedelta(days=30),
        tester_worker_id=world.workers[tester],
    )


def rules(error: pytest.ExceptionInfo[Exception]) -> set[str]:
    return set(getattr(error.value, "rule_ids", ()))


def activate_blockers(world: World, pid: uuid.UUID) -> list[str]:
    return [
        b.rule for b in world.service.readiness(pid, actor=world.actor("app")).actions["activate"].blockers
    ]


@pytest.fixture
def approved(world: World) -> tuple[World, uuid.UUID]:
    pid = world.approved()
    return world, pid


# --- recording ---------------------------------------------------------------------------------------------


def test_GAS_01_the_tester_needs_the_competency_and_a_calibrated_instrument(
    approved: tuple[World, uuid.UUID],
) -> None:
    world, pid = approved
    world.register_worker("novice", role=Role.GAS_TESTER)
    with pytest.raises(GuardFailed) as untrained:
        world.run(reading(world, pid, uuid.uuid4(), "O2", 20.9, tester="novice"))
    assert "competency_missing" in [b.code for b in untrained.value.blockers]
    with pytest.raises(GuardFailed) as calibration:
        world.run(reading(world, pid, uuid.uuid4(), "O2", 20.9, calibration_due=world.clock.now()))
    assert "calibration_due" in [b.code for b in calibration.value.blockers]
    with pytest.raises(Forbidden):  # someone else's worker record
        world.run(
            gc.RecordGasReading(
                **{
                    **msgspec.structs.asdict(reading(world, pid, uuid.uuid4(), "O2", 20.9)),
                    "tester_worker_id": world.workers["novice"],
                }
            )
        )


def test_GAS_02_readings_only_from_under_review(world: World) -> None:
    pid = world.submitted()
    with pytest.raises(InvalidTransition):
        world.run(reading(world, pid, uuid.uuid4(), "O2", 20.9))
    world.run(
        c.VerifyPermit(
            actor=world.actor("ver"),
            permit_id=pid,
            approvers=(world.people["app"],),
            signature=world.signature(pid),
        )
    )
    world.run(reading(world, pid, uuid.uuid4(), "O2", 20.9))


def test_GAS_03_order_is_oxygen_then_flammables_then_toxics(approved: tuple[World, uuid.UUID]) -> None:
    world, pid = approved
    session = uuid.uuid4()
    world.run(reading(world, pid, session, "O2", 20.9))
    world.run(reading(world, pid, session, "H2S", 0))
    with pytest.raises(GuardFailed) as late_lel:
        world.run(reading(world, pid, session, "LEL", 0))
    assert rules(late_lel) == {"GAS-03"}
    with pytest.raises(GuardFailed):
        world.run(reading(world, pid, session, "H2S", 1))  # once each


def test_GAS_04_a_failing_oxygen_reading_ends_the_session(approved: tuple[World, uuid.UUID]) -> None:
    world, pid = approved
    session = uuid.uuid4()
    result = world.run(reading(world, pid, session, "O2", 18.0))
    assert result.events == ("GasReadingRecorded", "GasTestSessionCompleted")
    with pytest.raises(GuardFailed) as more:
        world.run(reading(world, pid, session, "LEL", 0))
    assert {"GAS-04", "GAS-06"} <= rules(more)


def test_GAS_05_the_server_computes_the_verdict_from_the_profile_in_force(
    approved: tuple[World, uuid.UUID],
) -> None:
    world, pid = approved
    with pytest.raises(msgspec.ValidationError, match="verdict"):  # SEC-12: a client verdict is refused
        msgspec.convert(
            {**msgspec.to_builtins(reading(world, pid, uuid.uuid4(), "O2", 20.9)), "verdict": "pass"},
            gc.RecordGasReading,
        )
    before = world.clock.now()
    world.clock.advance(timedelta(minutes=10))
    stricter = msgspec.structs.replace(
        OSHA_DEFAULT,
        version=2,
        limits={**OSHA_DEFAULT.limits, "CO": GasLimit(unit="ppm", high=35.0, source="NIOSH REL")},
    )
    world.run(
        gc.PublishGasLimitProfile(
            actor=world.actor("admin", org_admin=True),
            organisation_id=world.organisation_id,
            profile=stricter,
        )
    )
    old, new = uuid.uuid4(), uuid.uuid4()
    for session, at in ((old, before), (new, world.clock.now())):
        for gas, value in (("O2", 20.9), ("LEL", 0), ("H2S", 0), ("CO", 40)):
            world.run(reading(world, pid, session, gas, value, tested_at=at))
    recorded = {
        e.payload.session_id: e.payload
        for e in world.service.history(pid)
        if e.type == "GasReadingRecorded" and e.payload.gas == "CO"
    }
    assert (recorded[old].profile_version, recorded[old].verdict) == (1, "pass")
    assert (recorded[new].profile_version, recorded[new].verdict, recorded[new].limit.high) == (
        2,
        "fail",
        35.0,
    )


def test_GAS_06_a_session_completes_with_the_required_gases_at_its_last_reading(
    approved: tuple[World, uuid.UUID],
) -> None:
    world, pid = approved
    session = world.gas_test(pid)
    state = world.permit(pid).gas.session(session)
    assert (state.complete, state.verdict, state.completed_at) == (True, "pass", world.clock.now())
    assert [r.gas for r in state.readings] == ["O2", "LEL", "H2S", "CO"]


def test_GAS_07_hot_work_in_a_confined_space_passes_flammables_only_at_zero(world: World) -> None:
    pid = world.approved(confined_space=True, emergency_arrangements="Rescue team on standby")
    session = uuid.uuid4()
    world.run(reading(world, pid, session, "O2", 20.9))
    world.run(reading(world, pid, session, "LEL", 2))
    lel = [e for e in world.service.history(pid) if e.type == "GasReadingRecorded"][-1].payload
    assert (lel.verdict, lel.limit.high) == ("fail", 0.0)


# --- readiness -------------------------------------------------------------------------------------------


def test_GAS_08_activation_needs_a_fresh_passing_session(approved: tuple[World, uuid.UUID]) -> None:
    world, pid = approved
    world.prepare_crew(pid)  # includes a passing gas test now
    world.clock.advance(timedelta(minutes=61))
    stale = next(b for b in world.service.readiness(pid).actions["activate"].blockers if b.rule == "GAS-08")
    assert (stale.code, stale.facts["limit_minutes"]) == ("gas_test_stale", 60)
    world.gas_test(pid)
    assert "GAS-08" not in activate_blockers(world, pid)


def test_GAS_09_the_latest_complete_session_decides(approved: tuple[World, uuid.UUID]) -> None:
    world, pid = approved
    world.prepare_crew(pid)
    world.clock.advance(timedelta(minutes=5))
    world.gas_test(pid, CO=80)
    assert "GAS-09" in activate_blockers(world, pid)
    with pytest.raises(GuardFailed):
        world.run(activate(world, pid))


def test_GAS_10_an_overdue_retest_is_recorded_once_then_suspends_after_the_grace(world: World) -> None:
    world.publish_template(
        {
            "key": "tank",
            "category": "cold_work",
            "requires_gas_testing": True,
            "periodic_gas_testing": True,
            "retest_interval_minutes": 60,
            "retest_grace_minutes": 15,
        }
    )
    pid = world.active(template="tank")  # gas tested 30 min before activation
    last_pass = world.permit(pid).gas.last_pass()
    assert last_pass is not None and last_pass.completed_at is not None
    world.clock.set(last_pass.completed_at + timedelta(minutes=60))  # due: last pass + retest interval
    facts = world.service.run_sweep()
    assert [r.events for r in facts] == [("GasRetestOverdue",)]
    assert world.service.run_sweep() == []  # TIME-03: idempotent
    world.clock.advance(timedelta(minutes=15))
    world.service.run_sweep()
    state = world.permit(pid)
    assert (state.status, state.suspensions[-1].reason_code) == ("suspended", "gas_retest_overdue")
    suspended = world.service.history(pid)[-1]
    assert (suspended.metadata.rule, suspended.payload.by_system) == ("GAS-10", True)


def test_GAS_11_a_failing_reading_suspends_an_active_permit_in_the_same_transaction(world: World) -> None:
    pid = world.active()
    result = world.run(reading(world, pid, uuid.uuid4(), "O2", 17.0))
    assert result.events == ("GasReadingRecorded", "GasTestSessionCompleted", "PermitSuspended")
    state = world.permit(pid)
    assert (state.status, state.suspensions[0].reason_code, state.suspensions[0].by_system) == (
        "suspended",
        "gas_test_failed",
        True,
    )
    world.run(reading(world, pid, uuid.uuid4(), "O2", 17.5))  # on a suspended permit it adds the cause
    assert len(world.permit(pid).suspensions) == 2


def test_GAS_12_resume_needs_a_passing_session_after_the_failing_reading(world: World) -> None:
    pid = world.active()
    world.run(reading(world, pid, uuid.uuid4(), "O2", 17.0))
    world.clock.advance(timedelta(minutes=10))
    world.brief(pid)
    resume_blockers = [b.rule for b in world.service.readiness(pid).actions["resume"].blockers]
    assert {"GAS-09", "GAS-12"} <= set(resume_blockers)
    world.gas_test(pid)
    world.run(resume(world, pid))
    assert world.permit(pid).status == "active"


def test_GAS_13_voiding_ignores_a_reading_from_then_on_but_lifts_no_suspension(world: World) -> None:
    pid = world.active()
    failing = reading(world, pid, uuid.uuid4(), "O2", 17.0)
    world.run(failing)
    with pytest.raises(Forbidden):
        world.run(
            gc.VoidGasReading(
                actor=world.actor("crew1"),
                permit_id=pid,
                reading_id=failing.reading_id,
                reason="sensor fault",
            )
        )
    world.run(
        gc.VoidGasReading(
            actor=world.actor("safe"),
            permit_id=pid,
            reading_id=failing.reading_id,
            reason="sensor fault confirmed by bump test",
        )
    )
    state = world.permit(pid)
    assert state.status == "suspended"
    assert state.gas.latest() is not None and state.gas.latest().passed  # the earlier passing session decides


def test_GAS_14_units_and_ranges_are_fixed_per_gas(approved: tuple[World, uuid.UUID]) -> None:
    world, pid = approved
    for bad in (
        reading(world, pid, uuid.uuid4(), "O2", 20.9, unit="ppm"),
        reading(world, pid, uuid.uuid4(), "O2", 120.0),
        reading(world, pid, uuid.uuid4(), "XYZ", 1.0),
    ):
        with pytest.raises(ValidationFailed) as refused:
            world.run(bad)
        assert refused.value.rule_ids == ("GAS-14",)
    assert world.permit(pid).gas.readings == ()


def test_GAS_05_profiles_are_versioned_by_organisation_admins(world: World) -> None:
    profile = msgspec.structs.replace(OSHA_DEFAULT, version=3)
    with pytest.raises(ValidationFailed):  # the next version is 2
        world.run(
            gc.PublishGasLimitProfile(
                actor=world.actor("admin", org_admin=True),
                organisation_id=world.organisation_id,
                profile=profile,
            )
        )
    with pytest.raises(Forbidden):
        world.run(
            gc.PublishGasLimitProfile(
                actor=world.actor("admin"),
                organisation_id=world.organisation_id,
                profile=msgspec.structs.replace(OSHA_DEFAULT, version=2),
            )
        )


def test_RDY_07_gas_progress(approved: tuple[World, uuid.UUID]) -> None:
    world, pid = approved
    world.gas_test(pid)
    gas = world.service.readiness(pid).progress["gas"]
    assert gas["verdict"] == "pass"
    assert gas["fresh_until"] == (world.clock.now() + timedelta(minutes=60)).isoformat()


def test_GAS_07_hot_work_in_the_area_of_a_live_confined_space_permit_needs_zero_lel(world: World) -> None:
    world.publish_template({"key": "tank", "category": "confined_space"})
    world.register_worker("att", "confined_space_attendant")
    tank = world.approved(
        template="tank",
        area="T-204",
        equipment_tags=("T-204",),
        emergency_arrangements="Tripod, winch and rescue team on call",
    )
    world.run(
        pc.AssignWorker(
            actor=world.actor("app"),
            permit_id=tank,
            worker_id=world.workers["att"],
            permit_roles=(PermitRole.ATTENDANT,),
        )
    )
    world.prepare_crew(tank)  # crew, isolation, gas
    world.brief(tank)  # everyone assigned, the attendant included
    world.run(
        pc.PostAttendant(
            actor=world.actor("att"), permit_id=tank, worker_id=world.workers["att"], on_duty=True
        )
    )
    world.clock.advance(timedelta(minutes=30))
    world.run(activate(world, tank))
    assert world.permit(tank).status == "active"
    welding = world.under_review(area="T-204", equipment_tags=("T-204-N3",))  # its approval waits on SIMOPS
    session = uuid.uuid4()
    world.run(reading(world, welding, session, "O2", 20.9))
    world.run(reading(world, welding, session, "LEL", 2))
    lel = [e for e in world.service.history(welding) if e.type == "GasReadingRecorded"][-1].payload
    assert (lel.verdict, lel.limit.high) == ("fail", 0.0)
