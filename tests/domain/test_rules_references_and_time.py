"""TEN-03 references, TIME-01/02 command time, DEL-04 admin reassignment, ROLE-05 migration, LIFE-01 derived
fields, and the pinned event type names."""

from __future__ import annotations

import uuid
from datetime import timedelta

import msgspec
import pytest

from ptw_domain import commands as c
from ptw_domain.errors import Forbidden, NotFound, ValidationFailed
from ptw_domain.events.base import EVENT_TYPES
from ptw_domain.permit.content import PermitContent
from ptw_domain.roles import CompanyKind, Role, migrated_member
from ptw_domain.service import PermitService
from tests.builders import World, edit, nominate


def test_TEN_03_a_related_permit_of_the_same_project_is_accepted(world: World) -> None:  # noqa: N802
    first = world.draft()
    second = world.draft(related_permits=(first,), predecessor_permit=first)
    assert world.permit(second).content.related_permits == (first,)


@pytest.mark.parametrize("field", ["related_permits", "predecessor_permit"])
def test_TEN_03_a_permit_of_another_project_is_not_found_naming_the_field(  # noqa: N802
    world: World, field: str
) -> None:
    other = World.create(world.service, world.clock, code="SOUTH")
    foreign = other.draft()
    value = (foreign,) if field == "related_permits" else foreign
    version = world.permit(pid := world.draft()).version
    for attempt in (
        lambda: world.draft(**{field: value}),
        lambda: world.run(edit(world, pid, **{field: value})),
    ):
        with pytest.raises(NotFound) as refused:
            attempt()
        assert refused.value.facts == {"field": field}
        assert str(foreign) not in str(refused.value)
    assert world.permit(pid).version == version
    assert world.service.project(world.project_id).sequences == {2026: 1}  # the refused drafts took no number


def test_TEN_03_an_unknown_permit_is_not_found_like_a_foreign_one(world: World) -> None:  # noqa: N802
    with pytest.raises(NotFound) as refused:
        world.draft(related_permits=(uuid.uuid4(),))
    assert refused.value.facts == {"field": "related_permits"}


@pytest.mark.parametrize("offset", [timedelta(minutes=6), -timedelta(minutes=6), timedelta(days=1)])
def test_TIME_01_a_command_cannot_be_backdated_or_postdated(  # noqa: N802
    world: World, offset: timedelta
) -> None:
    pid = world.draft()
    with pytest.raises(ValidationFailed) as refused:
        world.run(
            c.EditPermit(
                actor=world.actor("req"),
                permit_id=pid,
                at=world.clock.now() + offset,
                changes=c.PermitChanges(notes="x"),
            )
        )
    assert refused.value.rule_ids == ("TIME-01", "TIME-02")
    assert world.permit(pid).version == 1


def test_TIME_01_a_command_stamped_within_the_skew_keeps_its_time(world: World) -> None:  # noqa: N802
    pid = world.draft()
    at = world.clock.now() - timedelta(minutes=2)
    world.run(
        c.EditPermit(actor=world.actor("req"), permit_id=pid, at=at, changes=c.PermitChanges(notes="x"))
    )
    assert world.service.history(pid)[-1].occurred_at == at


def test_DEL_04_a_project_admin_reassigns_the_verifier_nomination(world: World) -> None:  # noqa: N802
    pid = world.draft()
    world.people["ver2"] = world.people["ver"].__class__(
        person_id="ver2", roles=frozenset({Role.VERIFIER}), authority_level=2, company_kind=CompanyKind.OWNER
    )
    world.run(nominate(world, pid, world.people["ver2"], actor="admin"))
    assert world.permit(pid).verifier == world.people["ver2"]


def test_DEL_04_someone_else_cannot_reassign_a_nomination(world: World) -> None:  # noqa: N802
    pid = world.draft()
    with pytest.raises(Forbidden):
        world.run(nominate(world, pid, actor="app"))


def test_DEL_04_a_project_admin_reassigns_approvers(world: World) -> None:  # noqa: N802
    pid = world.under_review()
    world.run(
        c.NominateApprovers(actor=world.actor("admin"), permit_id=pid, approvers=(world.people["app2"],))
    )
    assert [m.person_id for m in world.permit(pid).approvers] == ["app2"]


@pytest.mark.parametrize(("grade", "level"), [("A", 3), ("b", 2), ("C", 1)])
def test_ROLE_05_grades_map_to_authority_levels(grade: str, level: int) -> None:  # noqa: N802
    assert (
        migrated_member("p", grade=grade, company_kind="client", roles=frozenset()).authority_level == level
    )


@pytest.mark.parametrize(
    ("legacy", "kind"),
    [
        ("client", CompanyKind.OWNER),
        ("EPC", CompanyKind.PRINCIPAL_CONTRACTOR),
        ("contractor", CompanyKind.CONTRACTOR),
    ],
)
def test_ROLE_05_company_kinds_map(legacy: str, kind: CompanyKind) -> None:  # noqa: N802
    assert migrated_member("p", grade="A", company_kind=legacy, roles=frozenset()).company_kind == kind


def test_ROLE_05_company_admins_become_project_admins_and_unknown_values_are_refused() -> None:  # noqa: N802
    member = migrated_member(
        "p", grade="A", company_kind="client", roles=frozenset({Role.APPROVER}), company_admin=True
    )
    assert member.roles == {Role.APPROVER, Role.PROJECT_ADMIN}
    with pytest.raises(ValueError, match="ROLE-05"):
        migrated_member("p", grade="D", company_kind="client", roles=frozenset())


@pytest.mark.parametrize(
    "derived", ["status", "risk_score", "risk_level", "valid_until", "version", "number"]
)
def test_LIFE_01_derived_fields_are_refused_in_content_and_changes(derived: str) -> None:  # noqa: N802
    world_content = {
        "description": "d",
        "area": "A1",
        "planned_start": "2026-11-25T09:00:00Z",
        "planned_end": "2026-11-25T10:00:00Z",
        "probability": 1,
        "severity": 1,
        derived: "x",
    }
    with pytest.raises(msgspec.ValidationError, match=derived):
        msgspec.convert(world_content, PermitContent)
    with pytest.raises(msgspec.ValidationError, match=derived):
        msgspec.convert({derived: "x"}, c.PermitChanges)


def test_stored_event_type_names_are_pinned() -> None:
    """A stored topic must never change: renaming a class changes its name unless `type_name` keeps the old
    one. Extend this list when adding a type; never edit an entry."""
    pinned = {
        "ApproversNominated",
        "CommandAccepted",
        "DelegationGranted",
        "DelegationRevoked",
        "ExtensionApproved",
        "ExtensionLapsed",
        "ExtensionRejected",
        "ExtensionRequested",
        "FireWatchStarted",
        "PermitActivated",
        "PermitAmended",
        "PermitApproved",
        "PermitCancelled",
        "PermitClosed",
        "PermitCompleted",
        "PermitDrafted",
        "PermitEdited",
        "PermitExpired",
        "PermitNumberAllocated",
        "PermitRejected",
        "PermitResumed",
        "PermitSentBack",
        "PermitSubmitted",
        "PermitSuspended",
        "PermitTemplateRebased",
        "PermitVerified",
        "PermitWithdrawn",
        "ProjectOpened",
        "ProjectSettingsChanged",
        "RolePolicyPublished",
        "SignaturesInvalidated",
        "TemplateOverridePublished",
        "TemplateOverrideWithdrawn",
        "TemplateRetired",
        "TemplateVersionPublished",
        "VerifierNominated",
    }
    assert pinned <= set(EVENT_TYPES), sorted(pinned - set(EVENT_TYPES))


def test_the_service_can_be_built_on_every_backend(service: PermitService) -> None:
    assert service.store.head_position() == 0
