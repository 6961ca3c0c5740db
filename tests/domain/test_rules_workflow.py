# ruff: noqa: N802
"""Workflow rules (section 4.3/4.4, 4.5, 4.6, SOD, ROLE-04, TPL-08/09): every refusal records nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ptw_domain import commands as c
from ptw_domain.errors import (
    AlreadyApproved,
    DomainError,
    Forbidden,
    GuardFailed,
    InvalidTransition,
    ValidationFailed,
)
from ptw_domain.events.permit import SuspensionReason
from ptw_domain.risk import RiskLevel, effective_risk_level, risk_level, risk_score
from ptw_domain.roles import CompanyKind, Role
from tests.builders import (
    World,
    amend,
    approve,
    cancel,
    codes,
    create,
    edit,
    member,
    nominate,
    refused,
    submit,
    types,
    verify,
)

# --- LIFE-02 ---------------------------------------------------------------------------------------------------


def test_LIFE_02_command_from_wrong_status_is_invalid_transition_with_allowed_commands(world: World) -> None:
    pid = world.draft()
    err = refused(world, pid, verify(world, pid), InvalidTransition)
    assert err.code == "invalid_transition"
    assert "LIFE-02" in err.rule_ids
    assert err.current_status == "draft"
    assert "SubmitPermit" in err.allowed_commands
    assert "VerifyPermit" not in err.allowed_commands
    assert "EditPermit" in err.allowed_commands


def test_LIFE_02_nothing_leaves_closed(world: World) -> None:
    pid = world.closed()
    err = refused(world, pid, cancel(world, pid, actor="app", reason="x"), InvalidTransition)
    assert err.current_status == "closed"
    assert err.allowed_commands == ("AnnotatePermit", "LinkIncident")  # records only (AUD-11, RPT-04)


# --- LIFE-05 / T03 / SIG-07 ------------------------------------------------------------------------------------


def test_LIFE_05_core_edit_in_submitted_is_refused(world: World) -> None:
    pid = world.submitted()
    err = refused(world, pid, edit(world, pid, description="Other work"), InvalidTransition)
    assert err.code == "invalid_transition"
    assert err.rule_ids == ("LIFE-05",)
    assert world.permit(pid).status == "submitted"


def test_LIFE_05_admin_edit_in_submitted_is_allowed_and_invalidates_nothing(world: World) -> None:
    pid = world.submitted()
    before = world.permit(pid)
    result = world.run(edit(world, pid, title="Bracket weld"))
    assert result.events == ("PermitEdited",)
    after = world.permit(pid)
    assert after.status == "submitted"
    assert after.content.title == "Bracket weld"
    assert after.core_hash == before.core_hash
    assert len(after.valid_signatures()) == len(before.valid_signatures()) == 1


def test_LIFE_05_project_admin_may_edit_admin_fields(world: World) -> None:
    pid = world.under_review()
    result = world.run(edit(world, pid, actor="admin", notes="call the control room"))
    assert result.events == ("PermitEdited",)


def test_LIFE_05_core_edit_in_draft_is_allowed(world: World) -> None:
    pid = world.draft()
    world.run(edit(world, pid, area="B2"))
    assert world.permit(pid).content.area == "B2"


def test_LIFE_05_no_edits_after_completed(world: World) -> None:
    pid = world.completed()
    err = refused(world, pid, edit(world, pid, notes="late note"), InvalidTransition)
    assert err.current_status == "completed"


def test_LIFE_05_core_edit_while_active_is_refused(world: World) -> None:
    pid = world.active()
    err = refused(world, pid, edit(world, pid, area="Z9"), InvalidTransition)
    assert err.rule_ids == ("LIFE-05",)


def test_T03_SIG_07_amend_returns_to_draft_and_invalidates_signatures(world: World) -> None:
    pid = world.under_review()
    assert len(world.permit(pid).valid_signatures()) == 2
    result = world.run(amend(world, pid, reason="scope grew", description="Weld two brackets"))
    assert result.events == ("PermitAmended", "SignaturesInvalidated")
    state = world.permit(pid)
    assert state.status == "draft"
    assert state.valid_signatures() == ()
    invalidated = world.service.history(pid)[-1].payload
    assert invalidated.reason == "core_change"
    assert "description" in invalidated.changed_fields
    assert len(invalidated.signature_ids) == 2


def test_T03_amend_from_draft_is_invalid_transition(world: World) -> None:
    pid = world.draft()
    refused(
        world,
        pid,
        amend(world, pid, area="B"),
        InvalidTransition,
    )


# --- LIFE-06 / LIFE-07 / LIFE-08 -------------------------------------------------------------------------------


def test_LIFE_07_submit_without_hazards_is_guard_failed(world: World) -> None:
    pid = world.draft(hazards=())
    world.run(nominate(world, pid))
    err = refused(world, pid, submit(world, pid), GuardFailed)
    assert err.code == "guard_failed"
    assert "LIFE-07" in err.rule_ids
    blocker = next(b for b in err.blockers if b.rule == "LIFE-07")
    assert blocker.facts["missing"] == ["hazards"]


def test_LIFE_06_window_too_long_at_create_is_refused_and_consumes_no_number(world: World) -> None:
    start = world.clock.now() + timedelta(hours=1)
    with pytest.raises(GuardFailed) as info:
        world.run(create(world, planned_start=start, planned_end=start + timedelta(hours=13)))
    assert info.value.rule_ids == ("LIFE-06",)
    assert "window_too_long" in codes(info.value)
    result = world.run(create(world))
    assert result.permit_number == "NORTH-2026-00001"  # NUM-02: the refused creation consumed nothing


def test_LIFE_06_start_beyond_30_day_horizon_is_refused(world: World) -> None:
    start = world.clock.now() + timedelta(days=31)
    with pytest.raises(GuardFailed) as info:
        world.run(create(world, planned_start=start, planned_end=start + timedelta(hours=2)))
    assert "start_beyond_horizon" in codes(info.value)
    assert info.value.rule_ids == ("LIFE-06",)


def test_LIFE_06_inverted_window_is_refused(world: World) -> None:
    start = world.clock.now() + timedelta(hours=3)
    with pytest.raises(GuardFailed) as info:
        world.run(create(world, planned_start=start, planned_end=start - timedelta(hours=1)))
    assert "window_inverted" in codes(info.value)


def test_LIFE_06_start_within_horizon_is_accepted(world: World) -> None:
    start = world.clock.now() + timedelta(days=29)
    result = world.run(create(world, planned_start=start, planned_end=start + timedelta(hours=2)))
    assert result.events == ("PermitDrafted",)


def test_LIFE_08_submit_without_verifier_is_refused(world: World) -> None:
    pid = world.draft()
    err = refused(world, pid, submit(world, pid), GuardFailed)
    assert "LIFE-08" in err.rule_ids
    assert "verifier_not_nominated" in codes(err)


def test_LIFE_08_a_new_nomination_replaces_the_previous(world: World) -> None:
    ver2 = world.add_person("ver2", Role.VERIFIER, level=2)
    pid = world.submitted()
    world.run(nominate(world, pid, ver2))
    state = world.permit(pid)
    assert state.verifier is not None and state.verifier.person_id == "ver2"
    assert world.service.history(pid)[-1].payload.previous == "ver"


# --- SOD-01 / ROLE-04 ------------------------------------------------------------------------------------------


def test_SOD_01_requestor_cannot_be_nominated_verifier(world: World) -> None:
    pid = world.draft()
    me_as_verifier = member("req", Role.VERIFIER, level=3)
    err = refused(world, pid, nominate(world, pid, me_as_verifier), GuardFailed)
    assert err.rule_ids == ("SOD-01",)
    assert codes(err) == {"same_person"}


def test_SOD_01_verifier_cannot_nominate_self_or_requestor_as_approver(world: World) -> None:
    pid = world.submitted()
    ver_as_approver = member("ver", Role.APPROVER, level=3)
    req_as_approver = member("req", Role.APPROVER, level=3)
    for approver in (ver_as_approver, req_as_approver):
        err = refused(world, pid, verify(world, pid, approvers=(approver,)), GuardFailed)
        assert "SOD-01" in err.rule_ids


def test_SOD_01_verifier_cannot_approve(world: World) -> None:
    world.add_person("ver", Role.VERIFIER, Role.APPROVER)
    pid = world.under_review()
    err = refused(world, pid, approve(world, pid, actor="ver"), DomainError)
    assert isinstance(err, Forbidden | GuardFailed)
    assert world.permit(pid).status == "under_review"


def test_ROLE_04_verifier_level_too_low_for_high_risk(world: World) -> None:
    pid = world.draft(probability=4, severity=4)
    assert world.permit(pid).effective_risk_level == "high"
    junior = member("junior", Role.VERIFIER, level=1)
    err = refused(world, pid, nominate(world, pid, junior), GuardFailed)
    assert err.rule_ids == ("ROLE-04",)
    blocker = err.blockers[0]
    assert blocker.code == "authority_level_too_low"
    assert blocker.facts["required_level"] == 2


def test_ROLE_04_contractor_verifier_is_refused(world: World) -> None:
    pid = world.draft()
    contractor = member("cv", Role.VERIFIER, level=3, kind=CompanyKind.CONTRACTOR)
    err = refused(world, pid, nominate(world, pid, contractor), GuardFailed)
    assert err.rule_ids == ("ROLE-04",)
    assert codes(err) == {"company_kind_not_allowed"}


def test_ROLE_04_approver_level_too_low_for_high_risk_at_verification(world: World) -> None:
    pid = world.submitted(probability=4, severity=4)
    low = member("low", Role.APPROVER, level=2)
    err = refused(world, pid, verify(world, pid, approvers=(low,)), GuardFailed)
    assert "ROLE-04" in err.rule_ids
    assert "authority_level_too_low" in codes(err)


# --- LIFE-09 / LIFE-10 / LIFE-11 -------------------------------------------------------------------------------


def test_LIFE_09_verification_needs_at_least_one_approver(world: World) -> None:
    pid = world.submitted()
    err = refused(world, pid, verify(world, pid, approvers=()), GuardFailed)
    assert err.rule_ids == ("LIFE-09",)
    assert codes(err) == {"approver_count"}


def test_LIFE_09_six_approvers_are_refused(world: World) -> None:
    pid = world.submitted()
    six = tuple(member(f"a{i}", Role.APPROVER, level=3) for i in range(6))
    err = refused(world, pid, verify(world, pid, approvers=six), DomainError)
    assert isinstance(err, ValidationFailed | GuardFailed)


def test_LIFE_09_only_the_nominated_verifier_verifies(world: World) -> None:
    world.add_person("ver2", Role.VERIFIER, level=2)
    pid = world.submitted()
    err = refused(
        world, pid, verify(world, pid, actor="ver2"), Forbidden
    )  # SEC-03: not the party position: 403
    assert "LIFE-09" in err.rule_ids
    assert "not_the_nominee" in codes(err)


def test_LIFE_10_verifier_replaces_approver_nominations(world: World) -> None:
    pid = world.under_review()
    result = world.run(
        c.NominateApprovers(actor=world.actor("ver"), permit_id=pid, approvers=(world.people["app2"],))
    )
    assert result.events == ("ApproversNominated",)
    assert world.service.history(pid)[-1].payload.withdrawn == ("app",)
    # The withdrawn nominee lost the task; the new one may approve.
    refused(world, pid, approve(world, pid), Forbidden)
    world.run(approve(world, pid, actor="app2"))
    assert world.permit(pid).approved_by == "app2"


def test_LIFE_10_only_the_verifier_who_verified_nominates(world: World) -> None:
    pid = world.under_review()
    refused(
        world,
        pid,
        c.NominateApprovers(actor=world.actor("req"), permit_id=pid, approvers=(world.people["app2"],)),
        Forbidden,
    )


def test_LIFE_11_second_approval_is_refused_already_approved(world: World) -> None:
    pid = world.approved()
    err = refused(world, pid, approve(world, pid, actor="app2"), AlreadyApproved)
    assert err.code == "already_approved"
    assert err.rule_ids == ("LIFE-11",)
    assert err.facts["approver"] == "app"
    assert err.facts["on_behalf_of"] is None
    assert "approved_at" in err.facts
    assert types(world, pid).count("PermitApproved") == 1


# --- LIFE-12 / LIFE-13 / LIFE-14 / LIFE-15 / SIG-08 ------------------------------------------------------------


def test_LIFE_12_reject_needs_a_reason(world: World) -> None:
    pid = world.submitted()
    err = refused(
        world, pid, c.RejectPermit(actor=world.actor("ver"), permit_id=pid, reason="   "), ValidationFailed
    )
    assert err.rule_ids == ("LIFE-12",)


def test_LIFE_12_reject_invalidates_the_cycles_signatures(world: World) -> None:
    pid = world.under_review()
    result = world.run(c.RejectPermit(actor=world.actor("app"), permit_id=pid, reason="controls too weak"))
    assert result.events == ("PermitRejected", "SignaturesInvalidated")
    state = world.permit(pid)
    assert state.status == "rejected"
    assert state.valid_signatures() == ()
    assert all(not r.valid for r in state.signatures)


def test_LIFE_15_SIG_08_resubmission_starts_cycle_2_and_old_signatures_do_not_count(world: World) -> None:
    pid = world.submitted()
    assert world.permit(pid).cycle == 1
    world.run(c.RejectPermit(actor=world.actor("ver"), permit_id=pid, reason="add a control"))
    world.run(edit(world, pid, controls=("extinguisher", "screens")))
    result = world.run(
        c.ResubmitPermit(actor=world.actor("req"), permit_id=pid, signature=world.signature(pid))
    )
    assert result.events == ("PermitSubmitted",)
    state = world.permit(pid)
    assert state.status == "submitted"
    assert state.cycle == 2
    assert world.service.history(pid)[-1].payload.resubmission is True
    assert [s.cycle for s in state.valid_signatures()] == [2]
    assert state.valid_signatures(cycle=1) == ()
    # Verification has to be signed again for cycle 2.
    world.run(verify(world, pid))
    assert {s.cycle for s in world.permit(pid).valid_signatures()} == {2}


def test_LIFE_15_resubmit_only_from_rejected(world: World) -> None:
    pid = world.submitted()
    refused(
        world,
        pid,
        c.ResubmitPermit(actor=world.actor("req"), permit_id=pid, signature=world.signature(pid)),
        InvalidTransition,
    )


def test_LIFE_13_send_back_returns_to_submitted_and_undoes_the_verifier_signature(world: World) -> None:
    pid = world.under_review()
    refused(
        world, pid, c.SendBackPermit(actor=world.actor("app"), permit_id=pid, reason=""), ValidationFailed
    )
    result = world.run(
        c.SendBackPermit(actor=world.actor("app"), permit_id=pid, reason="check the isolation")
    )
    assert result.events == ("PermitSentBack", "SignaturesInvalidated")
    state = world.permit(pid)
    assert state.status == "submitted"
    assert [s.point for s in state.valid_signatures()] == ["requestor"]


def test_LIFE_14_withdraw_returns_to_draft_and_ends_the_cycle(world: World) -> None:
    pid = world.under_review()
    result = world.run(c.WithdrawPermit(actor=world.actor("req"), permit_id=pid, reason="not needed today"))
    assert result.events == ("PermitWithdrawn", "SignaturesInvalidated")
    state = world.permit(pid)
    assert state.status == "draft"
    assert state.valid_signatures() == ()


def test_LIFE_14_only_the_requestor_withdraws(world: World) -> None:
    pid = world.submitted()
    refused(world, pid, c.WithdrawPermit(actor=world.actor("ver"), permit_id=pid), Forbidden)


# --- LIFE-22 / LIFE-24 / LIFE-25 / NUM ------------------------------------------------------------------------


def test_LIFE_22_draft_cancels_without_reason(world: World) -> None:
    pid = world.draft()
    result = world.run(cancel(world, pid))
    assert result.events == ("PermitCancelled",)
    assert world.permit(pid).status == "cancelled"


def test_LIFE_22_reason_required_after_submission(world: World) -> None:
    pid = world.submitted()
    err = refused(world, pid, cancel(world, pid, reason=" "), ValidationFailed)
    assert err.rule_ids == ("LIFE-22",)
    world.run(cancel(world, pid, reason="job moved"))
    assert world.permit(pid).status == "cancelled"


def test_LIFE_22_active_permit_cannot_be_cancelled(world: World) -> None:
    pid = world.active()
    err = refused(world, pid, cancel(world, pid, actor="app", reason="stop"), InvalidTransition)
    assert "CompletePermit" in err.allowed_commands
    assert "CancelPermit" not in err.allowed_commands


def test_LIFE_22_other_requestor_cannot_cancel(world: World) -> None:
    world.add_person("req2", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR)
    pid = world.draft()
    refused(world, pid, cancel(world, pid, actor="req2"), Forbidden)


def test_LIFE_25_NUM_03_cancelled_permit_keeps_its_number_and_events(world: World) -> None:
    pid = world.submitted()
    number = world.permit(pid).number
    world.run(cancel(world, pid, actor="app", reason="abandoned"))
    assert world.permit(pid).number == number
    assert world.service.permit_by_number(world.project_id, number) == pid
    assert types(world, pid)[0] == "PermitDrafted"
    second = world.draft()
    assert world.permit(second).number == "NORTH-2026-00002"  # never reused


def test_LIFE_24_version_increments_by_one_per_event(world: World) -> None:
    pid = world.closed()
    history = world.service.history(pid)
    assert [e.version for e in history] == list(range(1, len(history) + 1))
    assert world.permit(pid).version == len(history)
    for version in range(1, len(history) + 1):
        assert world.service.permit_at_version(pid, version).version == version


def test_LIFE_24_command_result_version_matches_events(world: World) -> None:
    pid = world.under_review()
    before = world.permit(pid).version
    result = world.run(c.RejectPermit(actor=world.actor("app"), permit_id=pid, reason="no"))
    assert result.version == before + len(result.events) == world.permit(pid).version


def test_NUM_01_number_format(world: World) -> None:
    pid = world.draft()
    assert world.permit(pid).number == "NORTH-2026-00001"


def test_NUM_02_consecutive_numbers(world: World) -> None:
    numbers = [world.permit(world.draft()).number for _ in range(3)]
    assert numbers == ["NORTH-2026-00001", "NORTH-2026-00002", "NORTH-2026-00003"]


def test_TEN_06_inactive_project_refuses_create_permit(world: World) -> None:
    world.change_settings(active=False)
    with pytest.raises(InvalidTransition) as info:
        world.run(create(world))
    assert info.value.rule_ids == ("TEN-06",)
    assert world.service.project(world.project_id).permits == {}
    world.change_settings()
    assert world.run(create(world)).permit_number == "NORTH-2026-00001"


def test_TEN_06_inactive_project_keeps_reads(world: World) -> None:
    pid = world.draft()
    world.change_settings(active=False)
    assert world.permit(pid).status == "draft"
    assert world.service.readiness(pid).status == "draft"


# --- RISK ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (1, "low"),
        (4, "low"),
        (5, "medium"),
        (9, "medium"),
        (10, "high"),
        (16, "high"),
        (20, "extreme"),
        (25, "extreme"),
    ],
)
def test_RISK_01_level_bands(score: int, level: str) -> None:
    assert risk_level(score) == level


def test_RISK_01_score_is_probability_times_severity() -> None:
    assert risk_score(3, 4) == 12
    assert risk_score(5, 5) == 25


def test_RISK_02_permit_risk_is_derived(world: World) -> None:
    pid = world.draft(probability=3, severity=4)
    state = world.permit(pid)
    assert state.risk_score == 12
    assert state.risk_level == "high"


def test_RISK_03_effective_level_is_the_higher_of_assessed_and_inherent(world: World) -> None:
    assert effective_risk_level(RiskLevel.LOW, RiskLevel.HIGH) == "high"
    assert effective_risk_level(RiskLevel.EXTREME, RiskLevel.MEDIUM) == "extreme"
    world.publish_template(
        {"key": "risky", "category": "cold_work", "name": "Risky", "inherent_risk_level": "high"}
    )
    pid = world.draft("risky", probability=1, severity=1)
    state = world.permit(pid)
    assert state.risk_level == "low"
    assert state.effective_risk_level == "high"
    # ROLE-04 follows the effective level: a level-1 verifier is refused.
    junior = member("junior", Role.VERIFIER, level=1)
    err = refused(world, pid, nominate(world, pid, junior), GuardFailed)
    assert err.rule_ids == ("ROLE-04",)


# --- TPL-08 / TPL-09 -------------------------------------------------------------------------------------------


def test_TPL_08_mandatory_ppe_is_compared_trimmed_and_case_insensitively(world: World) -> None:
    pid = world.under_review(ppe=("  WELDING Gloves ",))
    world.run(approve(world, pid))
    assert world.permit(pid).status == "approved"


def test_TPL_08_missing_ppe_refuses_approval(world: World) -> None:
    pid = world.under_review(ppe=("hard hat",))
    err = refused(world, pid, approve(world, pid), GuardFailed)
    assert err.rule_ids == ("TPL-08",)
    assert err.blockers[0].facts["missing"] == ["Welding gloves"]


def test_TPL_09_required_checklist_items_must_be_true(world: World) -> None:
    pid = world.under_review(checklist_answers={"combustibles_removed": True, "extinguisher": False})
    err = refused(world, pid, approve(world, pid), GuardFailed)
    assert err.rule_ids == ("TPL-09",)
    assert err.blockers[0].facts["missing"] == ["extinguisher"]


def test_RDY_04_approval_blockers_are_all_listed_in_order(world: World) -> None:
    pid = world.under_review(ppe=(), checklist_answers={})
    err = refused(world, pid, approve(world, pid), GuardFailed)
    assert err.rule_ids == ("TPL-08", "TPL-09")
    readiness = world.service.readiness(pid, actor=world.actor("app"))
    assert readiness.actions["approve"].blockers == err.blockers


def test_SEC_08_an_inactive_project_refuses_writes_but_stopping_work_and_close_out(world: World) -> None:
    """SEC-08: while inactive, an edit is refused and records nothing; stopping live work still goes through."""
    draft = world.draft()
    live = world.active()
    world.change_settings(active=False)
    version = world.permit(draft).version
    with pytest.raises(InvalidTransition) as info:
        world.run(edit(world, draft, description="Weld two brackets"))
    assert info.value.rule_ids == ("SEC-08", "TEN-06")
    assert "SuspendPermit" in info.value.allowed_commands
    assert world.permit(draft).version == version
    world.run(
        c.SuspendPermit(
            actor=world.actor("safe"),
            permit_id=live,
            reason_code=SuspensionReason.MANUAL,
            text="Site closing",
        )
    )
    assert world.permit(live).status == "suspended"
    world.change_settings()  # reactivated: writes are accepted again
    world.run(edit(world, draft, description="Weld two brackets"))
