"""The lifecycle guards of the readiness table (RDY-03). Safety guards register beside these."""

from __future__ import annotations

from datetime import timedelta

from ptw_domain.findings import Finding, found
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.expiry import expiry_due
from ptw_domain.permit.readiness import FROM_STATUSES, Action, guard, warning
from ptw_domain.permit.state import PermitState
from ptw_domain.permit.status import Status
from ptw_domain.roles import Role, Step, step_eligibility

A = Action


def _status(action: Action) -> list[tuple[Action, str]]:
    return [(action, "LIFE-02")]


def _check_status(action: Action) -> None:
    @guard(*_status(action))
    def check(ctx: PermitContext) -> list[Finding]:
        allowed = FROM_STATUSES[action]
        if ctx.state.status in allowed:
            return []
        return found(
            "LIFE-02",
            "invalid_status",
            f"{action} needs status {' or '.join(sorted(allowed))}; the permit is {ctx.state.status}",
            {"status": ctx.state.status, "allowed_from": sorted(allowed)},
        )


for _action in Action:
    _check_status(_action)


@guard((A.SUBMIT, "LIFE-07"))
def content_complete(ctx: PermitContext) -> list[Finding]:
    """LIFE-07: description, area, at least one hazard and one control."""
    content = ctx.state.content
    missing = [
        name
        for name, present in (
            ("description", bool(content.description.strip())),
            ("area", bool(content.area.strip())),
            ("hazards", bool(content.hazards)),
            ("controls", bool(content.controls)),
        )
        if not present
    ]
    if not missing:
        return []
    return found(
        "LIFE-07", "content_incomplete", f"submission needs {', '.join(missing)}", {"missing": missing}
    )


def window_findings(ctx: PermitContext, *, at_creation: bool = False) -> list[Finding]:
    """LIFE-06: end > start, duration within validity, start within the planning horizon, end in the future."""
    content, template, settings = ctx.state.content, ctx.template, ctx.project.settings
    start, end, now = content.planned_start, content.planned_end, ctx.now
    facts = {"planned_start": start.isoformat(), "planned_end": end.isoformat(), "now": now.isoformat()}
    out: list[Finding] = []
    if end <= start:
        out.append(
            Finding(
                rule="LIFE-06", code="window_inverted", message="planned end is not after start", facts=facts
            )
        )
    elif end - start > timedelta(hours=template.validity_hours):
        hours = (end - start).total_seconds() / 3600
        out.append(
            Finding(
                rule="LIFE-06",
                code="window_too_long",
                message=f"planned window of {hours:g} h exceeds {template.validity_hours} h",
                facts={**facts, "hours": hours, "validity_hours": template.validity_hours},
            )
        )
    if start > now + timedelta(days=settings.planning_horizon_days):
        out.append(
            Finding(
                rule="LIFE-06",
                code="start_beyond_horizon",
                message=f"planned start is more than {settings.planning_horizon_days} days ahead",
                facts={**facts, "planning_horizon_days": settings.planning_horizon_days},
            )
        )
    if not at_creation and end <= now:
        out.append(
            Finding(rule="LIFE-06", code="window_ended", message="the planned window has ended", facts=facts)
        )
    return out


@guard((A.SUBMIT, "LIFE-06"), (A.VERIFY, "LIFE-06"), (A.APPROVE, "LIFE-06"))
def planned_window(ctx: PermitContext) -> list[Finding]:
    return window_findings(ctx)


@guard((A.SUBMIT, "TPL-01"))
def template_usable(ctx: PermitContext) -> list[Finding]:
    if not ctx.template_retired:
        return []
    return found(
        "TPL-01",
        "template_retired",
        "the permit's template is retired",
        {"template_key": ctx.state.template.key},
    )


@guard((A.SUBMIT, "LIFE-08"))
def verifier_nominated(ctx: PermitContext) -> list[Finding]:
    if ctx.state.verifier is not None:
        return []
    return [Finding(rule="LIFE-08", code="verifier_not_nominated", message="no verifier is nominated")]


@guard((A.SUBMIT, "ROLE-04"))
def nominee_eligible(ctx: PermitContext) -> list[Finding]:
    verifier = ctx.state.verifier
    if verifier is None:
        return []
    return step_eligibility(
        verifier, Step.VERIFY, ctx.state.effective_risk_level, ctx.policy, who="the nominated verifier"
    )


@guard((A.SUBMIT, "SOD-01"))
def verifier_not_requestor(ctx: PermitContext) -> list[Finding]:
    verifier = ctx.state.verifier
    if verifier is None or verifier.person_id != ctx.state.requestor:
        return []
    return found(
        "SOD-01", "same_person", "the verifier cannot be the requestor", {"person_id": verifier.person_id}
    )


@guard((A.SUBMIT, "SEC-05"), (A.COMPLETE, "SEC-05"))
def acting_party(ctx: PermitContext) -> list[Finding]:
    """SEC-05: submit is the requestor's; hand-back the PA's (for an expired permit also an issuer's)."""
    state, person = ctx.state, ctx.task_owner
    if ctx.state.status is Status.EXPIRED and ctx.actor is not None and ctx.actor.has(Role.APPROVER):
        return []
    party = state.requestor if state.status in (Status.DRAFT, Status.REJECTED) else state.performing_authority
    if person == party:
        return []
    return found(
        "SEC-05",
        "not_the_party",
        "only the permit's own party may do this",
        {"party": party, "actor": person},
    )


@guard((A.VERIFY, "LIFE-09"))
def acting_verifier(ctx: PermitContext) -> list[Finding]:
    """LIFE-09: a verifier must be nominated; acting, it must be the nominee or their delegate."""
    verifier = ctx.state.verifier
    if verifier is None:
        return [Finding(rule="LIFE-09", code="verifier_not_nominated", message="no verifier is nominated")]
    if ctx.actor is None or ctx.task_owner == verifier.person_id:
        return []
    return found(
        "LIFE-09",
        "not_the_nominee",
        "only the nominated verifier may verify",
        {"nominee": verifier.person_id, "actor": ctx.task_owner},
    )


def _actor_step(ctx: PermitContext, step: Step) -> list[Finding]:
    assert ctx.actor is not None
    return step_eligibility(ctx.actor.member, step, ctx.state.effective_risk_level, ctx.policy)


@guard((A.VERIFY, "ROLE-04"))
def verifier_eligible(ctx: PermitContext) -> list[Finding]:
    return _actor_step(ctx, Step.VERIFY)


@guard((A.APPROVE, "ROLE-04"), (A.ACTIVATE, "ROLE-04"), (A.RESUME, "ROLE-04"))
def issuer_eligible(ctx: PermitContext) -> list[Finding]:
    return _actor_step(ctx, Step.APPROVE)


@guard((A.CLOSE, "ROLE-04"))
def closer_eligible(ctx: PermitContext) -> list[Finding]:
    return _actor_step(ctx, Step.CLOSE)


def _distinct(rule: str, person: str, others: dict[str, str | None], act: str) -> list[Finding]:
    return [
        Finding(
            rule=rule,
            code="same_person",
            message=f"the {role} cannot {act}",
            facts={"person_id": person, "conflicting_role": role},
        )
        for role, other in others.items()
        if other is not None and other == person
    ]


def verify_barred(state: PermitState) -> dict[str, str | None]:
    """SOD-01: the persons who may not verify the permit, by the party they are."""
    return {"requestor": state.requestor}


def approve_barred(state: PermitState) -> dict[str, str | None]:
    """SOD-01: the persons who may not approve the permit in its current cycle, by the party they are."""
    return {
        "requestor": state.requestor,
        "verifier": state.verified_by,
        "verifier (delegator)": state.verified_on_behalf_of,
    }


def close_barred(state: PermitState) -> dict[str, str | None]:
    """SOD-04: the persons who may not close the permit, by the party they were at hand-back."""
    hand_back = state.hand_back
    if hand_back is None:
        return {}
    return {
        "person who handed back": hand_back.handed_back_by,
        "performing authority at hand-back": hand_back.performing_authority,
    }


@guard((A.VERIFY, "SOD-01"))
def verifier_distinct(ctx: PermitContext) -> list[Finding]:
    assert ctx.person is not None
    return _distinct("SOD-01", ctx.person, verify_barred(ctx.state), "verify")


@guard((A.APPROVE, "SOD-01"))
def approver_distinct(ctx: PermitContext) -> list[Finding]:
    assert ctx.person is not None
    return _distinct("SOD-01", ctx.person, approve_barred(ctx.state), "approve")


@guard((A.VERIFY, "DEL-03"), (A.APPROVE, "DEL-03"))
def delegator_distinct(ctx: PermitContext) -> list[Finding]:
    """DEL-03: under delegation the delegator must not breach SOD either."""
    if ctx.acting_for is None:
        return []
    state = ctx.state
    others: dict[str, str | None] = {"requestor": state.requestor}
    if state.status is Status.UNDER_REVIEW:
        others["verifier"] = state.verified_by
        others["verifier (delegator)"] = state.verified_on_behalf_of
    return [
        Finding(rule="DEL-03", code=f.code, message=f"the delegator: {f.message}", facts=f.facts)
        for f in _distinct("DEL-03", ctx.acting_for.delegator, others, "act")
    ]


@guard((A.ACTIVATE, "LIFE-23"), (A.RESUME, "LIFE-23"))
def not_expired(ctx: PermitContext) -> list[Finding]:
    due = expiry_due(ctx.state, ctx.template)
    if due is None or ctx.now < due[0]:
        return []
    return found(
        "LIFE-23",
        "expired",
        f"the permit expired at {due[0].isoformat()}",
        {"expired_at": due[0].isoformat(), "reason": due[1]},
    )


@guard((A.ACTIVATE, "LIFE-17"))
def activation_window(ctx: PermitContext) -> list[Finding]:
    """LIFE-17: now in [start - early activation, min(start + start window, valid_until))."""
    state, template, now = ctx.state, ctx.template, ctx.now
    opens = state.content.planned_start - timedelta(minutes=template.early_activation_minutes)
    closes = state.valid_until
    if template.start_window_hours is not None:
        closes = min(closes, state.content.planned_start + timedelta(hours=template.start_window_hours))
    if opens <= now < closes:
        return []
    return found(
        "LIFE-17",
        "outside_activation_window",
        f"activation is possible from {opens.isoformat()} until {closes.isoformat()}",
        {"opens_at": opens.isoformat(), "closes_at": closes.isoformat(), "now": now.isoformat()},
    )


@guard((A.ACTIVATE, "SOD-02"), (A.RESUME, "SOD-02"))
def issuer_distinct(ctx: PermitContext) -> list[Finding]:
    """SOD-02: the issuer is neither the acceptor (PA) nor the requestor; SOD-09 may relax it at low risk."""
    if relaxes_self_issue(ctx):
        return []
    state = ctx.state
    return [
        f
        for person in ctx.persons
        for f in _distinct(
            "SOD-02",
            person,
            {"performing authority": state.performing_authority, "requestor": state.requestor},
            "issue",
        )
    ]


def relaxes_self_issue(ctx: PermitContext) -> bool:
    """SOD-09: the project allows self-issue for low effective risk only."""
    return ctx.project.settings.allow_self_issue_low_risk and ctx.state.effective_risk_level == "low"


def self_issue_relaxed(ctx: PermitContext) -> bool:
    """SOD-09: this act used the relaxation (flagged on the event, listed in the compliance exceptions)."""
    state = ctx.state
    return relaxes_self_issue(ctx) and ctx.person in (state.performing_authority, state.requestor)


@guard((A.CLOSE, "SOD-04"))
def closer_distinct(ctx: PermitContext) -> list[Finding]:
    barred = close_barred(ctx.state)
    return [f for person in ctx.persons for f in _distinct("SOD-04", person, barred, "close")]


@guard((A.APPROVE, "TPL-08"))
def mandatory_ppe(ctx: PermitContext) -> list[Finding]:
    """TPL-08: every mandatory PPE item appears, compared trimmed and case-insensitively."""
    have = {p.strip().casefold() for p in ctx.state.content.ppe}
    missing = [p for p in ctx.template.mandatory_ppe if p.strip().casefold() not in have]
    if not missing:
        return []
    return found(
        "TPL-08", "ppe_missing", f"mandatory PPE missing: {', '.join(missing)}", {"missing": missing}
    )


@guard((A.APPROVE, "TPL-09"))
def safety_checklist(ctx: PermitContext) -> list[Finding]:
    """TPL-09: every required item of the resolved safety checklist is answered true."""
    answers = ctx.state.content.checklist_answers
    missing = [i.key for i in ctx.template.safety_checklist if i.required and answers.get(i.key) is not True]
    if not missing:
        return []
    return found(
        "TPL-09",
        "checklist_incomplete",
        f"safety checklist items not confirmed: {', '.join(missing)}",
        {"missing": missing},
    )


@guard((A.CLOSE, "CLO-07"))
def fire_watch_completed(ctx: PermitContext) -> list[Finding]:
    """CLO-07: a fire watch that was started has been completed by the fire watch (CLO-03)."""
    state = ctx.state
    if state.fire_watch_started_at is None or state.people.fire_watch_completed_at is not None:
        return []
    facts: dict[str, object] = {"started_at": state.fire_watch_started_at.isoformat()}
    if state.fire_watch_minutes is not None:
        ends = state.fire_watch_started_at + timedelta(minutes=state.fire_watch_minutes)
        facts |= {
            "ends_at": ends.isoformat(),
            "minutes_left": max(0.0, round((ends - ctx.now).total_seconds() / 60, 1)),
        }
    return found("CLO-07", "fire_watch_not_completed", "the fire watch has not been completed", facts)


@warning
def validity_ending(ctx: PermitContext) -> list[Finding]:
    """RDY-08: validity ending within 2 h."""
    state = ctx.state
    if state.status not in (Status.APPROVED, Status.ACTIVE, Status.SUSPENDED):
        return []
    left = state.valid_until - ctx.now
    if timedelta(0) < left <= timedelta(hours=2):
        return [
            Finding(
                rule="RDY-08",
                code="validity_ending",
                message=f"validity ends at {state.valid_until.isoformat()}",
                facts={
                    "valid_until": state.valid_until.isoformat(),
                    "minutes_left": round(left.total_seconds() / 60),
                },
            )
        ]
    return []


@warning
def extension_pending(ctx: PermitContext) -> list[Finding]:
    pending = ctx.state.pending_extension
    if pending is None:
        return []
    return [
        Finding(
            rule="RDY-08",
            code="extension_pending",
            message="an extension request awaits a decision",
            facts={
                "extension_id": str(pending.extension_id),
                "requested_end": pending.requested_end.isoformat(),
            },
        )
    ]
