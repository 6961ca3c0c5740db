"""Readiness guards of the people area (section 11): briefings, crew, competencies, confined space, fire watch."""

from __future__ import annotations

from datetime import timedelta

from ptw_domain.findings import Finding, found
from ptw_domain.people.decide import fire_watch_findings, role_findings
from ptw_domain.people.facts import (
    ISOLATING_ROLE,
    ISSUER_ROLE,
    PA_ROLE,
    PartyFacts,
    assigned_facts,
    party_facts,
)
from ptw_domain.people.state import PermitRole
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.readiness import Action, guard, warning

A = Action


def _unbriefed(ctx: PermitContext, held_after: object) -> list[str]:
    return [
        str(a.worker_id)
        for a in ctx.state.people.assignments
        if ctx.state.people.briefed_after(a.worker_id, held_after) is None  # type: ignore[arg-type]
    ]


@guard((A.ACTIVATE, "TBT-03"))
def briefed_for_activation(ctx: PermitContext) -> list[Finding]:
    """TBT-03: a briefing held within `tbt_max_age_hours` before activation, attended by every assigned worker."""
    if not ctx.template.requires_toolbox_talk:
        return []
    oldest = ctx.now - timedelta(hours=ctx.template.tbt_max_age_hours)
    recent = [b for b in ctx.state.people.briefings if oldest <= b.held_at <= ctx.now]
    if not recent:
        return found(
            "TBT-03",
            "no_recent_briefing",
            f"no briefing held in the last {ctx.template.tbt_max_age_hours} h",
            {"max_age_hours": ctx.template.tbt_max_age_hours},
        )
    missing = _unbriefed(ctx, oldest - timedelta(microseconds=1))
    if not missing:
        return []
    return found(
        "TBT-03",
        "workers_not_briefed",
        f"{len(missing)} assigned workers have not attended a recent briefing",
        {"workers": missing},
    )


@guard((A.RESUME, "TBT-05"))
def briefed_for_resume(ctx: PermitContext) -> list[Finding]:
    """TBT-05: after a suspension, a new briefing attended by every assigned worker."""
    if not ctx.template.rebrief_on_resume or not ctx.state.suspensions:
        return []
    suspended_at = max(s.at for s in ctx.state.suspensions)
    missing = _unbriefed(ctx, suspended_at)
    if not missing:
        return []
    return found(
        "TBT-05",
        "not_rebriefed",
        "assigned workers need a briefing after the suspension",
        {"suspended_at": suspended_at.isoformat(), "workers": missing},
    )


def counted_crew(ctx: PermitContext) -> list[str]:
    """WRK-04/COMP-05/TBT-04: crew members who are competent now and briefed since their assignment."""
    return [
        str(f.worker_id)
        for f in assigned_facts(ctx)
        if PermitRole.CREW.value in f.roles and not f.missing and f.briefed
    ]


@guard((A.ACTIVATE, "WRK-04"))
def crew_size(ctx: PermitContext) -> list[Finding]:
    counted = counted_crew(ctx)
    needed = ctx.template.min_personnel
    if len(counted) >= needed:
        return []
    return found(
        "WRK-04",
        "crew_too_small",
        f"{len(counted)} of {needed} crew members are competent and briefed",
        {"counted": counted, "min_personnel": needed},
    )


@guard((A.ACTIVATE, "COMP-04"), (A.RESUME, "COMP-04"))
def everyone_competent(ctx: PermitContext) -> list[Finding]:
    """COMP-04: every assigned worker holds the codes of each of their permit roles at the act, and so do the PA
    and the issuer for theirs (template keys `performing_authority` and `issuer`)."""
    workers = [
        Finding(
            rule="COMP-04",
            code="competency_missing",
            message=f"{f.name} lacks a valid {', '.join(f.missing)} competency",
            facts={"worker_id": str(f.worker_id), "missing": list(f.missing), "at": ctx.now.isoformat()},
        )
        for f in assigned_facts(ctx)
        if f.missing
    ]
    return workers + [party_finding(ctx, p) for p in party_facts(ctx) if p.missing]


_PARTY_NAMES = {PA_ROLE: "performing authority", ISSUER_ROLE: "issuer", ISOLATING_ROLE: "isolating authority"}


def party_finding(
    ctx: PermitContext, p: PartyFacts, rule: str = "COMP-04", *, incoming: bool = False
) -> Finding:
    """A PA, issuer or isolating authority (or the person taking the role over at a handover, HOV-04) without
    the codes of their role; without a linked worker record (WRK-01) none can be found."""
    facts = {
        "person_id": p.person_id,
        "permit_role": p.role,
        "missing": list(p.missing),
        "at": ctx.now.isoformat(),
    }
    who = f"the {'incoming ' if incoming else ''}{_PARTY_NAMES[p.role]} {p.person_id}"
    if p.worker_id is None:
        return Finding(
            rule=rule,
            code="no_worker_record",
            message=f"{who} is linked to no worker record holding {', '.join(p.missing)}",
            facts=facts,
        )
    return Finding(
        rule=rule,
        code="competency_missing",
        message=f"{who} lacks a valid {', '.join(p.missing)} competency",
        facts={**facts, "worker_id": str(p.worker_id)},
    )


def is_confined_space(ctx: PermitContext) -> bool:
    return (
        ctx.state.category == "confined_space"
        or ctx.state.content.confined_space
        or ctx.template.requires_attendant
    )


@guard((A.ACTIVATE, "CSE-01"), (A.RESUME, "CSE-01"))
def attendant_and_rescue(ctx: PermitContext) -> list[Finding]:
    """CSE-01: a competent attendant on duty and rescue arrangements on the permit."""
    if not is_confined_space(ctx):
        return []
    findings: list[Finding] = []
    on_duty = [
        w
        for w in ctx.state.people.attendants_on_duty
        if not role_findings(ctx, w, (PermitRole.ATTENDANT.value,), "CSE-01")
    ]
    if not on_duty:
        findings.append(
            Finding(rule="CSE-01", code="no_attendant", message="no competent attendant is on duty")
        )
    if not ctx.state.content.emergency_arrangements.strip():
        findings.append(
            Finding(
                rule="CSE-01",
                code="no_rescue_arrangements",
                message="rescue arrangements are not recorded on the permit",
            )
        )
    return findings


@guard((A.ACTIVATE, "CLO-02"), (A.RESUME, "CLO-02"), (A.COMPLETE, "CLO-02"))
def fire_watch_assigned(ctx: PermitContext) -> list[Finding]:
    """CLO-02: with `requires_fire_watch`, a competent fire watch (SOD-08) is assigned."""
    if not ctx.template.requires_fire_watch:
        return []
    watcher = ctx.state.people.fire_watch
    if watcher is None:
        return [Finding(rule="CLO-02", code="no_fire_watch", message="no fire watch is assigned")]
    return fire_watch_findings(ctx, watcher)


@guard((A.COMPLETE, "CSE-05"))
def nobody_inside(ctx: PermitContext) -> list[Finding]:
    inside = ctx.state.people.inside
    if not inside:
        return []
    return found(
        "CSE-05",
        "people_inside",
        f"{len(inside)} people are still inside",
        {"inside": [str(w) for w in inside]},
    )


@warning
def competency_ending(ctx: PermitContext) -> list[Finding]:
    """RDY-08: an assigned worker's relied-on competency ends within 7 days."""
    return [
        Finding(
            rule="RDY-08",
            code="competency_ending",
            message=f"{f.name}'s {code} competency ends soon",
            facts={"worker_id": str(f.worker_id), "code": code, "valid_until": until.isoformat()},
        )
        for f in assigned_facts(ctx)
        for code, until in f.ending
    ]
