"""Deciding configuration and creation: projects, role policy, templates, overrides, delegations, drafts."""

from __future__ import annotations

import re
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from ptw_domain import commands as c
from ptw_domain.delegation import DelegationState
from ptw_domain.errors import Forbidden, GuardFailed, InvalidTransition, NotFound, ValidationFailed
from ptw_domain.events import delegation as dev
from ptw_domain.events import organisation as oev
from ptw_domain.events import permit as pev
from ptw_domain.events import project as prv
from ptw_domain.events.gas import GasLimitProfilePublished
from ptw_domain.events.project import ProjectSettings
from ptw_domain.findings import Finding, found
from ptw_domain.gas import commands as gc
from ptw_domain.gas.profiles import OSHA_DEFAULT
from ptw_domain.organisation import OrganisationState, TemplateState, template_id
from ptw_domain.permit.content import PermitContent
from ptw_domain.permit.context import PermitContext, ProjectFacts
from ptw_domain.permit.guards import window_findings
from ptw_domain.permit.state import PermitState
from ptw_domain.project import ProjectState
from ptw_domain.roles import Actor, Role, RolePolicy, Step, step_eligibility
from ptw_domain.templates import TemplateRef, loosened_settings, resolve_template
from ptw_domain.templates.resolution import ResolvedTemplate, validate_definition


def require_org_admin(actor: Actor, command: str) -> None:
    """SEC-04: organisation-level settings need the `org_admin` claim."""
    if not actor.org_admin:
        raise Forbidden(f"{command} needs an organisation admin", rule_ids=("SEC-04",))


def require_project_role(actor: Actor, command: str, *roles: Role) -> None:
    if not set(roles) & actor.member.roles:
        raise Forbidden(f"{command} needs one of the roles {', '.join(sorted(roles))}", rule_ids=("SEC-04",))


# TEN-06 [choice]: the ranges a project setting may take, so a setting can never make later acts fail.
SETTING_RANGES = {
    "planning_horizon_days": (1, 366),
    "clock_skew_minutes": (0, 60),
    "reauth_max_age_seconds": (30, 86_400),
    "handover_window_minutes": (0, 720),
    "handover_grace_minutes": (0, 720),
    "offline_max_age_hours": (1, 720),
}
_CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def settings_findings(settings: ProjectSettings, time_zone: str | None = None) -> list[Finding]:
    """TEN-06, NUM-01, HOV-02: what is wrong with project settings (empty = usable)."""
    out: list[Finding] = []
    for name, (low, high) in SETTING_RANGES.items():
        value = getattr(settings, name)
        if not low <= value <= high:
            out += found(
                "TEN-06",
                "setting_out_of_range",
                f"{name} must be between {low} and {high}",
                {"field": f"settings.{name}", "value": value, "min": low, "max": high},
            )
    try:
        settings.number_format.format(code="P", year=2026, sequence=1)
        usable = "{sequence" in settings.number_format
    except (KeyError, IndexError, ValueError, AttributeError):
        usable = False
    if not usable:
        out += found(
            "NUM-01",
            "number_format_invalid",
            "number_format takes {code}, {year} and must contain {sequence}, e.g. {code}-{year}-{sequence:05d}",
            {"field": "settings.number_format", "value": settings.number_format},
        )
    first, second = settings.shift_boundaries
    if not (_CLOCK_TIME.match(first) and _CLOCK_TIME.match(second)) or first == second:
        out += found(
            "HOV-02",
            "shift_boundaries_invalid",
            "shift_boundaries are two different local times HH:MM",
            {"field": "settings.shift_boundaries", "value": list(settings.shift_boundaries)},
        )
    if time_zone is not None:
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            out += found(
                "TEN-06",
                "time_zone_unknown",
                f"{time_zone!r} is not an IANA time zone",
                {"field": "time_zone", "value": time_zone},
            )
    return out


def _require_usable(settings: ProjectSettings, time_zone: str | None = None) -> None:
    findings = settings_findings(settings, time_zone)
    if findings:
        raise ValidationFailed(
            "; ".join(f.message for f in findings),
            blockers=findings,
            facts={"field": findings[0].facts["field"]},
        )


def open_project(cmd: c.OpenProject, existing: ProjectState | None) -> list[prv.ProjectOpened]:
    require_org_admin(cmd.actor, cmd.name)
    if existing is not None:
        raise InvalidTransition("the project is already open", rule_ids=("TEN-06",))
    _require_usable(cmd.settings, cmd.time_zone)
    return [
        prv.ProjectOpened(
            project_id=cmd.project_id,
            organisation_id=cmd.organisation_id,
            code=cmd.code,
            name=cmd.title,
            time_zone=cmd.time_zone,
            settings=cmd.settings,
            opened_by=cmd.actor.person_id,
        )
    ]


def change_settings(cmd: c.ChangeProjectSettings, project: ProjectState) -> list[prv.ProjectSettingsChanged]:
    require_project_role(cmd.actor, cmd.name, Role.PROJECT_ADMIN)
    _require_usable(cmd.settings)
    old, new = msgspec.to_builtins(project.settings), msgspec.to_builtins(cmd.settings)
    changed = tuple(sorted(k for k in new if old.get(k) != new[k]))
    return [prv.ProjectSettingsChanged(settings=cmd.settings, changed=changed)] if changed else []


def publish_policy(cmd: c.PublishRolePolicy, org: OrganisationState | None) -> list[oev.RolePolicyPublished]:
    require_org_admin(cmd.actor, cmd.name)
    current = org.policy.version if org else 0
    if cmd.policy.version != current + 1:
        raise ValidationFailed(
            f"the next role policy version is {current + 1}",
            rule_ids=("ROLE-04",),
            facts={"given": cmd.policy.version, "expected": current + 1},
        )
    return [
        oev.RolePolicyPublished(
            organisation_id=cmd.organisation_id, policy=cmd.policy, published_by=cmd.actor.person_id
        )
    ]


def publish_gas_profile(
    cmd: gc.PublishGasLimitProfile, org: OrganisationState | None
) -> list[GasLimitProfilePublished]:
    """GAS-05: profiles are versioned per key; a published version never changes."""
    require_org_admin(cmd.actor, cmd.name)
    versions = [
        p.profile.version for p in (org.gas_profiles if org else ()) if p.profile.key == cmd.profile.key
    ]
    expected = max(versions, default=OSHA_DEFAULT.version if cmd.profile.key == OSHA_DEFAULT.key else 0) + 1
    if cmd.profile.version != expected:
        raise ValidationFailed(
            f"the next version of {cmd.profile.key} is {expected}",
            rule_ids=("GAS-05",),
            facts={"field": "profile.version", "expected": expected},
        )
    missing = [gas for gas in cmd.profile.required if gas not in cmd.profile.limits]
    if missing:
        raise ValidationFailed(
            f"required gases without limits: {', '.join(missing)}",
            rule_ids=("GAS-06",),
            facts={"field": "profile.required"},
        )
    return [
        GasLimitProfilePublished(
            organisation_id=cmd.organisation_id, profile=cmd.profile, published_by=cmd.actor.person_id
        )
    ]


def publish_template(
    cmd: c.PublishTemplateVersion, existing: TemplateState | None
) -> list[oev.TemplateVersionPublished]:
    """TPL-01: a published version is immutable; any change publishes the next version."""
    require_org_admin(cmd.actor, cmd.name)
    try:
        validate_definition(cmd.definition)
    except (msgspec.ValidationError, ValueError) as exc:
        raise ValidationFailed(f"invalid template definition: {exc}", rule_ids=("TPL-01",)) from exc
    key = str(cmd.definition["key"])
    if existing is not None and existing.retired:
        raise InvalidTransition("the template is retired", rule_ids=("TPL-01",))
    _, digest = resolve_template(cmd.definition)
    version = existing.latest.version + 1 if existing and existing.versions else 1
    return [
        oev.TemplateVersionPublished(
            template_id=template_id(cmd.organisation_id, key),
            organisation_id=cmd.organisation_id,
            key=key,
            version=version,
            definition=cmd.definition,
            hash=digest,
            published_by=cmd.actor.person_id,
        )
    ]


def retire_template(cmd: c.RetireTemplate, existing: TemplateState | None) -> list[oev.TemplateRetired]:
    require_org_admin(cmd.actor, cmd.name)
    if existing is None:
        raise NotFound("no such template", facts={"field": "key"})
    if existing.retired:
        return []
    return [oev.TemplateRetired(template_id=existing.template_id, retired_by=cmd.actor.person_id)]


def publish_override(
    cmd: c.PublishTemplateOverride, project: ProjectState, template: TemplateState
) -> list[prv.TemplateOverridePublished]:
    """TPL-04/05: a per-project patch, deep-merged, tightening only unless the template lets it relax."""
    require_project_role(cmd.actor, cmd.name, Role.PROJECT_ADMIN)
    latest = template.latest
    base, _ = resolve_template(latest.definition)
    if not base.allow_overrides:
        raise InvalidTransition("the template does not allow project overrides", rule_ids=("TPL-03",))
    try:
        overridden, digest = resolve_template(latest.definition, cmd.patch)
    except (msgspec.ValidationError, ValueError, TypeError) as exc:
        raise ValidationFailed(f"invalid override: {exc}", rule_ids=("TPL-04",)) from exc
    loosened = loosened_settings(base, overridden)
    if loosened:
        raise GuardFailed(
            "an override may only tighten the template",
            blockers=[
                Finding(
                    rule="TPL-05",
                    code="loosening",
                    message=f"{name} would be loosened",
                    facts={"setting": name},
                )
                for name in loosened
            ],
        )
    history = project.overrides.get(template.template_id, ())
    return [
        prv.TemplateOverridePublished(
            project_id=project.project_id,
            template_id=template.template_id,
            override_version=len(history) + 1,
            based_on_template_version=latest.version,
            patch=cmd.patch,
            hash=digest,
            published_by=cmd.actor.person_id,
        )
    ]


def withdraw_override(
    cmd: c.WithdrawTemplateOverride, project: ProjectState, template: TemplateState
) -> list[prv.TemplateOverrideWithdrawn]:
    require_project_role(cmd.actor, cmd.name, Role.PROJECT_ADMIN)
    active = project.active_override(template.template_id)
    if active is None:
        raise NotFound("no active override for this template", facts={"field": "template_key"})
    return [
        prv.TemplateOverrideWithdrawn(
            template_id=template.template_id,
            override_version=active.override_version,
            withdrawn_by=cmd.actor.person_id,
        )
    ]


def create_permit(
    cmd: c.CreatePermit,
    project: ProjectState,
    template: TemplateState | None,
    resolve: Callable[[TemplateState], tuple[ResolvedTemplate, TemplateRef]],
    policy: RolePolicy,
    now_context: ProjectFacts,
) -> tuple[prv.PermitNumberAllocated, pev.PermitDrafted]:
    """T01/LIFE-04, LIFE-06, NUM-02, TEN-06: a usable template and a sound window; the number comes with it."""
    actor = cmd.actor
    require_project_role(actor, cmd.name, Role.REQUESTOR, Role.INTEGRATION)
    if not project.settings.active:
        raise InvalidTransition("the project is inactive and refuses new permits", rule_ids=("TEN-06",))
    if template is None or not template.versions:
        raise NotFound("no such template", facts={"field": "template_key"})
    if template.retired:
        raise GuardFailed(
            "the template is retired",
            blockers=[
                Finding(
                    rule="TPL-01",
                    code="template_retired",
                    message="a retired template cannot be used",
                    facts={"template_key": template.key},
                )
            ],
        )
    resolved, ref = resolve(template)
    at = cmd.at
    assert at is not None
    content = cmd.content
    if not content.description.strip() or not content.area.strip():
        raise ValidationFailed("a draft needs a description and an area", rule_ids=("LIFE-04",))
    drafted = draft_event(cmd, project, ref, resolved, content)
    state = PermitState(
        permit_id=cmd.permit_id,
        project_id=project.project_id,
        organisation_id=project.organisation_id,
        number="",
        template=ref,
        category=resolved.category,
        inherent_risk_level=resolved.inherent_risk_level,
        content=content,
        requestor=actor.person_id,
        origin=cmd.origin,
        client_ref=cmd.client_ref,
        created_at=at,
        version=0,
        valid_until=content.planned_end,
    )
    ctx = PermitContext(
        state=state,
        template=resolved,
        template_retired=False,
        policy=policy,
        project=now_context,
        now=at,
        actor=actor,
    )
    findings = window_findings(ctx, at_creation=True)
    if findings:
        raise GuardFailed("the planned window is not acceptable", blockers=findings)
    allocation = project.next_number(at)
    allocation = msgspec.structs.replace(allocation, permit_id=cmd.permit_id)
    return allocation, msgspec.structs.replace(drafted, number=allocation.number)


def draft_event(
    cmd: c.CreatePermit,
    project: ProjectState,
    ref: TemplateRef,
    resolved: ResolvedTemplate,
    content: PermitContent,
) -> pev.PermitDrafted:
    return pev.PermitDrafted(
        permit_id=cmd.permit_id,
        project_id=project.project_id,
        organisation_id=project.organisation_id,
        number="",
        template=ref,
        category=resolved.category.value,
        inherent_risk_level=resolved.inherent_risk_level,
        content=content,
        requestor=cmd.actor.person_id,
        origin=cmd.origin,
        client_ref=cmd.client_ref,
    )


def rebase(ctx: PermitContext, ref: TemplateRef, resolved: ResolvedTemplate) -> list[pev.PermitEvent]:
    """TPL-02: in draft or rejected the requestor may move to the latest template version (a core change)."""
    state = ctx.state
    if ref.version == state.template.version and ref.override_version == state.template.override_version:
        return []
    return [
        pev.PermitTemplateRebased(
            previous=state.template, template=ref, inherent_risk_level=resolved.inherent_risk_level
        )
    ]


def grant_delegation(
    cmd: c.GrantDelegation, existing: DelegationState | None, policy: RolePolicy
) -> list[dev.DelegationGranted]:
    """DEL-01/04: own task, to another member with the same role; no self-delegation; a bounded window."""
    actor = cmd.actor
    try:
        role = Role(cmd.role)
    except ValueError as exc:
        raise ValidationFailed(f"unknown role {cmd.role!r}", rule_ids=("DEL-01",)) from exc
    if role not in (Role.VERIFIER, Role.APPROVER, Role.AREA_AUTHORITY):
        raise ValidationFailed(
            "only verifier, approver and area authority tasks are delegated", rule_ids=("DEL-01",)
        )
    if role not in actor.member.roles:
        raise Forbidden("you can only delegate a role you hold", rule_ids=("DEL-01",))
    if existing is not None:
        raise InvalidTransition("the delegation already exists", rule_ids=("DEL-04",))
    if cmd.delegate.person_id == actor.person_id:
        raise ValidationFailed("no self-delegation", rule_ids=("DEL-04",))
    if role not in cmd.delegate.roles:
        raise GuardFailed(
            "the delegate must hold the same role",
            blockers=[
                Finding(rule="DEL-01", code="role_missing", message=f"the delegate does not hold {role}")
            ],
        )
    assert cmd.at is not None
    if cmd.valid_until <= cmd.at or (cmd.valid_from is not None and cmd.valid_from >= cmd.valid_until):
        raise ValidationFailed("the delegation window is empty or over", rule_ids=("DEL-04",))
    step = {Role.VERIFIER: Step.VERIFY, Role.APPROVER: Step.APPROVE, Role.AREA_AUTHORITY: Step.CLOSE}[role]
    lowest = min(policy.steps[step].min_level.values())
    if cmd.delegate.authority_level < lowest:
        raise GuardFailed(
            "the delegate does not meet the role policy",
            blockers=step_eligibility(
                cmd.delegate,
                step,
                min(policy.steps[step].min_level, key=lambda r: policy.steps[step].min_level[r]),
                policy,
                who="the delegate",
            ),
        )
    return [
        dev.DelegationGranted(
            delegation_id=cmd.delegation_id,
            project_id=cmd.project_id,
            delegator=actor.person_id,
            delegate=cmd.delegate,
            role=role.value,
            permit_id=cmd.permit_id,
            valid_from=cmd.valid_from,
            valid_until=cmd.valid_until,
        )
    ]


def revoke_delegation(
    cmd: c.RevokeDelegation, existing: DelegationState | None
) -> list[dev.DelegationRevoked]:
    if existing is None:
        raise NotFound("no such delegation", facts={"field": "delegation_id"})
    actor = cmd.actor
    if actor.person_id != existing.grant.delegator and Role.PROJECT_ADMIN not in actor.member.roles:
        raise Forbidden("only the delegator or a project admin revokes a delegation", rule_ids=("DEL-04",))
    if existing.revoked:
        return []
    return [
        dev.DelegationRevoked(delegation_id=cmd.delegation_id, revoked_by=actor.person_id, reason=cmd.reason)
    ]
