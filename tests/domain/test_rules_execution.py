# ruff: noqa: N802
"""Execution rules: activation, suspension, resume, hand-back, close, expiry and time facts, signing evidence."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from ptw_domain import commands as c
from ptw_domain.errors import (
    GuardFailed,
    InvalidTransition,
    ReauthenticationRequired,
    StaleVersion,
    StaleView,
    ValidationFailed,
)
from ptw_domain.events.permit import SuspensionReason
from ptw_domain.people import commands as pc
from ptw_domain.roles import Actor, Role
from ptw_domain.signatures import SignatureInput
from tests.builders import (
    World,
    activate,
    approve,
    cancel,
    close,
    complete,
    edit,
    refused,
    resume,
    types,
    verify,
)


def boss_permit(world: World, template: str = "cold-work", **content: Any) -> uuid.UUID:
    """An approved permit, its crew prepared, whose requestor (and PA) also holds the approver role."""
    world.add_person("boss", Role.REQUESTOR, Role.APPROVER)
    pid = world.draft(template, actor="boss", **content)
    world.nominate_and_submit(pid, actor="boss")
    world.run(verify(world, pid))
    world.run(approve(world, pid))
    world.prepare_crew(pid)
    return pid


def complete_fire_watch(world: World, pid: uuid.UUID, actor: str = "watch") -> pc.CompleteFireWatch:
    return pc.CompleteFireWatch(actor=world.actor(actor), permit_id=pid)


def suspend(world: World, pid: uuid.UUID, text: str, actor: str = "app") -> c.SuspendPermit:
    return c.SuspendPermit(
        actor=world.actor(actor), permit_id=pid, reason_code=SuspensionReason.MANUAL, text=text
    )


# --- LIFE-17 activation window ---------------------------------------------------------------------------------


def test_LIFE_17_activation_before_the_early_window_is_refused(world: World) -> None:
    start = world.clock.now() + timedelta(hours=3)
    pid = world.approved(planned_start=start, planned_end=start + timedelta(hours=4))
    world.prepare_crew(pid)
    err = refused(world, pid, activate(world, pid), GuardFailed)
    assert err.rule_ids == ("LIFE-17",)
    assert err.blockers[0].code == "outside_activation_window"
    # From planned_start - 60 min it opens (inclusive).
    world.clock.advance(timedelta(hours=2))
    world.gas_test(pid)  # GAS-08: the test taken at preparation is two hours old by now
    world.run(activate(world, pid))
    assert world.permit(pid).status == "active"


def test_LIFE_16_activation_records_issuer_acceptor_and_valid_until(world: World) -> None:
    pid = world.active()
    event = world.service.history(pid)[-1]
    assert event.type == "PermitActivated"
    assert event.payload.issuer == "app"
    assert event.payload.acceptor == "req"
    assert event.payload.valid_until == world.permit(pid).valid_until
    assert event.payload.sod_relaxed is False


def test_LIFE_16_acceptor_must_be_the_performing_authority(world: World) -> None:
    pid = world.approved()
    world.prepare_crew(pid)
    err = refused(world, pid, activate(world, pid, acceptor="app2"), GuardFailed)
    assert err.rule_ids == ("SEC-05",)


# --- SOD-02 / SOD-09 -------------------------------------------------------------------------------------------


def test_SOD_02_issuer_who_is_requestor_and_pa_is_refused(world: World) -> None:
    pid = boss_permit(world, probability=2, severity=3)
    err = refused(world, pid, activate(world, pid, issuer="boss", acceptor="boss"), GuardFailed)
    assert err.rule_ids == ("SOD-02",)
    assert {b.facts["conflicting_role"] for b in err.blockers} == {"performing authority", "requestor"}


def test_SOD_09_project_may_relax_SOD_02_for_low_risk_and_the_event_is_flagged(world: World) -> None:
    world.change_settings(allow_self_issue_low_risk=True)
    pid = boss_permit(world, probability=1, severity=2)
    assert world.permit(pid).effective_risk_level == "low"
    world.run(activate(world, pid, issuer="boss", acceptor="boss"))
    event = world.service.history(pid)[-1]
    assert event.type == "PermitActivated"
    assert event.payload.sod_relaxed is True


def test_SOD_09_relaxation_never_applies_above_low_risk(world: World) -> None:
    world.change_settings(allow_self_issue_low_risk=True)
    pid = boss_permit(world, probability=2, severity=3)
    assert world.permit(pid).effective_risk_level == "medium"
    err = refused(world, pid, activate(world, pid, issuer="boss", acceptor="boss"), GuardFailed)
    assert err.rule_ids == ("SOD-02",)


def test_SOD_09_not_relaxed_without_the_project_setting(world: World) -> None:
    pid = boss_permit(world, probability=1, severity=2)
    err = refused(world, pid, activate(world, pid, issuer="boss", acceptor="boss"), GuardFailed)
    assert err.rule_ids == ("SOD-02",)


# --- LIFE-18 / LIFE-19 -----------------------------------------------------------------------------------------


def test_LIFE_18_suspension_needs_text(world: World) -> None:
    pid = world.active()
    err = refused(world, pid, suspend(world, pid, text="  "), ValidationFailed)
    assert err.rule_ids == ("LIFE-18",)


def test_LIFE_18_suspend_then_LIFE_19_resume(world: World) -> None:
    pid = world.active()
    world.run(suspend(world, pid, text="wind too strong", actor="safe"))
    assert world.permit(pid).status == "suspended"
    refused(world, pid, cancel(world, pid, actor="app", reason="x"), InvalidTransition)
    world.clock.advance(timedelta(minutes=10))
    world.brief(pid)  # TBT-05: the crew is briefed again after the suspension
    result = world.run(resume(world, pid))
    assert result.events == ("PermitResumed",)
    assert world.permit(pid).status == "active"
    assert world.service.history(pid)[-1].payload.cleared_reasons == ("manual",)


def test_LIFE_19_resume_only_from_suspended(world: World) -> None:
    pid = world.active()
    refused(world, pid, resume(world, pid), InvalidTransition)


# --- LIFE-20 / CLO-02 / TIME-02 --------------------------------------------------------------------------------


def test_LIFE_20_hand_back_with_site_not_safe_is_refused(world: World) -> None:
    pid = world.active()
    err = refused(world, pid, complete(world, pid, site_safe=False), ValidationFailed)
    assert err.rule_ids == ("LIFE-20",)


def test_CLO_02_hot_work_hand_back_starts_the_fire_watch(world: World) -> None:
    pid = world.active()
    world.clock.advance(timedelta(hours=1))
    ended = world.clock.now() - timedelta(minutes=10)
    result = world.run(complete(world, pid, hot_work_ended_at=ended))
    assert result.events == ("PermitCompleted", "FireWatchStarted")
    event = world.service.history(pid)[-1].payload
    assert event.started_at == ended
    state = world.permit(pid)
    assert state.status == "completed"
    assert state.fire_watch_started_at == ended
    assert state.fire_watch_minutes == 30


def test_TIME_02_hot_work_ended_at_in_the_future_is_refused(world: World) -> None:
    pid = world.active()
    err = refused(
        world,
        pid,
        complete(world, pid, hot_work_ended_at=world.clock.now() + timedelta(minutes=10)),
        ValidationFailed,
    )
    assert err.rule_ids == ("TIME-02",)


def test_TIME_02_hot_work_ended_before_activation_is_refused(world: World) -> None:
    pid = world.active()
    err = refused(
        world,
        pid,
        complete(world, pid, hot_work_ended_at=world.clock.now() - timedelta(hours=1)),
        ValidationFailed,
    )
    assert err.rule_ids == ("TIME-02",)


def test_TIME_02_skew_allowance_accepts_a_slightly_future_time(world: World) -> None:
    pid = world.active()
    world.run(complete(world, pid, hot_work_ended_at=world.clock.now() + timedelta(minutes=4)))
    assert world.permit(pid).status == "completed"


# --- LIFE-21 / SOD-04 / CLO-07 ---------------------------------------------------------------------------------


def test_LIFE_21_SOD_04_closer_cannot_be_the_pa_who_handed_back(world: World) -> None:
    world.add_person("pa", Role.REQUESTOR, Role.APPROVER)
    pid = world.active(performing_authority="pa")
    world.clock.advance(timedelta(hours=1))
    world.run(complete(world, pid, actor="pa"))
    world.clock.advance(timedelta(minutes=45))
    world.complete_fire_watch(pid)
    err = refused(world, pid, close(world, pid, actor="pa"), GuardFailed)
    assert err.rule_ids == ("SOD-04",)
    assert {b.facts["conflicting_role"] for b in err.blockers} == {
        "person who handed back",
        "performing authority at hand-back",
    }
    world.run(close(world, pid, actor="app"))
    assert world.permit(pid).status == "closed"


def test_LIFE_21_area_authority_may_close(world: World) -> None:
    pid = world.completed()
    world.clock.advance(timedelta(minutes=45))
    world.complete_fire_watch(pid)
    world.run(close(world, pid, actor="area"))
    state = world.permit(pid)
    assert state.status == "closed"
    assert state.closed_by == "area"


def test_CLO_07_running_fire_watch_blocks_close(world: World) -> None:
    pid = world.completed()
    world.clock.advance(timedelta(minutes=10))
    err = refused(world, pid, close(world, pid), GuardFailed)
    assert err.rule_ids == ("CLO-07",)
    assert err.blockers[0].code == "fire_watch_not_completed"
    # CLO-03: the watch cannot be completed before its minutes have run ...
    early = refused(world, pid, complete_fire_watch(world, pid), GuardFailed)
    assert early.rule_ids == ("CLO-03",)
    assert early.blockers[0].code == "fire_watch_running"
    # ... and the minutes elapsing alone do not unblock close: the fire watch must complete it.
    world.clock.advance(timedelta(minutes=20))
    err = refused(world, pid, close(world, pid), GuardFailed)
    assert err.rule_ids == ("CLO-07",)
    assert err.blockers[0].code == "fire_watch_not_completed"
    world.complete_fire_watch(pid)
    assert world.permit(pid).people.fire_watch_minutes_kept == 30
    world.run(close(world, pid))
    assert world.permit(pid).status == "closed"


def test_CLO_07_inspection_before_hand_back_is_refused(world: World) -> None:
    pid = world.completed()
    world.clock.advance(timedelta(minutes=45))
    world.complete_fire_watch(pid)
    err = refused(
        world, pid, close(world, pid, inspected_at=world.clock.now() - timedelta(hours=2)), ValidationFailed
    )
    assert err.rule_ids == ("TIME-02",)


# --- LIFE-23 / TIME-03 / TIME-04 / TIME-05 ---------------------------------------------------------------------


def test_LIFE_23_approved_permit_expires_at_start_plus_start_window(world: World) -> None:
    pid = world.approved()
    start = world.permit(pid).content.planned_start
    assert world.service.run_sweep(start + timedelta(hours=2) - timedelta(seconds=1)) == []
    results = world.service.run_sweep(start + timedelta(hours=2))
    assert [r.events for r in results] == [("PermitExpired",)]
    event = world.service.history(pid)[-1]
    assert event.payload.reason == "start_window_missed"
    assert event.payload.expired_at == start + timedelta(hours=2)
    assert event.payload.previous_status == "approved"
    assert event.metadata.actor.kind == "system"
    assert event.metadata.rule == "LIFE-23"
    assert world.permit(pid).status == "expired"


def test_LIFE_23_active_permit_expires_at_valid_until(world: World) -> None:
    pid = world.active()
    valid_until = world.permit(pid).valid_until
    assert world.service.run_sweep(valid_until - timedelta(minutes=1)) == []
    world.service.run_sweep(valid_until)
    event = world.service.history(pid)[-1]
    assert event.type == "PermitExpired"
    assert event.payload.reason == "validity_ended"
    assert event.payload.expired_at == valid_until


def test_LIFE_23_draft_and_submitted_never_expire(world: World) -> None:
    draft = world.draft()
    submitted = world.submitted()
    assert world.service.run_sweep(world.clock.now() + timedelta(days=3)) == []
    assert world.permit(draft).status == "draft"
    assert world.permit(submitted).status == "submitted"


def test_TIME_03_sweep_records_expiry_exactly_once(world: World) -> None:
    pid = world.active()
    at = world.permit(pid).valid_until + timedelta(minutes=5)
    first = world.service.run_sweep(at)
    count = len(world.service.history(pid))
    second = world.service.run_sweep(at + timedelta(minutes=1))
    assert len(first) == 1
    assert second == []
    assert len(world.service.history(pid)) == count
    assert types(world, pid).count("PermitExpired") == 1


def test_TIME_04_command_after_expiry_records_expiry_first_then_is_refused(world: World) -> None:
    pid = world.active()
    before = world.permit(pid).version
    world.clock.advance(world.permit(pid).valid_until - world.clock.now())
    with pytest.raises(InvalidTransition) as info:
        world.run(suspend(world, pid, text="x"))
    assert info.value.current_status == "expired"
    state = world.permit(pid)
    assert state.status == "expired"
    assert state.version == before + 1
    assert types(world, pid)[-1] == "PermitExpired"
    # ... and the sweep then has nothing left to record.
    assert world.service.run_sweep() == []


def test_TIME_04_expired_permit_can_still_be_handed_back(world: World) -> None:
    pid = world.active()
    world.clock.advance(world.permit(pid).valid_until - world.clock.now() + timedelta(minutes=1))
    world.run(complete(world, pid, hot_work_ended_at=world.permit(pid).valid_until - timedelta(minutes=5)))
    assert types(world, pid)[-3:] == ["PermitExpired", "PermitCompleted", "FireWatchStarted"]


def test_LIFE_22_expired_never_activated_permit_can_be_cancelled_by_approver(world: World) -> None:
    pid = world.approved()
    world.service.run_sweep(world.clock.now() + timedelta(hours=4))
    assert world.permit(pid).status == "expired"
    refused(world, pid, cancel(world, pid, reason="missed"), InvalidTransition)
    world.run(cancel(world, pid, actor="app", reason="missed the window"))
    assert world.permit(pid).status == "cancelled"


def test_TIME_05_readiness_effective_status_is_expired_after_valid_until(world: World) -> None:
    pid = world.active()
    valid_until = world.permit(pid).valid_until
    before = world.service.readiness(pid, at=valid_until - timedelta(seconds=1))
    assert before.effective_status == "active"
    after = world.service.readiness(pid, at=valid_until)
    assert after.status == "active"  # nothing recorded yet
    assert after.effective_status == "expired"


# --- SIG-04 / SIG-05 / SEC-10 ----------------------------------------------------------------------------------


def test_SIG_04_stale_auth_time_is_refused(world: World) -> None:
    pid = world.under_review()
    old = Actor(member=world.people["app"], auth_time=world.clock.now() - timedelta(seconds=301))
    err = refused(world, pid, approve(world, pid, actor=old), ReauthenticationRequired)
    assert err.code == "reauthentication_required"
    assert err.rule_ids == ("SIG-04",)


def test_SIG_04_step_up_assertion_is_accepted(world: World) -> None:
    pid = world.under_review()
    old = Actor(member=world.people["app"], auth_time=world.clock.now() - timedelta(hours=1))
    world.run(
        approve(world, pid, actor=old, signature=world.signature(pid, reauthenticated_at=world.clock.now()))
    )
    assert world.permit(pid).status == "approved"


def test_SIG_04_missing_evidence_is_refused(world: World) -> None:
    pid = world.under_review()
    no_auth = Actor(member=world.people["app"], auth_time=None)
    refused(world, pid, approve(world, pid, actor=no_auth), ReauthenticationRequired)


def test_SIG_05_wrong_core_hash_is_stale_view(world: World) -> None:
    pid = world.under_review()
    err = refused(world, pid, approve(world, pid, signature=SignatureInput(core_hash="0" * 64)), StaleView)
    assert err.code == "stale_view"
    assert err.rule_ids == ("SIG-05",)
    assert err.facts["current_core_hash"] == world.permit(pid).core_hash
    assert err.current_version == world.permit(pid).version


def test_SIG_05_admin_edit_does_not_invalidate_the_view(world: World) -> None:
    pid = world.under_review()
    seen = world.signature(pid)
    world.run(edit(world, pid, notes="radio ch 4"))
    world.run(approve(world, pid, signature=seen))
    assert world.permit(pid).status == "approved"


def test_SEC_10_expected_version_mismatch_is_stale_version(world: World) -> None:
    pid = world.under_review()
    version = world.permit(pid).version
    err = refused(world, pid, approve(world, pid, expected_version=version - 1), StaleVersion)
    assert err.code == "stale_version"
    assert err.rule_ids == ("SEC-10",)
    assert err.current_version == version
    world.run(approve(world, pid, expected_version=version))
    assert world.permit(pid).version == version + 1
