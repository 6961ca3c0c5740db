"""Deciding extensions (EXT-01..08): requests and decisions append; the history of ends stays visible."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from ptw_domain import commands as c
from ptw_domain.errors import NotFound, ValidationFailed
from ptw_domain.events import permit as ev
from ptw_domain.findings import Finding
from ptw_domain.permit.authority import check_status, refuse_integration_signing, require_party, require_role
from ptw_domain.permit.content import WorkNature
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.signing import sign_act
from ptw_domain.permit.state import ExtensionState
from ptw_domain.roles import Role, Step, step_eligibility
from ptw_domain.signatures import SigningPoint
from ptw_domain.simops.guards import open_conflicts

Events = list[ev.PermitEvent]


def shift_of(instant: datetime, time_zone: str, boundaries: tuple[str, str]) -> WorkNature:
    """EXT-07: day between the two shift boundaries in project time, night otherwise."""
    local = instant.astimezone(ZoneInfo(time_zone)).time()
    day_start, night_start = (time.fromisoformat(b) for b in boundaries)
    return WorkNature.DAY if day_start <= local < night_start else WorkNature.NIGHT


def request(cmd: c.RequestExtension, ctx: PermitContext) -> Events:
    """EXT-01..04, EXT-07: the PA (the requestor before activation) asks for a later end, with a reason."""
    check_status(ctx, cmd.name)
    state, template, now = ctx.state, ctx.template, ctx.now
    party = state.requestor if state.activated_at is None else state.performing_authority
    require_party(ctx, cmd.name, party, "the performing authority")
    if not cmd.reason.strip():
        raise ValidationFailed("an extension needs a reason", rule_ids=("EXT-01",), facts={"field": "reason"})
    if cmd.requested_end.second or cmd.requested_end.microsecond:
        raise ValidationFailed(
            "the requested end is given to the minute",
            rule_ids=("EXT-06",),
            facts={"requested_end": cmd.requested_end.isoformat()},
        )
    findings: list[Finding] = []
    if now >= state.valid_until:
        findings.append(
            Finding(
                rule="EXT-01",
                code="validity_ended",
                message="the permit's validity has ended",
                facts={"valid_until": state.valid_until.isoformat()},
            )
        )
    if state.pending_extension is not None:
        findings.append(
            Finding(
                rule="EXT-04",
                code="extension_pending",
                message="an extension is already pending",
                facts={"extension_id": str(state.pending_extension.extension_id)},
            )
        )
    if state.counted_extensions() >= template.max_extensions:
        findings.append(
            Finding(
                rule="EXT-02",
                code="extensions_exhausted",
                message=f"at most {template.max_extensions} extensions",
                facts={"used": state.counted_extensions(), "max": template.max_extensions},
            )
        )
    if cmd.requested_end <= state.valid_until:
        findings.append(
            Finding(
                rule="EXT-03",
                code="not_later",
                message="the requested end is not later",
                facts={"valid_until": state.valid_until.isoformat()},
            )
        )
    elif cmd.requested_end - state.valid_until > timedelta(hours=template.validity_hours):
        findings.append(
            Finding(
                rule="EXT-03",
                code="extension_too_long",
                message=f"one extension adds at most {template.validity_hours} h",
                facts={"validity_hours": template.validity_hours},
            )
        )
    total = cmd.requested_end - state.content.planned_start
    if total > timedelta(hours=template.max_total_validity_hours):
        findings.append(
            Finding(
                rule="EXT-03",
                code="total_validity_exceeded",
                message="beyond the total validity: raise a successor permit",
                facts={
                    "max_total_validity_hours": template.max_total_validity_hours,
                    "hint": "raise a successor permit",
                },
            )
        )
    if findings:
        raise ctx.refuse("extension request refused", findings)
    nature = state.content.work_nature
    shift = shift_of(cmd.requested_end, ctx.project.time_zone, ctx.project.settings.shift_boundaries)
    return [
        ev.ExtensionRequested(
            extension_id=cmd.extension_id,
            requested_by=ctx.person or "",
            current_end=state.valid_until,
            requested_end=cmd.requested_end,
            reason=cmd.reason.strip(),
            shift_change=nature is not WorkNature.BOTH and shift is not nature,
        )
    ]


def decide(cmd: c.DecideExtension, ctx: PermitContext) -> Events:
    """EXT-05..07: an eligible approver other than the requester decides before valid_until."""
    check_status(ctx, cmd.name)
    require_role(ctx, cmd.name, Role.APPROVER)
    refuse_integration_signing(ctx, cmd.name)
    state, now = ctx.state, ctx.now
    extension = next((e for e in state.extensions if e.extension_id == cmd.extension_id), None)
    if extension is None:
        raise NotFound("no such extension on this permit", facts={"field": "extension_id"})
    findings: list[Finding] = []
    if extension.state is not ExtensionState.PENDING:
        findings.append(
            Finding(
                rule="EXT-04",
                code="not_pending",
                message=f"the extension is {extension.state}",
                facts={"state": extension.state},
            )
        )
    findings += step_eligibility(ctx.actor_member, Step.APPROVE, state.effective_risk_level, ctx.policy)
    findings += [
        Finding(
            rule="SOD-05", code="same_person", message="the requester cannot decide", facts={"person_id": p}
        )
        for p in ctx.persons
        if p == extension.requested_by
    ]
    if now >= state.valid_until:
        findings.append(
            Finding(
                rule="EXT-05",
                code="validity_ended",
                message="decide before valid_until",
                facts={"valid_until": state.valid_until.isoformat()},
            )
        )
    if cmd.approve and extension.shift_change and not cmd.reassessment_confirmed:
        findings.append(
            Finding(
                rule="EXT-07",
                code="reassessment_required",
                message="the new end falls in another shift: confirm the reassessment",
            )
        )
    if cmd.approve:  # SIM-06: not while a high conflict, based on the requested window, is open
        findings += [
            Finding(
                rule="SIM-06",
                code="simops_conflict",
                message=f"an open high SIMOPS conflict ({f.rule}) involves this permit's requested window",
                facts={"conflict_id": str(cid), "rule": f.rule},
            )
            for cid, f in open_conflicts(ctx)
            if f.severity == "high"
        ]
    if findings:
        raise ctx.refuse("extension decision refused", findings)
    signature = sign_act(
        ctx, cmd.signature, point=SigningPoint.EXTENSION, intent=cmd.name, role=Role.APPROVER
    )
    if cmd.approve:
        return [
            ev.ExtensionApproved(
                extension_id=extension.extension_id,
                old_valid_until=state.valid_until,
                new_valid_until=extension.requested_end,
                decided_by=ctx.person or "",
                on_behalf_of=ctx.on_behalf_of,
                signature=signature,
                reassessment_confirmed=cmd.reassessment_confirmed,
                policy_version=ctx.policy.version,
            )
        ]
    if not cmd.reason.strip():
        raise ValidationFailed("a rejection needs a reason", rule_ids=("EXT-05",), facts={"field": "reason"})
    return [
        ev.ExtensionRejected(
            extension_id=extension.extension_id,
            decided_by=ctx.person or "",
            on_behalf_of=ctx.on_behalf_of,
            reason=cmd.reason.strip(),
            signature=signature,
        )
    ]
