"""Readiness guards of isolation and lockout: structured isolation assigned (ISO-09), categories (ISO-08), every
required isolation verified (ISO-10), no flagged worker (LOCK-04), no personal lock at hand-back (LOCK-05),
isolation dispositions at close (CLO-05); progress figures."""

from __future__ import annotations

from typing import Any

from ptw_domain.findings import Finding, found
from ptw_domain.isolation.state import CATEGORY_STRENGTH, IsolationState, IsolationStatus
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.readiness import Action, guard

A = Action


def required_isolations(ctx: PermitContext) -> list[tuple[Any, IsolationState | None]]:
    """(assignment, isolation) for every required assignment; an isolation that ended under the permit counts
    as missing."""

    def derive() -> list[tuple[Any, IsolationState | None]]:
        ended = set(ctx.state.isolations.ended)
        return [
            (a, None if a.isolation_id in ended else ctx.isolations.get(a.isolation_id))
            for a in ctx.state.isolations.assignments
            if a.required
        ]

    found: list[tuple[Any, IsolationState | None]] = ctx.once("required_isolations", derive)
    return found


@guard((A.APPROVE, "ISO-09"))
def structured_isolation_assigned(ctx: PermitContext) -> list[Finding]:
    if not ctx.template.requires_structured_isolation or required_isolations(ctx):
        return []
    return found(
        "ISO-09",
        "no_isolation_assigned",
        "structured isolation is required and no required isolation point is assigned",
    )


def _below(category: str | None, minimum: str) -> bool:
    return category is None or CATEGORY_STRENGTH[category] < CATEGORY_STRENGTH[minimum]


@guard((A.APPROVE, "ISO-08"))
def achievable_category(ctx: PermitContext) -> list[Finding]:
    """ISO-08 at approve: every required point can achieve the permit's minimum category."""
    minimum = ctx.template.min_isolation_category
    if minimum is None:
        return []
    weak = [
        iso.point.point_code
        for _, iso in required_isolations(ctx)
        if iso is not None and _below(iso.point.achievable_category, minimum)
    ]
    if not weak:
        return []
    return found(
        "ISO-08",
        "category_not_achievable",
        f"points {', '.join(weak)} cannot achieve category {minimum}",
        {"points": weak, "minimum": minimum},
    )


@guard((A.ACTIVATE, "ISO-08"), (A.RESUME, "ISO-08"))
def achieved_category(ctx: PermitContext) -> list[Finding]:
    """ISO-08 at activation and resume: the category achieved on every required isolation."""
    minimum = ctx.template.min_isolation_category
    if minimum is None:
        return []
    weak = [
        iso.point.point_code
        for _, iso in required_isolations(ctx)
        if iso is not None and iso.in_place and _below(iso.achieved_category, minimum)
    ]
    if not weak:
        return []
    return found(
        "ISO-08",
        "category_not_achieved",
        f"points {', '.join(weak)} are isolated below category {minimum}",
        {"points": weak, "minimum": minimum},
    )


@guard((A.ACTIVATE, "ISO-10"), (A.RESUME, "ISO-10"))
def required_isolations_verified(ctx: PermitContext) -> list[Finding]:
    pending = [
        {"point_id": str(a.point_id), "status": iso.status.value if iso else "ended"}
        for a, iso in required_isolations(ctx)
        if iso is None or iso.status is not IsolationStatus.VERIFIED
    ]
    if not pending:
        return []
    return found(
        "ISO-10",
        "isolation_not_verified",
        f"{len(pending)} required isolations are not verified",
        {"isolations": pending},
    )


@guard((A.ACTIVATE, "LOCK-04"))
def no_flagged_workers(ctx: PermitContext) -> list[Finding]:
    flagged = [
        str(a.worker_id)
        for a in ctx.state.people.assignments
        if (w := ctx.workers.get(a.worker_id)) is not None and w.flagged
    ]
    if not flagged:
        return []
    return found(
        "LOCK-04",
        "worker_flagged",
        "assigned workers have an unacknowledged lock removal",
        {"workers": flagged},
    )


@guard((A.COMPLETE, "LOCK-05"))
def no_personal_locks(ctx: PermitContext) -> list[Finding]:
    locks = ctx.state.isolations.locks
    if not locks:
        return []
    return found(
        "LOCK-05",
        "personal_locks_remain",
        f"{len(locks)} personal locks remain",
        {"locks": [lock.lock_id for lock in locks]},
    )


@guard((A.CLOSE, "CLO-05"))
def isolation_dispositions(ctx: PermitContext) -> list[Finding]:
    """CLO-05: each linked isolation is de-isolated, still linked to another permit, or held by operations."""
    open_ones = []
    for assignment in ctx.state.isolations.assignments:
        iso = ctx.isolations.get(assignment.isolation_id)
        if iso is None or iso.status in (IsolationStatus.DEISOLATED, IsolationStatus.WITHDRAWN):
            continue
        if iso.operations_held_by is not None or set(iso.links) - {ctx.state.permit_id}:
            continue
        open_ones.append(iso.point.point_code)
    if not open_ones:
        return []
    return found(
        "CLO-05",
        "isolation_in_place",
        f"isolations still in place: {', '.join(open_ones)}; de-isolate or transfer them",
        {"points": open_ones},
    )


def isolation_progress(ctx: PermitContext) -> dict[str, Any]:
    """RDY-07: required isolations verified x/y and meeting category x/y; personal locks remaining."""
    required = required_isolations(ctx)
    minimum = ctx.template.min_isolation_category
    verified = sum(iso is not None and iso.status is IsolationStatus.VERIFIED for _, iso in required)
    meeting = sum(
        iso is not None and iso.in_place and not (minimum and _below(iso.achieved_category, minimum))
        for _, iso in required
    )
    return {
        "isolations": {"required": len(required), "verified": verified, "meeting_category": meeting},
        "personal_locks": len(ctx.state.isolations.locks),
    }
