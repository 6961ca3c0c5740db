"""Deciding the people on a permit: assignment, briefings, the confined-space roster, the fire watch."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ptw_domain.errors import Forbidden, NotFound, ValidationFailed
from ptw_domain.events import people as ev
from ptw_domain.events.permit import PermitEvent
from ptw_domain.findings import Finding, found
from ptw_domain.people import commands as pc
from ptw_domain.people.state import PermitRole
from ptw_domain.permit.authority import check_status, require_party, require_role
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.execution import fact_time
from ptw_domain.permit.status import LIVE
from ptw_domain.roles import Role

Events = list[PermitEvent]


def _planner(ctx: PermitContext, command: str) -> None:
    """SEC-04 "assign workers, hold briefing": the requestor of their own permit, or an approver."""
    assert ctx.actor is not None
    if Role.APPROVER not in ctx.actor.member.roles:
        require_role(ctx, command, Role.REQUESTOR)
        require_party(ctx, command, ctx.state.requestor, "the requestor or an approver")


def role_findings(ctx: PermitContext, worker_id: Any, roles: tuple[str, ...], rule: str) -> list[Finding]:
    """COMP-04: the worker holds every code the template requires for each of their permit roles, now."""
    worker = ctx.worker(worker_id)
    missing: list[str] = ctx.once(
        ("missing", worker_id, roles),
        lambda: sorted(
            {code for role in roles for code in worker.missing(ctx.required_codes(role), ctx.now)}
        ),
    )
    if not missing:
        return []
    return found(
        rule,
        "competency_missing",
        f"{worker.name} lacks a valid {', '.join(missing)} competency",
        {"worker_id": str(worker_id), "missing": missing, "at": ctx.now.isoformat()},
    )


def relied_on(ctx: PermitContext, worker_id: Any, roles: tuple[str, ...]) -> tuple[Any, ...]:
    codes = [code for role in roles for code in ctx.required_codes(role)]
    return ctx.worker(worker_id).relied_on(codes, ctx.now)


def assign(cmd: pc.AssignWorker, ctx: PermitContext) -> Events:
    """WRK-02/03, COMP-04: assign an active worker of the organisation; on a live permit they must be competent."""
    check_status(ctx, cmd.name)
    _planner(ctx, cmd.name)
    worker = ctx.worker(cmd.worker_id)
    roles = tuple(dict.fromkeys(r.value for r in cmd.permit_roles))
    findings: list[Finding] = []
    if not worker.active:
        findings.append(
            Finding(rule="WRK-01", code="worker_inactive", message=f"{worker.name} is not active")
        )
    if ctx.state.status in LIVE:
        findings += role_findings(ctx, cmd.worker_id, roles, "COMP-04")
    if PermitRole.CREW in roles and ctx.state.people.fire_watch == cmd.worker_id:
        findings.append(
            Finding(
                rule="SOD-08",
                code="same_person",
                message="the fire watch cannot be one of the crew doing the hot work",
                facts={"worker_id": str(cmd.worker_id)},
            )
        )
    if findings:
        raise ctx.refuse("the worker cannot be assigned", findings)
    return [
        ev.WorkerAssigned(
            worker_id=cmd.worker_id,
            permit_roles=roles,
            competency_ids=relied_on(ctx, cmd.worker_id, roles),
            assigned_by=ctx.person or "",
        )
    ]


def release(cmd: pc.ReleaseWorker, ctx: PermitContext) -> Events:
    """WRK-03: refused while the worker is inside a confined space."""
    check_status(ctx, cmd.name)
    _planner(ctx, cmd.name)
    people = ctx.state.people
    if people.assignment(cmd.worker_id) is None:
        raise NotFound("the worker is not assigned to this permit", facts={"field": "worker_id"})
    if cmd.worker_id in people.inside:
        raise ctx.refuse(
            "the worker is inside",
            [Finding(rule="WRK-03", code="worker_inside", message="a worker inside cannot be released")],
        )
    return [ev.WorkerReleased(worker_id=cmd.worker_id, released_by=ctx.person or "")]


def hold_briefing(cmd: pc.HoldToolboxTalk, ctx: PermitContext) -> Events:
    """TBT-01: conducted by the PA, an issuer or a safety officer, at a fact time not in the future."""
    check_status(ctx, cmd.name)
    actor = ctx.actor
    assert actor is not None
    conductors = {Role.APPROVER, Role.SAFETY_OFFICER}
    if ctx.task_owner != ctx.state.performing_authority and not conductors & actor.member.roles:
        raise Forbidden(
            "a briefing is conducted by the PA, an issuer or a safety officer", rule_ids=("TBT-01",)
        )
    if any(b.tbt_id == cmd.tbt_id for b in ctx.state.people.briefings):
        raise ValidationFailed(
            "a briefing with this id exists", rule_ids=("TBT-01",), facts={"field": "tbt_id"}
        )
    held_at = fact_time(ctx, cmd.held_at, "held_at", not_before=ctx.state.created_at)
    return [
        ev.ToolboxTalkHeld(tbt_id=cmd.tbt_id, conductor=ctx.person or "", held_at=held_at, topics=cmd.topics)
    ]


def attend(cmd: pc.AttendToolboxTalk, ctx: PermitContext) -> Events:
    """TBT-02: an assigned worker acknowledges a briefing of this permit personally."""
    check_status(ctx, cmd.name)
    people = ctx.state.people
    briefing = next((b for b in people.briefings if b.tbt_id == cmd.tbt_id), None)
    if briefing is None:
        raise NotFound("no such briefing on this permit", facts={"field": "tbt_id"})
    if people.assignment(cmd.worker_id) is None:
        raise NotFound("the worker is not assigned to this permit", facts={"field": "worker_id"})
    if not ctx.is_worker(cmd.worker_id):
        raise Forbidden("attendance is acknowledged by the worker personally", rule_ids=("TBT-02", "SEC-05"))
    if cmd.worker_id in briefing.attended:
        return []
    return [
        ev.ToolboxTalkAttended(
            tbt_id=cmd.tbt_id, worker_id=cmd.worker_id, acknowledged_at=max(ctx.now, briefing.held_at)
        )
    ]


def post_attendant(cmd: pc.PostAttendant, ctx: PermitContext) -> Events:
    """CSE-01/03: an assigned, competent attendant goes on duty; off duty only when relieved or nobody inside."""
    check_status(ctx, cmd.name)
    people = ctx.state.people
    assignment = people.assignment(cmd.worker_id)
    if assignment is None or PermitRole.ATTENDANT not in assignment.permit_roles:
        raise NotFound("the worker is not assigned as attendant", facts={"field": "worker_id"})
    if ctx.task_owner != ctx.state.performing_authority and not ctx.is_worker(cmd.worker_id):
        require_role(ctx, cmd.name, Role.APPROVER, Role.SAFETY_OFFICER)
    if cmd.on_duty:
        findings = role_findings(ctx, cmd.worker_id, (PermitRole.ATTENDANT.value,), "CSE-01")
        if findings:
            raise ctx.refuse("the attendant is not competent", findings)
        if cmd.worker_id in people.attendants_on_duty:
            return []
        return [
            ev.AttendantPosted(
                worker_id=cmd.worker_id,
                on_duty=True,
                posted_by=ctx.person or "",
                competency_ids=relied_on(ctx, cmd.worker_id, ("attendant",)),
            )
        ]
    others = [w for w in people.attendants_on_duty if w != cmd.worker_id]
    if people.inside and not others:
        raise ctx.refuse(
            "the attendant must stay on duty",
            [
                Finding(
                    rule="CSE-03",
                    code="attendant_required",
                    message="someone is inside and no other attendant is posted",
                    facts={"inside": [str(w) for w in people.inside]},
                )
            ],
        )
    return [ev.AttendantPosted(worker_id=cmd.worker_id, on_duty=False, posted_by=ctx.person or "")]


def entry_findings(ctx: PermitContext, worker_id: Any) -> list[Finding]:
    """CSE-02: attendant on duty; the entrant on the roster, competent and briefed (TBT-04)."""
    people = ctx.state.people
    findings: list[Finding] = []
    if not people.attendants_on_duty:
        findings.append(Finding(rule="CSE-02", code="no_attendant", message="no attendant is on duty"))
    assignment = people.assignment(worker_id)
    if assignment is None or PermitRole.ENTRANT not in assignment.permit_roles:
        findings.append(Finding(rule="CSE-02", code="not_on_roster", message="the worker is not an entrant"))
        return findings
    findings += role_findings(ctx, worker_id, (PermitRole.ENTRANT.value,), "CSE-02")
    if people.briefed_after(worker_id, assignment.assigned_at - timedelta(microseconds=1)) is None:
        findings.append(
            Finding(
                rule="TBT-04",
                code="not_briefed",
                message="the worker has not attended a briefing since being assigned",
            )
        )
    return findings


def _roster_keeper(ctx: PermitContext, worker_id: Any, command: str) -> None:
    """Entry and exit are recorded by the worker, an attendant on duty or the PA."""
    people = ctx.state.people
    keepers = {ctx.workers[w].person_id for w in people.attendants_on_duty if w in ctx.workers}
    if ctx.is_worker(worker_id) or ctx.task_owner == ctx.state.performing_authority or ctx.person in keepers:
        return
    raise Forbidden(f"{command} is recorded by the worker, the attendant or the PA", rule_ids=("SEC-05",))


def enter(cmd: pc.RecordEntry, ctx: PermitContext) -> Events:
    check_status(ctx, cmd.name)
    _roster_keeper(ctx, cmd.worker_id, cmd.name)
    if cmd.worker_id in ctx.state.people.inside:
        raise ValidationFailed(
            "the worker is already inside", rule_ids=("CSE-02",), facts={"field": "worker_id"}
        )
    findings = entry_findings(ctx, cmd.worker_id)
    if findings:
        raise ctx.refuse("entry refused", findings)
    return [
        ev.EntrantEntered(
            worker_id=cmd.worker_id,
            at=ctx.now,
            recorded_by=ctx.person or "",
            competency_ids=relied_on(ctx, cmd.worker_id, ("entrant",)),
        )
    ]


def leave(cmd: pc.RecordExit, ctx: PermitContext) -> Events:
    """CSE-02: exit is always accepted for someone inside."""
    check_status(ctx, cmd.name)
    if cmd.worker_id not in ctx.state.people.inside:
        raise NotFound("the worker is not inside", facts={"field": "worker_id"})
    _roster_keeper(ctx, cmd.worker_id, cmd.name)
    return [ev.EntrantExited(worker_id=cmd.worker_id, at=ctx.now, recorded_by=ctx.person or "")]


def fire_watch_findings(ctx: PermitContext, worker_id: Any) -> list[Finding]:
    """CLO-02 with SOD-08: a competent fire watch who is not one of the crew doing the hot work."""
    findings = role_findings(ctx, worker_id, (PermitRole.FIRE_WATCH.value,), "CLO-02")
    assignment = ctx.state.people.assignment(worker_id)
    if assignment is not None and PermitRole.CREW in assignment.permit_roles:
        findings.append(
            Finding(
                rule="SOD-08",
                code="same_person",
                message="the fire watch cannot be one of the crew doing the hot work",
                facts={"worker_id": str(worker_id)},
            )
        )
    return findings


def assign_fire_watch(cmd: pc.AssignFireWatch, ctx: PermitContext) -> Events:
    check_status(ctx, cmd.name)
    _planner(ctx, cmd.name)
    findings = fire_watch_findings(ctx, cmd.worker_id)
    if findings:
        raise ctx.refuse("the fire watch cannot be assigned", findings)
    return [
        ev.FireWatchAssigned(
            worker_id=cmd.worker_id,
            assigned_by=ctx.person or "",
            competency_ids=relied_on(ctx, cmd.worker_id, ("fire_watch",)),
        )
    ]


def complete_fire_watch(cmd: pc.CompleteFireWatch, ctx: PermitContext) -> Events:
    """CLO-03: by the fire watch, after the full minutes, with a competency valid now; records minutes kept."""
    check_status(ctx, cmd.name)
    state = ctx.state
    watcher = state.people.fire_watch
    if state.fire_watch_started_at is None or state.fire_watch_minutes is None or watcher is None:
        raise NotFound("no fire watch is running on this permit", facts={"field": "permit_id"})
    if not ctx.is_worker(watcher):
        raise Forbidden("the fire watch completes the watch", rule_ids=("CLO-03", "SEC-05"))
    if state.people.fire_watch_completed_at is not None:
        return []
    kept = int((ctx.now - state.fire_watch_started_at).total_seconds() // 60)
    findings = role_findings(ctx, watcher, (PermitRole.FIRE_WATCH.value,), "CLO-03")
    if kept < state.fire_watch_minutes:
        findings.append(
            Finding(
                rule="CLO-03",
                code="fire_watch_running",
                message=f"the watch has run {kept} of {state.fire_watch_minutes} minutes",
                facts={"minutes_kept": kept, "minutes_required": state.fire_watch_minutes},
            )
        )
    if findings:
        raise ctx.refuse("the fire watch cannot be completed yet", findings)
    return [
        ev.FireWatchCompleted(
            worker_id=watcher,
            by=ctx.person or "",
            minutes=kept,
            competency_ids=relied_on(ctx, watcher, ("fire_watch",)),
        )
    ]


PEOPLE_HANDLERS: dict[type[Any], Any] = {
    pc.AssignWorker: assign,
    pc.ReleaseWorker: release,
    pc.HoldToolboxTalk: hold_briefing,
    pc.AttendToolboxTalk: attend,
    pc.PostAttendant: post_attendant,
    pc.RecordEntry: enter,
    pc.RecordExit: leave,
    pc.AssignFireWatch: assign_fire_watch,
    pc.CompleteFireWatch: complete_fire_watch,
}
