# ruff: noqa: N802
"""Rules of the foundation that earlier files exercised only implicitly: status groups, tenancy, roles,
template resolution, signing points and the shape of readiness. Rules that need a token or an HTTP request
(TEN-04 authority per project in the token, ROLE-08 roles from the token, TPL-07 read access) belong to the
HTTP API and are tested there."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from ptw_domain import commands as c
from ptw_domain.errors import Forbidden, GuardFailed, NotFound, ValidationFailed
from ptw_domain.gas import commands as gc
from ptw_domain.permit.content import Origin
from ptw_domain.permit.readiness import GUARD_ORDER, Action, guards_of
from ptw_domain.permit.status import HOLDING, LIVE, SIMOPS_CANDIDATE, TERMINAL, Status
from ptw_domain.risk import RiskLevel
from ptw_domain.roles import DEFAULT_ROLE_POLICY, Actor, ActorKind, Role, RolePolicy, Step, StepRule
from ptw_domain.signatures import SigningPoint
from ptw_domain.templates import resolve_template
from ptw_domain.templates.settings import Category, builtin_definition
from tests.builders import World, approve, create, member, nominate, submit, verify

S = Status


def test_LIFE_03_status_groups_are_those_of_the_table() -> None:
    assert {S.ACTIVE, S.SUSPENDED} == LIVE
    assert {S.APPROVED, S.ACTIVE, S.SUSPENDED, S.EXPIRED} == HOLDING
    assert {S.SUBMITTED, S.UNDER_REVIEW, S.APPROVED, S.ACTIVE, S.SUSPENDED, S.EXPIRED} == SIMOPS_CANDIDATE
    assert {S.CLOSED, S.CANCELLED} == TERMINAL
    assert len(Status) == 11


def test_LIFE_04_a_draft_records_its_origin_and_pins_a_usable_template(world: World) -> None:
    pid = world.draft("cold-work", origin=Origin.INTEGRATION)
    state = world.permit(pid)
    assert (state.origin, state.template.key, state.template.version) == ("integration", "cold-work", 1)
    with pytest.raises(NotFound):
        world.draft(template="no-such-template")


def test_NUM_04_an_offline_draft_is_numbered_on_acceptance_and_keeps_its_device_reference(
    world: World,
) -> None:
    world.draft()
    command = create(world, origin=Origin.OFFLINE_DEVICE, client_ref="tablet-7/0042")
    pid = command.permit_id
    result = world.run(command)
    assert result.permit_number == "NORTH-2026-00002"
    assert (world.permit(pid).client_ref, world.permit(pid).origin) == ("tablet-7/0042", "offline_device")


def test_TIME_06_validity_is_half_open(world: World) -> None:
    pid = world.active()
    valid_until = world.permit(pid).valid_until
    assert (
        world.service.readiness(pid, at=valid_until - timedelta(microseconds=1)).effective_status == "active"
    )
    assert world.service.readiness(pid, at=valid_until).effective_status == "expired"


def test_TEN_01_a_permit_belongs_to_one_project_fixed_at_creation(world: World) -> None:
    pid = world.closed()
    assert {e.metadata.project_id for e in world.service.history(pid)} == {world.project_id}
    assert world.permit(pid).project_id == world.project_id


def test_TEN_02_a_number_of_another_project_is_indistinguishable_from_an_unknown_one(world: World) -> None:
    other = World.create(world.service, world.clock, code="SOUTH")
    other.draft()
    with pytest.raises(NotFound) as foreign:
        world.service.permit_by_number(world.project_id, "SOUTH-2026-00001")
    with pytest.raises(NotFound) as unknown:
        world.service.permit_by_number(world.project_id, "NORTH-2026-99999")
    assert (foreign.value.code, foreign.value.status, list(foreign.value.facts)) == (
        unknown.value.code,
        unknown.value.status,
        list(unknown.value.facts),
    )


def test_TEN_05_ids_are_uuids_and_numbers_are_unique_only_per_project(world: World) -> None:
    other = World.create(world.service, world.clock, code="SOUTH")
    a, b = world.draft(), other.draft()
    assert isinstance(a, uuid.UUID) and a != b
    assert (world.permit(a).number, other.permit(b).number) == ("NORTH-2026-00001", "SOUTH-2026-00001")


def test_ROLE_01_the_project_roles_are_those_of_the_table() -> None:
    assert {r.value for r in Role} == {
        "requestor",
        "verifier",
        "approver",
        "area_authority",
        "isolating_authority",
        "gas_tester",
        "fire_watch",
        "safety_officer",
        "worker",
        "project_admin",
        "auditor",
        "integration",
    }


def test_ROLE_02_one_person_with_two_roles_cannot_fill_both_on_one_permit(world: World) -> None:
    dual = world.add_person("dual", Role.VERIFIER, Role.APPROVER)
    pid = world.draft()
    world.run(nominate(world, pid, dual))
    world.run(submit(world, pid))
    world.run(verify(world, pid, actor="dual"))
    world.run(c.NominateApprovers(actor=world.actor("dual"), permit_id=pid, approvers=(world.people["app"],)))
    with pytest.raises(GuardFailed) as refused:
        world.run(
            c.NominateApprovers(actor=world.actor("dual"), permit_id=pid, approvers=(world.people["dual"],))
        )
    assert "SOD-01" in refused.value.rule_ids


def test_ROLE_03_and_ROLE_06_signing_events_record_level_company_and_policy_version(world: World) -> None:
    pid = world.approved()
    approved = next(e for e in world.service.history(pid) if e.type == "PermitApproved")
    assert approved.payload.policy_version == DEFAULT_ROLE_POLICY.version
    assert (approved.metadata.actor.authority_level, approved.metadata.actor.company_kind) == (3, "owner")
    assert approved.payload.signature.authority_level == 3


def test_ROLE_06_eligibility_is_checked_again_when_the_nominee_acts(world: World) -> None:
    pid = world.submitted()  # verifier `ver` has level 2: eligible at nomination under the default policy
    stricter = RolePolicy(
        version=1,
        steps={
            **DEFAULT_ROLE_POLICY.steps,
            Step.VERIFY: StepRule(min_level=dict.fromkeys(RiskLevel, 3), company_kinds=None),
        },
    )
    world.run(
        c.PublishRolePolicy(
            actor=world.actor("admin", org_admin=True), organisation_id=world.organisation_id, policy=stricter
        )
    )
    world.clock.advance(timedelta(seconds=2))  # past the reference TTL of another process, for good measure
    with pytest.raises(GuardFailed) as refused:
        world.run(verify(world, pid))
    assert [b.code for b in refused.value.blockers] == ["authority_level_too_low"]
    assert refused.value.blockers[0].facts["policy_version"] == 1


def test_ROLE_07_an_integration_principal_drafts_but_never_signs(world: World) -> None:
    erp = Actor(
        member=world.add_person("erp", Role.INTEGRATION, Role.REQUESTOR, level=1),
        auth_time=world.clock.now(),
        kind="service",
    )
    pid = world.draft(actor=erp)
    world.run(nominate(world, pid, actor=erp))
    with pytest.raises(Forbidden) as refused:
        world.run(submit(world, pid, actor=erp))
    assert refused.value.rule_ids == ("ROLE-07",)
    assert world.permit(pid).signatures == ()


def test_ROLE_07_a_service_principal_records_no_safety_facts_whatever_roles_it_holds(world: World) -> None:
    """ROLE-07: a gas tester's identity used as a service principal cannot record a reading (nor isolate)."""
    pid = world.approved()
    tester = world.people["tester"]
    service = Actor(member=tester, auth_time=world.clock.now(), kind=ActorKind.SERVICE)
    head = world.service.store.head_position()
    with pytest.raises(Forbidden) as refused:
        world.run(
            gc.RecordGasReading(
                actor=service,
                permit_id=pid,
                reading_id=uuid.uuid4(),
                session_id=uuid.uuid4(),
                gas="O2",
                value=20.9,
                unit="%vol",
                tested_at=world.clock.now(),
                instrument="MX4-0042",
                calibration_due=world.clock.now() + timedelta(days=30),
                tester_worker_id=world.workers["tester"],
            )
        )
    assert refused.value.rule_ids == ("ROLE-07",)
    assert world.service.store.head_position() == head
    world.gas_test(pid)  # the same person with their own user token may
    assert world.permit(pid).gas.readings


def test_TPL_03_resolution_is_builtin_then_template_then_override() -> None:
    definition = {"key": "k", "category": "confined_space", "validity_hours": 8}
    resolved, _ = resolve_template(definition, {"validity_hours": 6, "mandatory_ppe": ["Harness"]})
    assert resolved.requires_attendant is True  # built-in category default
    assert resolved.validity_hours == 6  # the override wins over the template
    assert resolved.mandatory_ppe == ["Harness"]
    closed, _ = resolve_template({**definition, "allow_overrides": False}, {"validity_hours": 6})
    assert closed.validity_hours == 8


@pytest.mark.parametrize(("risk", "expected"), [("high", "high_items"), ("low", "any_items")])
def test_TPL_10_closeout_checklist_for_the_risk_level_else_any(risk: str, expected: str) -> None:
    resolved, _ = resolve_template(
        {
            "key": "k",
            "category": "cold_work",
            "closeout_checklists": {"high": ["Area barriers removed"], "any": ["Tools removed"]},
        }
    )
    labels = [i.label for i in resolved.closeout_checklist(RiskLevel(risk))]
    assert labels == {"high_items": ["Area barriers removed"], "any_items": ["Tools removed"]}[expected]
    empty, _ = resolve_template({"key": "k", "category": "cold_work"})
    assert empty.closeout_checklist(RiskLevel.LOW) == ()


def test_TPL_11_builtin_sections_follow_the_category_flags() -> None:
    keys = [s["key"] for s in builtin_definition(Category.HOT_WORK)["form_sections"]]
    assert keys == [
        "general_requirements",
        "authorisation",
        "emergency_arrangements",
        "hot_work",
        "gas_testing",
        "fire_watch",
    ]
    resolved, _ = resolve_template({"key": "k", "category": "electrical"})
    assert [s.key for s in resolved.form_sections][-1] == "isolation"
    own, _ = resolve_template({"key": "k", "category": "electrical", "form_sections": ["Our own section"]})
    assert [s.key for s in own.form_sections] == ["our_own_section"]


def test_SIG_01_each_workflow_act_carries_its_signing_points(world: World) -> None:
    pid = world.closed()
    points = [r.signature.point for r in world.permit(pid).signatures]
    assert points == [
        SigningPoint.REQUESTOR,
        SigningPoint.VERIFIER,
        SigningPoint.APPROVER,
        SigningPoint.ISSUER,
        SigningPoint.ACCEPTOR,
        SigningPoint.HAND_BACK,
        SigningPoint.CLOSE,
    ]


def test_SIG_02_a_signature_holds_what_was_signed_and_no_secret(world: World) -> None:
    pid = world.submitted()
    state = world.permit(pid)
    signature = state.signatures[0].signature
    assert (signature.signer, signature.role, signature.permit_id, signature.cycle) == (
        "req",
        "requestor",
        pid,
        1,
    )
    assert signature.core_hash == state.core_hash and signature.permit_version == 2
    assert not {"token", "password", "secret", "pin"} & set(type(signature).__struct_fields__)
    assert signature.reauthenticated_at == world.clock.now() and signature.reauth_method == "token"


def test_SIG_03_a_refused_signing_command_leaves_no_signature(world: World) -> None:
    pid = world.under_review(ppe=())  # TPL-08 will refuse the approval
    with pytest.raises(GuardFailed):
        world.run(approve(world, pid))
    assert [r.signature.point for r in world.permit(pid).signatures] == ["requestor", "verifier"]


def test_SIG_09_the_signer_must_meet_the_policy_at_signing_time(world: World) -> None:
    """Nominated at level 3, `app` signs with the level the token states at the act: 2 is too low for high risk."""
    pid = world.under_review(probability=4, severity=4)
    demoted = Actor(member=member("app", Role.APPROVER, level=2), auth_time=world.clock.now())
    with pytest.raises(GuardFailed) as refused:
        world.run(approve(world, pid, actor=demoted))
    assert [(b.rule, b.code) for b in refused.value.blockers] == [("ROLE-04", "authority_level_too_low")]
    assert world.permit(pid).status == "under_review"


def test_RDY_01_readiness_is_pure_and_judges_at_the_given_instant(world: World) -> None:
    pid = world.approved()
    at = world.clock.now() + timedelta(minutes=40)
    first = world.service.readiness(pid, at=at)
    world.clock.advance(timedelta(days=3))  # the clock is not read when `at` is given
    assert world.service.readiness(pid, at=at) == first
    assert first.evaluated_at == at


def test_RDY_02_readiness_covers_every_action_with_its_parts(world: World) -> None:
    pid = world.draft()
    readiness = world.service.readiness(pid)
    assert set(readiness.actions) == set(Action)
    submit = readiness.actions[Action.SUBMIT]
    assert submit.required_inputs == ("signature", "core_hash")
    assert (readiness.version, readiness.core_hash) == (1, world.permit(pid).core_hash)
    assert {"signatures", "ppe", "safety_checklist", "extensions", "valid_until"} <= set(readiness.progress)


def test_RDY_03_every_guard_is_evaluated_in_table_order_with_facts(world: World) -> None:
    now = world.clock.now()
    pid = world.draft(
        hazards=(), controls=(), planned_start=now - timedelta(hours=3), planned_end=now - timedelta(hours=1)
    )
    blockers = world.service.readiness(pid).actions[Action.SUBMIT].blockers
    assert [b.rule for b in blockers] == ["LIFE-07", "LIFE-06", "LIFE-08"]
    assert blockers[0].facts == {"missing": ["hazards", "controls"]}
    order = [g.lstrip("*") for g in GUARD_ORDER[Action.SUBMIT]]
    assert [order.index(b.rule) for b in blockers] == sorted(order.index(b.rule) for b in blockers)


def test_RDY_05_actor_dependent_guards_only_with_an_actor(world: World) -> None:
    pid = world.submitted()
    without = world.service.readiness(pid).actions[Action.VERIFY]
    as_requestor = world.service.readiness(pid, actor=world.actor("req")).actions[Action.VERIFY]
    assert without.allowed
    assert not as_requestor.allowed
    assert {b.rule for b in as_requestor.blockers} >= {"ROLE-04", "SOD-01"}
    assert all(not g.actor_dependent for g in guards_of(Action.VERIFY) if g.rule == "LIFE-06")


def test_AUD_06_RDY_09_a_permit_and_its_readiness_at_a_past_point(world: World) -> None:
    pid = world.draft()
    drafted_at = world.clock.now()
    world.clock.advance(timedelta(minutes=5))
    world.run(nominate(world, pid))
    assert world.service.permit_at(pid, drafted_at).verifier is None
    assert world.service.permit_at_version(pid, 2).verifier == world.people["ver"]
    past = world.service.readiness(pid, at=drafted_at).actions[Action.SUBMIT]
    assert "LIFE-08" in [b.rule for b in past.blockers]
    assert world.service.readiness(pid, version=2).actions[Action.SUBMIT].allowed


@pytest.mark.parametrize(
    ("settings", "field", "rule"),
    [
        ({"planning_horizon_days": 10**10}, "settings.planning_horizon_days", "TEN-06"),
        ({"planning_horizon_days": -1}, "settings.planning_horizon_days", "TEN-06"),
        ({"reauth_max_age_seconds": 10**12}, "settings.reauth_max_age_seconds", "TEN-06"),
        ({"clock_skew_minutes": 10**9}, "settings.clock_skew_minutes", "TEN-06"),
        ({"handover_grace_minutes": 10**9}, "settings.handover_grace_minutes", "TEN-06"),
        ({"offline_max_age_hours": 0}, "settings.offline_max_age_hours", "TEN-06"),
        ({"offline_max_age_hours": 10**6}, "settings.offline_max_age_hours", "TEN-06"),
        ({"number_format": "{x}"}, "settings.number_format", "NUM-01"),
        ({"number_format": "{"}, "settings.number_format", "NUM-01"),
        ({"number_format": "{code}-{year}"}, "settings.number_format", "NUM-01"),
        ({"shift_boundaries": ("", "")}, "settings.shift_boundaries", "HOV-02"),
        ({"shift_boundaries": ("06:00", "06:00")}, "settings.shift_boundaries", "HOV-02"),
        ({"shift_boundaries": ("25:00", "18:00")}, "settings.shift_boundaries", "HOV-02"),
    ],
)
def test_TEN_06_settings_that_would_break_later_acts_are_refused(
    world: World, settings: dict[str, object], field: str, rule: str
) -> None:
    """TEN-06: a setting out of its range is refused when given, never discovered by a later act."""
    before = world.service.project(world.project_id).settings
    with pytest.raises(ValidationFailed) as refused:
        world.change_settings(**settings)
    assert refused.value.facts["field"] == field
    assert [b.rule for b in refused.value.blockers] == [rule]
    assert world.service.project(world.project_id).settings == before
    world.draft()  # the project still works


def test_TEN_06_a_project_needs_a_known_time_zone(world: World) -> None:
    with pytest.raises(ValidationFailed) as refused:
        world.run(
            c.OpenProject(
                actor=world.actor("admin", org_admin=True),
                project_id=uuid.uuid4(),
                organisation_id=world.organisation_id,
                code="MARS",
                title="Olympus",
                time_zone="Mars/Olympus",
            )
        )
    assert refused.value.facts["field"] == "time_zone"
