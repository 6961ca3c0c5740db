"""Deciding handovers (HOV-02, HOV-04, SOD-07, LOCK-03): the outgoing holder records, the incoming person
acknowledges; each signs the act (SIG-01). An acknowledged `isolating` handover moves the outgoing person's
isolation locks on the permit's linked isolations to the incoming person, on those isolations' streams in the same
transaction.

A handover is for one shift boundary: the one whose window (from `handover_window_minutes` before it to
`handover_grace_minutes` after it) holds the recording time. A performing handover recorded after that grace, while
a missed handover is still uncleared, is for the latest missed boundary: it cannot satisfy the boundary any more
(HOV-03 is recorded), but its acknowledgement clears the miss (HOV-04), so the permit can resume.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec.structs import replace

from ptw_domain.commands import PermitCommand
from ptw_domain.errors import Forbidden, NotFound, ValidationFailed
from ptw_domain.events import handover as ev
from ptw_domain.events import isolation as iev
from ptw_domain.events.permit import PermitEvent
from ptw_domain.findings import Finding
from ptw_domain.handover import commands as hc
from ptw_domain.handover.shifts import boundary_at, missed_boundaries
from ptw_domain.isolation.decide import isolations_in_place
from ptw_domain.isolation.state import IsolationState
from ptw_domain.people.facts import ISOLATING_ROLE, ISSUER_ROLE, PA_ROLE, PartyFacts, person_facts
from ptw_domain.people.guards import party_finding
from ptw_domain.permit.authority import check_status, refuse_integration_signing, require_party, require_role
from ptw_domain.permit.context import Decision, PermitContext
from ptw_domain.permit.guards import relaxes_self_issue
from ptw_domain.permit.signing import sign_act
from ptw_domain.roles import Member, Role, Step, step_eligibility
from ptw_domain.signatures import SigningPoint
from ptw_domain.simops.guards import open_conflicts

R = ev.HandoverRole
Events = list[PermitEvent]
# SIG-01/SIG-09: the role both signers sign a handover in, by what is handed over.
SIGNING_ROLE = {R.PERFORMING: Role.REQUESTOR, R.ISSUING: Role.APPROVER, R.ISOLATING: Role.ISOLATING_AUTHORITY}
# COMP-03: the template key naming the codes the holder of each role handed over needs.
COMPETENCY_KEY = {R.PERFORMING: PA_ROLE, R.ISSUING: ISSUER_ROLE, R.ISOLATING: ISOLATING_ROLE}


def incoming_person(command: PermitCommand) -> str | None:
    """WRK-01: whose linked worker record a handover decision reads (HOV-04): the person nominated when it is
    recorded, the actor when it is acknowledged."""
    if isinstance(command, hc.RecordHandover):
        return command.incoming.person_id
    if isinstance(command, hc.AcknowledgeHandover):
        return command.actor.person_id
    return None


def holder_competency(ctx: PermitContext, role: R, person: str) -> PartyFacts:
    """HOV-04, SIG-09, COMP-02: how the incoming person stands now (the signing time) against the codes the
    template requires for the role handed over."""
    return person_facts(ctx, COMPETENCY_KEY[role], person)


def holder_findings(ctx: PermitContext, role: R, member: Member, who: str) -> list[Finding]:
    """HOV-04: the incoming person holds the role handed over, at the level ROLE-04 asks, with its competencies
    (none unless the template lists some), and does not end up on both sides of issue and acceptance (SOD-02,
    unless SOD-09 relaxes it)."""
    state, risk = ctx.state, ctx.state.effective_risk_level
    person = member.person_id
    if role is R.PERFORMING:
        findings = step_eligibility(member, Step.REQUEST, risk, ctx.policy, who=who)
        clash = {"issuer of record": state.issuer_of_record}
    elif role is R.ISSUING:
        findings = step_eligibility(member, Step.APPROVE, risk, ctx.policy, who=who)
        clash = {"performing authority": state.performing_authority, "requestor": state.requestor}
    else:
        findings = []
        if Role.ISOLATING_AUTHORITY not in member.roles:
            findings.append(
                Finding(
                    rule="HOV-04",
                    code="role_missing",
                    message=f"{who} is not an isolating authority",
                    facts={"person_id": person, "needs": Role.ISOLATING_AUTHORITY},
                )
            )
        clash = {}
    standing = holder_competency(ctx, role, person)
    if standing.missing:
        findings.append(party_finding(ctx, standing, "HOV-04", incoming=True))
    if relaxes_self_issue(ctx):
        clash = {}
    findings += [
        Finding(
            rule="SOD-02",
            code="same_person",
            message=f"{who} is the permit's {name}",
            facts={"person_id": person, "conflicting_role": name},
        )
        for name, other in clash.items()
        if other == person
    ]
    return findings


def owned_isolations(ctx: PermitContext, person: str) -> list[IsolationState]:
    """LOCK-03: the permit's isolations in place whose locks `person` owns."""
    return [iso for iso in isolations_in_place(ctx) if iso.owner == person]


def _outgoing(ctx: PermitContext, cmd: hc.RecordHandover) -> None:
    """HOV-02: the holder hands over: the PA their performing role, the issuer of record the issuing role, the
    owner of isolation locks on the permit's isolations those locks (LOCK-03). SIG-09: the signer holds the role
    they sign in."""
    state = ctx.state
    require_role(ctx, cmd.name, SIGNING_ROLE[cmd.role])
    if cmd.role is R.PERFORMING:
        require_party(ctx, cmd.name, state.performing_authority, "the performing authority")
    elif cmd.role is R.ISSUING:
        require_party(ctx, cmd.name, state.issuer_of_record, "the issuer of record")
    elif not owned_isolations(ctx, ctx.person or ""):
        raise Forbidden(
            "an isolating handover is recorded by the owner of isolation locks on the permit's isolations",
            rule_ids=("HOV-02", "LOCK-03"),
        )


def _boundary(ctx: PermitContext, role: R) -> tuple[datetime, bool]:
    """The boundary this handover is for, and whether it is late (after the grace of a missed boundary)."""
    boundary = boundary_at(ctx, ctx.now)
    if boundary is not None:
        return boundary, False
    uncleared = [b for b in missed_boundaries(ctx) if not ctx.state.handover.cleared(b)]
    if role is R.PERFORMING and uncleared:
        return uncleared[-1], True
    settings = ctx.project.settings
    raise ctx.refuse(
        "no handover is due now",
        [
            Finding(
                rule="HOV-02",
                code="outside_handover_window",
                message=f"a handover is recorded from {settings.handover_window_minutes} min before a shift "
                f"boundary to {settings.handover_grace_minutes} min after it",
                facts={"now": ctx.now.isoformat(), "shift_boundaries": list(settings.shift_boundaries)},
            )
        ],
    )


def snapshot(ctx: PermitContext) -> ev.HandoverSnapshot:
    """HOV-02: what the state holds today, the permit's isolations and open SIMOPS conflicts included."""
    state = ctx.state
    pending = state.pending_extension
    latest = state.gas.latest()
    gas = None
    if latest is not None and latest.completed_at is not None and latest.verdict is not None:
        gas = ev.GasSessionSummary(
            session_id=latest.session_id, completed_at=latest.completed_at, verdict=latest.verdict
        )
    return ev.HandoverSnapshot(
        status=state.status.value,
        performing_authority=state.performing_authority,
        issuer_of_record=state.issuer_of_record,
        valid_until=state.valid_until,
        people_inside=state.people.inside,
        suspension_reasons=tuple(s.reason_code for s in state.suspensions),
        pending_extension=pending.extension_id if pending else None,
        pending_extension_end=pending.requested_end if pending else None,
        last_gas_session=gas,
        isolations=tuple(
            ev.IsolationSummary(
                isolation_id=a.isolation_id,
                point_code=iso.point.point_code,
                status=iso.status.value,
                required=a.required,
                lock_ids=iso.lock_ids,
                achieved_category=iso.achieved_category,
            )
            for a in state.isolations.assignments
            if (iso := ctx.isolations.get(a.isolation_id)) is not None
        ),
        personal_locks=tuple(
            ev.LockSummary(lock_id=lock.lock_id, worker_id=lock.worker_id, applied_at=lock.applied_at)
            for lock in state.isolations.locks
        ),
        open_conflicts=tuple(
            ev.ConflictSummary(
                conflict_id=cid,
                rule=facts.rule,
                severity=facts.severity,
                other_permit=facts.older if facts.newer == state.permit_id else facts.newer,
            )
            for cid, facts in open_conflicts(ctx)
        ),
    )


def record(cmd: hc.RecordHandover, ctx: PermitContext) -> Events:
    """HOV-02, SOD-07: recorded while live, by the holder, for one boundary, to an eligible other person."""
    check_status(ctx, cmd.name)
    refuse_integration_signing(ctx, cmd.name)  # SIG-01: the outgoing person signs the handover
    _outgoing(ctx, cmd)
    if ctx.state.handover.handover(cmd.handover_id) is not None:
        raise ValidationFailed(
            "a handover with this id exists", rule_ids=("HOV-02",), facts={"field": "handover_id"}
        )
    boundary, late = _boundary(ctx, cmd.role)
    findings: list[Finding] = []
    if cmd.incoming.person_id in ctx.persons:
        findings.append(
            Finding(
                rule="SOD-07",
                code="same_person",
                message="the incoming person must differ from the outgoing person",
                facts={"person_id": cmd.incoming.person_id},
            )
        )
    if any(h.acknowledged for h in ctx.state.handover.for_boundary(boundary, cmd.role)):
        findings.append(
            Finding(
                rule="HOV-02",
                code="already_handed_over",
                message=f"the {cmd.role} handover for this boundary is already acknowledged",
                facts={"boundary": boundary.isoformat(), "role": cmd.role},
            )
        )
    findings += holder_findings(ctx, cmd.role, cmd.incoming, "the incoming person")
    if findings:
        raise ctx.refuse("the handover cannot be recorded", findings)
    signature = sign_act(
        ctx, cmd.signature, point=SigningPoint.HANDOVER, intent=cmd.name, role=SIGNING_ROLE[cmd.role]
    )
    return [
        ev.HandoverRecorded(
            handover_id=cmd.handover_id,
            boundary=boundary,
            role=cmd.role,
            outgoing=ctx.person or "",
            incoming=cmd.incoming,
            notes=cmd.notes.strip(),
            snapshot=snapshot(ctx),
            late=late,
            policy_version=ctx.policy.version,
            signature=signature,
        )
    ]


def acknowledge(cmd: hc.AcknowledgeHandover, ctx: PermitContext) -> Decision:
    """HOV-04: the incoming person, holding the role and level now (ROLE-06, ROLE-08, SIG-09), signs and takes
    over; an `isolating` handover moves the outgoing person's locks on the permit's isolations (LOCK-03)."""
    check_status(ctx, cmd.name)
    handover = ctx.state.handover.handover(cmd.handover_id)
    if handover is None:
        raise NotFound("no such handover on this permit", facts={"field": "handover_id"})
    if ctx.person != handover.incoming:
        raise Forbidden("a handover is acknowledged by the incoming person", rule_ids=("HOV-04", "SEC-05"))
    refuse_integration_signing(ctx, cmd.name)
    if handover.acknowledged:
        return Decision(permit=[])  # SIG-10: one signature per handover and signer
    role = R(handover.role)
    findings: list[Finding] = []
    if handover.superseded:
        findings.append(
            Finding(
                rule="HOV-02",
                code="superseded",
                message="a later handover for the same boundary replaced this one",
                facts={"boundary": handover.boundary.isoformat()},
            )
        )
    findings += holder_findings(ctx, role, ctx.actor_member, "the incoming person")
    if handover.outgoing == ctx.person:
        findings.append(
            Finding(rule="SOD-07", code="same_person", message="the incoming person is the outgoing person")
        )
    if findings:
        raise ctx.refuse("the handover cannot be acknowledged", findings)
    signature = sign_act(
        ctx, cmd.signature, point=SigningPoint.HANDOVER, intent=cmd.name, role=SIGNING_ROLE[role]
    )
    # COMP-02: the signature names the competency records the incoming person relied on
    relied = holder_competency(ctx, role, ctx.person or "").relied_on
    signature = replace(signature, competency_ids=tuple(str(r) for r in relied))
    acknowledged = ev.HandoverAcknowledged(
        handover_id=cmd.handover_id,
        by=ctx.person or "",
        policy_version=ctx.policy.version,
        signature=signature,
    )
    moved = owned_isolations(ctx, handover.outgoing) if role is R.ISOLATING else []
    return Decision(
        permit=[acknowledged],
        others=tuple(
            (
                iso.isolation_id,
                (
                    iev.IsolationLockOwnershipTransferred(
                        lock_ids=iso.lock_ids,
                        outgoing=handover.outgoing,
                        incoming=ctx.person or "",
                        permit_id=ctx.state.permit_id,
                        handover_id=handover.handover_id,
                    ),
                ),
            )
            for iso in moved
        ),
    )


HANDOVER_HANDLERS: dict[type[Any], Any] = {hc.RecordHandover: record, hc.AcknowledgeHandover: acknowledge}
