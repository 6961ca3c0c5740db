"""Deciding the permit workflow: edit, amend, nominate, submit, withdraw, verify, reject, approve, send back,
resubmit, cancel (T02-T13, T19). Each handler is pure: (command, context) -> events, or a typed refusal."""

from __future__ import annotations

import msgspec

from ptw_domain import commands as c
from ptw_domain.errors import AlreadyApproved, InvalidTransition, ValidationFailed
from ptw_domain.events import permit as ev
from ptw_domain.findings import Finding, found
from ptw_domain.permit.authority import (
    allowed_commands,
    check_status,
    gate,
    require_party,
    require_role,
)
from ptw_domain.permit.content import CORE_FIELDS, PermitContent, diff_content
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.expiry import lapse_pending_extension
from ptw_domain.permit.readiness import Action
from ptw_domain.permit.signing import sign_act
from ptw_domain.permit.state import PermitState
from ptw_domain.permit.status import Status
from ptw_domain.roles import Member, Role, Step, step_eligibility
from ptw_domain.signatures import SigningPoint

Events = list[ev.PermitEvent]


def apply_changes(content: PermitContent, changes: c.PermitChanges) -> PermitContent:
    """Apply the given fields and re-validate the whole content (SEC-11 limits)."""
    merged = {**msgspec.to_builtins(content), **msgspec.to_builtins(changes.given())}
    try:
        return msgspec.convert(merged, PermitContent)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(str(exc), rule_ids=("SEC-12",)) from exc


def _invalidate(state: PermitState, reason: str, changed: tuple[str, ...] = ()) -> Events:
    """SIG-07/SIG-08: undo every valid signature of the current cycle."""
    ids = tuple(s.signature_id for s in state.valid_signatures())
    return [ev.SignaturesInvalidated(signature_ids=ids, reason=reason, changed_fields=changed)] if ids else []


def edit(cmd: c.EditPermit, ctx: PermitContext) -> Events:
    """LIFE-05: any field in draft/rejected; admin fields only later; nothing after hand-back."""
    check_status(ctx, cmd.name)
    state = ctx.state
    given = set(cmd.changes.given())
    core = sorted(given & CORE_FIELDS)
    if core and state.status not in (Status.DRAFT, Status.REJECTED):
        hint = (
            "amend the permit"
            if state.status in (Status.SUBMITTED, Status.UNDER_REVIEW, Status.APPROVED)
            else "hand back and raise a new permit"
        )
        raise InvalidTransition(
            f"core fields {', '.join(core)} cannot be edited while {state.status}: {hint}",
            rule_ids=("LIFE-05",),
            facts={"core_fields": core},
            current_status=state.status.value,
            current_version=state.version,
            allowed_commands=allowed_commands(state.status),
        )
    if ctx.task_owner != state.requestor:
        require_role(ctx, cmd.name, Role.PROJECT_ADMIN)
        if core:
            require_party(ctx, cmd.name, state.requestor, "the requestor")
    content = apply_changes(state.content, cmd.changes)
    changed = diff_content(state.content, content)
    return [ev.PermitEdited(changed=changed, content=content)] if changed else []


def amend(cmd: c.AmendPermit, ctx: PermitContext) -> Events:
    """T03/SIG-07: a core change after submission returns the permit to draft and undoes its signatures."""
    check_status(ctx, cmd.name)
    require_party(ctx, cmd.name, ctx.state.requestor, "the requestor")
    state = ctx.state
    content = apply_changes(state.content, cmd.changes)
    changed = diff_content(state.content, content)
    if not changed:
        raise ValidationFailed("an amendment must change at least one field", rule_ids=("LIFE-05",))
    return [
        ev.PermitAmended(changed=changed, content=content, previous_status=state.status.value),
        *_invalidate(state, "core_change", tuple(sorted(changed))),
        *lapse_pending_extension(state, "permit_amended"),
    ]


def nominate_verifier(cmd: c.NominateVerifier, ctx: PermitContext) -> Events:
    """LIFE-08: the requestor nominates an eligible verifier who is not the requestor (ROLE-04, SOD-01);
    a project admin may reassign the nomination directly (DEL-04)."""
    check_status(ctx, cmd.name)
    if not _is_admin(ctx):
        require_party(ctx, cmd.name, ctx.state.requestor, "the requestor or a project admin")
    state = ctx.state
    findings = step_eligibility(
        cmd.verifier, Step.VERIFY, state.effective_risk_level, ctx.policy, who="the nominee"
    )
    if cmd.verifier.person_id == state.requestor:
        findings.append(
            Finding(
                rule="SOD-01",
                code="same_person",
                message="the requestor cannot verify",
                facts={"person_id": cmd.verifier.person_id},
            )
        )
    if findings:
        raise ctx.refuse("the nominee cannot verify this permit", findings)
    previous = state.verifier.person_id if state.verifier else None
    return [ev.VerifierNominated(verifier=cmd.verifier, previous=previous, policy_version=ctx.policy.version)]


def _submit(cmd: c.SubmitPermit | c.ResubmitPermit, ctx: PermitContext, resubmission: bool) -> Events:
    gate(ctx, cmd.name, Action.SUBMIT, Role.REQUESTOR)
    state = ctx.state
    cycle = state.cycle + 1
    # The requestor signs the scope of the new cycle (SIG-06: the cycle is part of the core hash).
    next_cycle = msgspec.structs.replace(state, cycle=cycle)
    next_ctx = ctx.with_state(next_cycle)
    signature = sign_act(
        next_ctx,
        cmd.signature,
        point=SigningPoint.REQUESTOR,
        intent=cmd.name,
        role=Role.REQUESTOR,
        reviewed=state,
    )
    assert state.verifier is not None
    return [
        ev.PermitSubmitted(
            cycle=cycle, verifier=state.verifier.person_id, signature=signature, resubmission=resubmission
        )
    ]


def submit(cmd: c.SubmitPermit, ctx: PermitContext) -> Events:
    return _submit(cmd, ctx, resubmission=False)


def resubmit(cmd: c.ResubmitPermit, ctx: PermitContext) -> Events:
    """T13/LIFE-15: a new cycle with the submit guards; every signature is given again."""
    return _submit(cmd, ctx, resubmission=True)


def withdraw(cmd: c.WithdrawPermit, ctx: PermitContext) -> Events:
    """LIFE-14: the requestor takes the permit back to draft; the cycle ends."""
    check_status(ctx, cmd.name)
    require_party(ctx, cmd.name, ctx.state.requestor, "the requestor")
    state = ctx.state
    return [ev.PermitWithdrawn(cycle=state.cycle, reason=cmd.reason), *_invalidate(state, "withdrawn")]


def _approver_findings(
    ctx: PermitContext, approvers: tuple[Member, ...], verifiers: tuple[str | None, ...]
) -> list[Finding]:
    """LIFE-09: 1-5 eligible approvers, none of them the requestor or the verifier (ROLE-04, SOD-01)."""
    state = ctx.state
    if not 1 <= len(approvers) <= 5:
        return found(
            "LIFE-09", "approver_count", "nominate between 1 and 5 approvers", {"count": len(approvers)}
        )
    findings: list[Finding] = []
    for member in approvers:
        findings += step_eligibility(
            member, Step.APPROVE, state.effective_risk_level, ctx.policy, who=f"approver {member.person_id}"
        )
        if member.person_id in (state.requestor, *verifiers):
            findings.append(
                Finding(
                    rule="SOD-01",
                    code="same_person",
                    message=f"{member.person_id} is the requestor or verifier",
                    facts={"person_id": member.person_id},
                )
            )
    if len({m.person_id for m in approvers}) != len(approvers):
        findings.append(
            Finding(rule="LIFE-09", code="duplicate_approver", message="an approver is named twice")
        )
    return findings


def verify(cmd: c.VerifyPermit, ctx: PermitContext) -> Events:
    """T07/LIFE-09: the nominated verifier checks the permit, nominates approvers and signs."""
    gate(ctx, cmd.name, Action.VERIFY, Role.VERIFIER)
    state = ctx.state
    findings = _approver_findings(ctx, cmd.approvers, ctx.persons)
    if findings:
        raise ctx.refuse("approver nominations refused", findings)
    signature = sign_act(ctx, cmd.signature, point=SigningPoint.VERIFIER, intent=cmd.name, role=Role.VERIFIER)
    return [
        ev.PermitVerified(
            cycle=state.cycle,
            verifier=ctx.person or "",
            on_behalf_of=ctx.on_behalf_of,
            approvers=cmd.approvers,
            signature=signature,
            policy_version=ctx.policy.version,
        )
    ]


def nominate_approvers(cmd: c.NominateApprovers, ctx: PermitContext) -> Events:
    """LIFE-10: while under review the verifier who verified may replace the approver nominations."""
    check_status(ctx, cmd.name)
    state = ctx.state
    if not _is_admin(ctx):  # DEL-04: a project admin may reassign nominations directly
        require_party(
            ctx, cmd.name, state.verified_on_behalf_of or state.verified_by, "the verifier who verified"
        )
    findings = _approver_findings(ctx, cmd.approvers, (state.verified_by, state.verified_on_behalf_of))
    if findings:
        raise ctx.refuse("approver nominations refused", findings)
    kept = {m.person_id for m in cmd.approvers}
    withdrawn = tuple(m.person_id for m in state.approvers if m.person_id not in kept)
    return [
        ev.ApproversNominated(approvers=cmd.approvers, withdrawn=withdrawn, policy_version=ctx.policy.version)
    ]


def _is_admin(ctx: PermitContext) -> bool:
    return ctx.actor is not None and Role.PROJECT_ADMIN in ctx.actor.member.roles


def _is_nominated_approver(ctx: PermitContext) -> bool:
    return ctx.task_owner in {m.person_id for m in ctx.state.approvers}


def approve(cmd: c.ApprovePermit, ctx: PermitContext) -> Events:
    """T10/LIFE-11: the first valid approval wins; a later attempt is refused `already_approved`."""
    state = ctx.state
    if state.approved_at is not None and state.status in (
        Status.APPROVED,
        Status.ACTIVE,
        Status.SUSPENDED,
        Status.EXPIRED,
        Status.COMPLETED,
        Status.CLOSED,
    ):
        raise AlreadyApproved(
            "the permit is already approved in this cycle",
            rule_ids=("LIFE-11",),
            facts={
                "approver": state.approved_by,
                "on_behalf_of": state.approved_on_behalf_of,
                "approved_at": state.approved_at.isoformat(),
            },
            current_status=state.status.value,
            current_version=state.version,
        )
    gate(ctx, cmd.name, Action.APPROVE, Role.APPROVER)
    if not _is_nominated_approver(ctx):
        require_party(ctx, cmd.name, None, "a nominated approver or their delegate")
    signature = sign_act(ctx, cmd.signature, point=SigningPoint.APPROVER, intent=cmd.name, role=Role.APPROVER)
    return [
        ev.PermitApproved(
            cycle=state.cycle,
            approver=ctx.person or "",
            on_behalf_of=ctx.on_behalf_of,
            signature=signature,
            policy_version=ctx.policy.version,
        )
    ]


def _reason(text: str, rule: str) -> str:
    if not text.strip():
        raise ValidationFailed("a reason is required", rule_ids=(rule,), facts={"field": "reason"})
    return text.strip()


def reject(cmd: c.RejectPermit, ctx: PermitContext) -> Events:
    """T08/T11, LIFE-12: the verifier (submitted) or a nominated approver (under review) rejects with a reason."""
    check_status(ctx, cmd.name)
    state = ctx.state
    reason = _reason(cmd.reason, "LIFE-12")
    if state.status is Status.SUBMITTED:
        require_role(ctx, cmd.name, Role.VERIFIER)
        require_party(
            ctx, cmd.name, state.verifier.person_id if state.verifier else None, "the nominated verifier"
        )
        stage = ev.RejectionStage.VERIFICATION
    else:
        require_role(ctx, cmd.name, Role.APPROVER)
        if not _is_nominated_approver(ctx):
            require_party(ctx, cmd.name, None, "a nominated approver or their delegate")
        stage = ev.RejectionStage.APPROVAL
    return [
        ev.PermitRejected(cycle=state.cycle, stage=stage, reason=reason, rejected_by=ctx.person or ""),
        *_invalidate(state, "rejected"),
    ]


def send_back(cmd: c.SendBackPermit, ctx: PermitContext) -> Events:
    """T12/LIFE-13: an approver returns the permit to the verifier; the verifier's signature is undone."""
    check_status(ctx, cmd.name)
    require_role(ctx, cmd.name, Role.APPROVER)
    if not _is_nominated_approver(ctx):
        require_party(ctx, cmd.name, None, "a nominated approver or their delegate")
    state = ctx.state
    reason = _reason(cmd.reason, "LIFE-13")
    ids = tuple(s.signature_id for s in state.valid_signatures() if s.point is SigningPoint.VERIFIER)
    undone = [ev.SignaturesInvalidated(signature_ids=ids, reason="sent_back")] if ids else []
    return [ev.PermitSentBack(cycle=state.cycle, reason=reason, sent_back_by=ctx.person or ""), *undone]


def cancel(cmd: c.CancelPermit, ctx: PermitContext) -> Events:
    """T19/LIFE-22: abandon a permit before work started; a reason is required after submission."""
    check_status(ctx, cmd.name)
    state = ctx.state
    managers = {Role.APPROVER, Role.AREA_AUTHORITY, Role.PROJECT_ADMIN}
    is_manager = bool(ctx.actor and managers & ctx.actor.member.roles)
    if state.status is Status.EXPIRED and (state.ever_activated or not is_manager):
        raise InvalidTransition(
            "an expired permit that was activated is handed back, not cancelled"
            if state.ever_activated
            else "only an approver, area authority or project admin may cancel an expired permit",
            rule_ids=("LIFE-22",),
            current_status=state.status.value,
            current_version=state.version,
            allowed_commands=allowed_commands(state.status),
        )
    if not is_manager:
        require_party(ctx, cmd.name, state.requestor, "the requestor, an approver, area authority or admin")
    reason = cmd.reason.strip()
    if state.status is not Status.DRAFT:
        reason = _reason(cmd.reason, "LIFE-22")
    return [
        ev.PermitCancelled(reason=reason, previous_status=state.status.value, cancelled_by=ctx.person or ""),
        *lapse_pending_extension(state, "permit_cancelled"),
    ]
