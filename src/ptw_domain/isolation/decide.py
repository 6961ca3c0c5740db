"""Deciding the permit side of isolation and lockout: assigning points (ISO-03, ISO-05) and personal locks
(LOCK-01, LOCK-02, LOCK-04). Decisions on the isolation's own stream are in `isolation.acts`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from ptw_domain.errors import Forbidden, NotFound
from ptw_domain.events import isolation as ev
from ptw_domain.findings import Finding
from ptw_domain.isolation import commands as ic
from ptw_domain.isolation.acts import check_exception_facts, isolation_exception_recorded
from ptw_domain.isolation.state import IsolationState, IsolationStatus
from ptw_domain.people.decide import role_findings
from ptw_domain.permit.authority import check_status, require_party
from ptw_domain.permit.context import Decision, PermitContext
from ptw_domain.roles import Role

_ISOLATIONS = uuid5(NAMESPACE_URL, "urn:ptw:isolation")
CLOSED = (IsolationStatus.DEISOLATED, IsolationStatus.WITHDRAWN)


def isolation_id_for(point_id: UUID, point_version: int) -> UUID:
    """Derived from the point's version, so two permits opening an isolation on one point at once collide in the
    store (ISO-03: at most one open isolation per point) and the second links to the first."""
    return uuid5(_ISOLATIONS, f"{point_id}:{point_version}")


def _assigner(ctx: PermitContext, command: str) -> None:
    """ISO-05: the requestor of their own permit, or an isolating authority."""
    assert ctx.actor is not None
    if Role.ISOLATING_AUTHORITY not in ctx.actor.member.roles:
        require_party(ctx, command, ctx.state.requestor, "the requestor or an isolating authority")


def assign_point(cmd: ic.AssignIsolationPoint, ctx: PermitContext) -> Decision | list[Any]:
    check_status(ctx, cmd.name)
    _assigner(ctx, cmd.name)
    point = ctx.points.get(cmd.point_id)
    if point is None or point.project_id != ctx.state.project_id:
        raise NotFound("no such isolation point", rule_ids=("TEN-03",), facts={"field": "point_id"})
    if not point.active:
        raise ctx.refuse(
            "the point is deactivated",
            [
                Finding(
                    rule="ISO-02", code="point_inactive", message=f"{point.spec.point_code} is deactivated"
                )
            ],
        )
    if ctx.state.isolations.assignment(cmd.point_id) is not None:
        return []
    open_id = point.open_isolation
    isolation = ctx.isolations.get(open_id) if open_id else None
    assigned = ev.IsolationPointAssigned(
        point_id=cmd.point_id,
        isolation_id=open_id or UUID(int=0),
        required=cmd.required,
        assigned_by=ctx.person or "",
    )
    link = ev.IsolationLinked(permit_id=ctx.state.permit_id, required=cmd.required)
    if isolation is not None and isolation.status not in CLOSED:  # ISO-03: share the open isolation
        return Decision(permit=[assigned], others=((isolation.isolation_id, (link,)),))
    new_id = isolation_id_for(point.point_id, point.version)
    opened = ev.IsolationOpened(
        isolation_id=new_id, project_id=point.project_id, point_id=point.point_id, point=point.spec
    )
    return Decision(
        permit=[
            ev.IsolationPointAssigned(
                point_id=cmd.point_id,
                isolation_id=new_id,
                required=cmd.required,
                assigned_by=ctx.person or "",
            )
        ],
        others=((new_id, (opened, link)), (point.point_id, (ev.PointIsolationOpened(isolation_id=new_id),))),
    )


def unassign_point(cmd: ic.UnassignIsolationPoint, ctx: PermitContext) -> Decision:
    """ISO-05: removed only up to under review; the isolation remains for its other links (withdrawn otherwise)."""
    check_status(ctx, cmd.name)
    _assigner(ctx, cmd.name)
    assignment = ctx.state.isolations.assignment(cmd.point_id)
    if assignment is None:
        raise NotFound("the point is not assigned to this permit", facts={"field": "point_id"})
    isolation = ctx.isolations[assignment.isolation_id]
    others: list[tuple[UUID, tuple[Any, ...]]] = []
    iso_events: list[Any] = [ev.IsolationUnlinked(permit_id=ctx.state.permit_id)]
    if isolation.status is IsolationStatus.ASSIGNED and set(isolation.links) <= {ctx.state.permit_id}:
        iso_events.append(ev.IsolationWithdrawn(by=ctx.person or ""))  # ISO-04: withdrawn only from assigned
        others.append(
            (
                isolation.point_id,
                (ev.PointIsolationClosed(isolation_id=isolation.isolation_id, how="withdrawn"),),
            )
        )
    others.insert(0, (isolation.isolation_id, tuple(iso_events)))
    unassigned = ev.IsolationPointUnassigned(
        point_id=cmd.point_id, isolation_id=assignment.isolation_id, unassigned_by=ctx.person or ""
    )
    return Decision(permit=[unassigned], others=tuple(others))


def apply_lock(cmd: ic.ApplyPersonalLock, ctx: PermitContext) -> list[Any]:
    """LOCK-01/04: an assigned, competent, briefed and unflagged worker applies their own lock; the id is checked
    against every lock applied in the project when the lock is recorded (LOCK-06, `handlers.project_lock_streams`)."""
    check_status(ctx, cmd.name)
    if not ctx.is_worker(cmd.worker_id):
        raise Forbidden("a personal lock is applied by its owner", rule_ids=("LOCK-01", "SEC-05"))
    state = ctx.state
    findings: list[Finding] = []
    if not ctx.template.requires_structured_isolation and not state.isolations.assignments:
        findings.append(
            Finding(rule="LOCK-01", code="no_group_lockout", message="the permit has no group lockout")
        )
    assignment = state.people.assignment(cmd.worker_id)
    if assignment is None:
        findings.append(Finding(rule="LOCK-01", code="not_assigned", message="the worker is not assigned"))
    else:
        findings += role_findings(ctx, cmd.worker_id, tuple(assignment.permit_roles), "LOCK-01")
        if (
            state.people.briefed_after(cmd.worker_id, assignment.assigned_at - timedelta(microseconds=1))
            is None
        ):
            findings.append(Finding(rule="TBT-04", code="not_briefed", message="the worker is not briefed"))
    if ctx.worker(cmd.worker_id).flagged:
        findings.append(
            Finding(
                rule="LOCK-04",
                code="worker_flagged",
                message="a lock of this worker was removed by exception: acknowledge it first",
            )
        )
    if findings:
        raise ctx.refuse("the personal lock is refused", findings)
    return [ev.PersonalLockApplied(lock_id=cmd.lock_id, worker_id=cmd.worker_id)]


def _lock(ctx: PermitContext, lock_id: str) -> Any:
    lock = next((lock for lock in ctx.state.isolations.locks if lock.lock_id == lock_id), None)
    if lock is None:
        raise NotFound("no such personal lock on this permit", facts={"field": "lock_id"})
    return lock


def isolations_in_place(ctx: PermitContext) -> list[IsolationState]:
    """The isolations in place that the permit still links to (not ended under it, not held by operations)."""
    ended = set(ctx.state.isolations.ended)
    found = (ctx.isolations.get(i) for i in ctx.state.isolations.isolation_ids() if i not in ended)
    return [iso for iso in found if iso is not None and iso.in_place and ctx.state.permit_id in iso.links]


def remove_lock(cmd: ic.RemovePersonalLock, ctx: PermitContext) -> list[Any]:
    """LOCK-02: only whoever applied the lock removes it."""
    check_status(ctx, cmd.name)
    lock = _lock(ctx, cmd.lock_id)
    if not ctx.is_worker(lock.worker_id):
        raise Forbidden(
            "a lock is removed by whoever applied it (or by the LOCK-02 exception)", rule_ids=("LOCK-02",)
        )
    return [
        ev.PersonalLockRemoved(
            lock_id=cmd.lock_id, worker_id=lock.worker_id, by=ctx.person or "", method="owner"
        )
    ]


def _isolation_lock_exception(
    cmd: ic.RecordLockRemovalException, ctx: PermitContext, iso: IsolationState
) -> Decision:
    """LOCK-02 for a lock of an isolation the permit links to: the facts go on the isolation's stream, so its
    de-isolation may remove the lock though its owner is absent (ISO-13); the permit keeps a pointer."""
    recorded = isolation_exception_recorded(cmd, iso, ctx.person or "", ctx.now)
    if not recorded:
        return Decision(permit=[])
    pointer = ev.LinkedIsolationLockExcepted(
        isolation_id=iso.isolation_id, lock_id=cmd.lock_id, owner=recorded[0].owner
    )
    return Decision(permit=[pointer], others=((iso.isolation_id, tuple(recorded)),))


def record_lock_exception(cmd: ic.RecordLockRemovalException, ctx: PermitContext) -> Decision:
    """LOCK-02/04: three facts by an isolating authority or admin, then removal; the applier is flagged. For a
    lock of a linked isolation the facts are recorded and the lock goes at de-isolation (ISO-13)."""
    check_status(ctx, cmd.name)
    assert ctx.actor is not None
    if not {Role.ISOLATING_AUTHORITY, Role.PROJECT_ADMIN} & ctx.actor.member.roles:
        raise Forbidden(
            "the lock-removal exception needs an isolating authority or project admin",
            rule_ids=("LOCK-02", "SEC-04"),
        )
    lock = next((lock for lock in ctx.state.isolations.locks if lock.lock_id == cmd.lock_id), None)
    if lock is None:
        iso = next((i for i in isolations_in_place(ctx) if cmd.lock_id in i.lock_ids), None)
        if iso is None:
            raise NotFound("no such lock on this permit or its isolations", facts={"field": "lock_id"})
        return _isolation_lock_exception(cmd, ctx, iso)
    check_exception_facts(cmd, ctx.now)
    recorded = ev.LockRemovalExceptionRecorded(
        lock_id=cmd.lock_id,
        applier_worker_id=lock.worker_id,
        verified_absent_by=cmd.verified_absent_by,
        verified_absent_at=cmd.verified_absent_at,
        contact_attempts=cmd.contact_attempts,
        contacted_at=cmd.contacted_at,
        will_inform_before_resuming=True,
        recorded_by=ctx.person or "",
    )
    removed = ev.PersonalLockRemoved(
        lock_id=cmd.lock_id, worker_id=lock.worker_id, by=ctx.person or "", method="exception"
    )
    flag = ev.WorkerFlaggedForLockRemoval(permit_id=ctx.state.permit_id, lock_id=cmd.lock_id)
    return Decision(permit=[recorded, removed], others=((lock.worker_id, (flag,)),))


ISOLATION_HANDLERS: dict[type[Any], Any] = {
    ic.AssignIsolationPoint: assign_point,
    ic.UnassignIsolationPoint: unassign_point,
    ic.ApplyPersonalLock: apply_lock,
    ic.RemovePersonalLock: remove_lock,
    ic.RecordLockRemovalException: record_lock_exception,
}
