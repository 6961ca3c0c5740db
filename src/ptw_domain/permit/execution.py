"""Deciding execution: activate (issue + acceptance), suspend, resume, hand back, close (T14-T18)."""

from __future__ import annotations

from datetime import datetime, timedelta

from msgspec.structs import replace

from ptw_domain import commands as c
from ptw_domain.closeout.decide import pinned_checklist
from ptw_domain.errors import ValidationFailed
from ptw_domain.events import permit as ev
from ptw_domain.events.isolation import IsolationUnlinked
from ptw_domain.findings import Finding
from ptw_domain.people.facts import ISSUER_ROLE, PA_ROLE, party_facts
from ptw_domain.permit.authority import (
    STOP_WORK_ROLES,
    check_status,
    gate,
    require_party,
)
from ptw_domain.permit.context import Decision, PermitContext
from ptw_domain.permit.expiry import lapse_pending_extension
from ptw_domain.permit.guards import self_issue_relaxed
from ptw_domain.permit.readiness import Action
from ptw_domain.permit.signing import sign, sign_act
from ptw_domain.permit.site_presence import checked_presence
from ptw_domain.roles import Role, Step, step_eligibility
from ptw_domain.signatures import Signature, SigningPoint

Events = list[ev.PermitEvent]


def fact_time(
    ctx: PermitContext, value: datetime, field: str, *, not_before: datetime | None = None
) -> datetime:
    """TIME-02: a user-supplied fact time is not later than now + skew, nor before what it depends on."""
    skew = timedelta(minutes=ctx.project.settings.clock_skew_minutes)
    if value > ctx.now + skew:
        raise ValidationFailed(
            f"{field} is in the future",
            rule_ids=("TIME-02",),
            facts={"field": field, "value": value.isoformat(), "now": ctx.now.isoformat()},
        )
    if not_before is not None and value < not_before:
        raise ValidationFailed(
            f"{field} precedes the fact it depends on",
            rule_ids=("TIME-02",),
            facts={"field": field, "value": value.isoformat(), "not_before": not_before.isoformat()},
        )
    return value


def _issue_and_accept(cmd: c.ActivatePermit | c.ResumePermit, ctx: PermitContext) -> tuple[Signature, ...]:
    """SIG-01: the issuer (actor) and the acceptor (current PA) both sign the act."""
    state = ctx.state
    acceptor = cmd.acceptance.acceptor
    if acceptor.person_id != state.performing_authority:
        raise ctx.refuse(
            "the acceptor must be the permit's performing authority",
            [
                Finding(
                    rule="SEC-05",
                    code="not_the_party",
                    message="the acceptor is not the PA",
                    facts={
                        "acceptor": acceptor.person_id,
                        "performing_authority": state.performing_authority,
                    },
                )
            ],
        )
    findings = step_eligibility(
        acceptor, Step.REQUEST, state.effective_risk_level, ctx.policy, who="the acceptor"
    )
    if findings:
        raise ctx.refuse("the acceptor is not eligible", findings)
    issuer = sign_act(ctx, cmd.signature, point=SigningPoint.ISSUER, intent=cmd.name, role=Role.APPROVER)
    accepted = sign(
        ctx,
        point=SigningPoint.ACCEPTOR,
        signer=acceptor,
        given=cmd.acceptance.signature,
        intent=cmd.name,
        role=Role.REQUESTOR,
    )
    # COMP-02: each signature names the competency records its signer relied on at the act (COMP-04)
    relied = {p.role: tuple(str(r) for r in p.relied_on) for p in party_facts(ctx)}
    return (
        replace(issuer, competency_ids=relied.get(ISSUER_ROLE, ())),
        replace(accepted, competency_ids=relied.get(PA_ROLE, ())),
    )


def activate(cmd: c.ActivatePermit, ctx: PermitContext) -> Events:
    """T14/LIFE-16: issue and acceptance in one command; records valid_until and any SOD-09 relaxation."""
    gate(ctx, cmd.name, Action.ACTIVATE, Role.APPROVER)
    signatures = _issue_and_accept(cmd, ctx)
    presence = checked_presence(ctx, cmd.presence, cmd.acceptance.acceptor.person_id)
    state = ctx.state
    relaxed = self_issue_relaxed(ctx)
    return [
        ev.PermitActivated(
            issuer=ctx.person or "",
            acceptor=cmd.acceptance.acceptor.person_id,
            on_behalf_of=ctx.on_behalf_of,
            signatures=signatures,
            valid_until=state.valid_until,
            sod_relaxed=relaxed,
            policy_version=ctx.policy.version,
            presence=presence,
        )
    ]


def suspend(cmd: c.SuspendPermit, ctx: PermitContext) -> Events:
    """T15/LIFE-18: stop work with a reason code and text; isolations and conflicts stay."""
    check_status(ctx, cmd.name)
    state = ctx.state
    actor = ctx.actor
    assert actor is not None
    # SEC-04/SEC-05: a stop-work role, or a party of the permit: its requestor or PA, an assigned worker or its
    # fire watch
    on_permit = any(ctx.is_worker(worker_id) for worker_id in state.people.worker_ids())
    if not STOP_WORK_ROLES & actor.member.roles and not on_permit:
        require_party(
            ctx,
            cmd.name,
            state.performing_authority if ctx.task_owner != state.requestor else state.requestor,
            "a stop-work role or a party of the permit",
        )
    if not cmd.text.strip():
        raise ValidationFailed("a suspension needs a text", rule_ids=("LIFE-18",), facts={"field": "text"})
    return [ev.PermitSuspended(reason_code=cmd.reason_code, text=cmd.text.strip(), suspended_by=ctx.person)]


def resume(cmd: c.ResumePermit, ctx: PermitContext) -> Events:
    """T16/LIFE-19: revalidation; the issuer's signature attests manual and other causes are cleared."""
    gate(ctx, cmd.name, Action.RESUME, Role.APPROVER)
    signatures = _issue_and_accept(cmd, ctx)
    presence = checked_presence(ctx, cmd.presence, cmd.acceptance.acceptor.person_id)
    state = ctx.state
    cleared = tuple(dict.fromkeys(ev.SuspensionReason(s.reason_code) for s in state.suspensions))
    relaxed = self_issue_relaxed(ctx)
    return [
        ev.PermitResumed(
            issuer=ctx.person or "",
            acceptor=cmd.acceptance.acceptor.person_id,
            on_behalf_of=ctx.on_behalf_of,
            signatures=signatures,
            cleared_reasons=cleared,
            sod_relaxed=relaxed,
            policy_version=ctx.policy.version,
            presence=presence,
        )
    ]


def complete(cmd: c.CompletePermit, ctx: PermitContext) -> Events:
    """T17/LIFE-20: hand back with outcome and a site-safe statement; starts the fire watch for hot work."""
    gate(ctx, cmd.name, Action.COMPLETE, Role.REQUESTOR, Role.APPROVER)
    state, template = ctx.state, ctx.template
    if not cmd.site_safe:
        raise ValidationFailed(
            "hand-back needs the statement that the site is left safe",
            rule_ids=("LIFE-20",),
            facts={"field": "site_safe"},
        )
    ended: datetime | None = None
    if template.requires_fire_watch or state.category == "hot_work":
        ended = fact_time(
            ctx, cmd.hot_work_ended_at or ctx.now, "hot_work_ended_at", not_before=state.activated_at
        )
    role = Role.REQUESTOR if ctx.task_owner == state.performing_authority else Role.APPROVER
    signature = sign_act(ctx, cmd.signature, point=SigningPoint.HAND_BACK, intent=cmd.name, role=role)
    events: Events = [
        ev.PermitCompleted(
            outcome=cmd.outcome,
            site_safe=True,
            remaining_hazards=cmd.remaining_hazards,
            hot_work_ended_at=ended,
            handed_back_by=ctx.person or "",
            performing_authority=state.performing_authority,
            signature=signature,
        ),
        *pinned_checklist(ctx),  # CLO-04: the close-out checklist is pinned at hand-back (TPL-10)
    ]
    events += lapse_pending_extension(state, "permit_handed_back")
    if template.requires_fire_watch and ended is not None:
        events.append(ev.FireWatchStarted(started_at=ended, minutes=template.fire_watch_minutes))
    return events


def close(cmd: c.ClosePermit, ctx: PermitContext) -> Decision:
    """T18/LIFE-21: an issuer or area authority closes after a site inspection between hand-back and now."""
    gate(ctx, cmd.name, Action.CLOSE, Role.APPROVER, Role.AREA_AUTHORITY)
    state = ctx.state
    assert state.hand_back is not None
    inspected = fact_time(ctx, cmd.inspected_at, "inspected_at", not_before=state.hand_back.at)
    role = Role.APPROVER if ctx.actor_member.roles & {Role.APPROVER} else Role.AREA_AUTHORITY
    signature = sign_act(ctx, cmd.signature, point=SigningPoint.CLOSE, intent=cmd.name, role=role)
    closed = ev.PermitClosed(
        closed_by=ctx.person or "",
        on_behalf_of=ctx.on_behalf_of,
        inspected_at=inspected,
        signature=signature,
        policy_version=ctx.policy.version,
    )
    # CLO-05: an isolation left in place for another permit keeps that link only; this permit's is released.
    released = tuple(
        (iso.isolation_id, (IsolationUnlinked(permit_id=state.permit_id),))
        for iso in ctx.isolations.values()
        if iso.in_place and state.permit_id in iso.links and set(iso.links) - {state.permit_id}
    )
    return Decision(permit=[closed], others=released)
