"""Readiness of SIMOPS: an open high conflict blocks the newer permit's approve, activate and resume (SIM-06);
medium and low conflicts are warnings; progress counts open conflicts by severity (RDY-07)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ptw_domain.events.simops import ConflictFacts
from ptw_domain.findings import Finding
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.readiness import Action, guard, warning
from ptw_domain.simops.model import is_open, registered_conflicts

A = Action


def open_conflicts(ctx: PermitContext) -> list[tuple[UUID, ConflictFacts]]:
    """The permit's open conflicts, computed once per evaluation."""
    found: list[tuple[UUID, ConflictFacts]] = ctx.once("simops_open", lambda: _open_conflicts(ctx))
    return found


def _open_conflicts(ctx: PermitContext) -> list[tuple[UUID, ConflictFacts]]:
    register = ctx.simops
    if register is None:
        return []
    return [
        (cid, facts)
        for cid, (facts, digest) in registered_conflicts(register, ctx.state.permit_id).items()
        if is_open(register, cid, digest)
    ]


def _facts(cid: UUID, facts: ConflictFacts) -> dict[str, Any]:
    return {
        "conflict_id": str(cid),
        "rule": facts.rule,
        "severity": facts.severity,
        "older": str(facts.older),
        "newer": str(facts.newer),
        "overlapping": {k: list(v) for k, v in facts.overlapping.items()},
    }


@guard((A.APPROVE, "SIM-06"), (A.ACTIVATE, "SIM-06"), (A.RESUME, "SIM-06"))
def no_open_high_conflict(ctx: PermitContext) -> list[Finding]:
    return [
        Finding(
            rule="SIM-06",
            code="simops_conflict",
            message=f"an open high SIMOPS conflict ({facts.rule}) blocks this newer permit",
            facts=_facts(cid, facts),
        )
        for cid, facts in open_conflicts(ctx)
        if facts.severity == "high" and facts.newer == ctx.state.permit_id
    ]


@warning
def lesser_conflicts(ctx: PermitContext) -> list[Finding]:
    """RDY-08: medium and low conflicts are shown, never blocking."""
    return [
        Finding(
            rule="SIM-06",
            code=f"simops_{facts.severity}",
            message=f"{facts.severity} SIMOPS overlap ({facts.rule})",
            facts=_facts(cid, facts),
        )
        for cid, facts in open_conflicts(ctx)
        if facts.severity != "high"
    ]


def simops_progress(ctx: PermitContext) -> dict[str, Any]:
    counts = {"high": 0, "medium": 0, "low": 0}
    for _, facts in open_conflicts(ctx):
        counts[facts.severity] += 1
    return {"open_conflicts": counts}
