"""Resolving a conflict (SIM-08, SOD-06): the decision goes on the conflict's stream and, bound to its facts hash,
into the project's register (so SIM-06 sees it). With the publications of `publication`, the SIMOPS acts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ptw_domain.errors import Forbidden, GuardFailed, NotFound, ValidationFailed
from ptw_domain.events import simops as ev
from ptw_domain.findings import Finding
from ptw_domain.handlers import Change, at_of
from ptw_domain.permit.state import PermitState
from ptw_domain.roles import Role
from ptw_domain.simops import commands as sc
from ptw_domain.simops.publication import publish_matrix, publish_zone_map
from ptw_domain.simops.streams import ConflictState, register_id
from ptw_domain.store.streams import append
from ptw_domain.workbench import Workbench

DECISIONS = ("accept_with_controls", "not_accepted")
# SIM-08/SEC-04: the roles whose members resolve conflicts.
RESOLVE_ROLES = frozenset({Role.AREA_AUTHORITY, Role.SAFETY_OFFICER})


def resolve_barred(newer: PermitState) -> frozenset[str]:
    """SOD-06: the newer permit's requestor, verifier (nominated or who verified) and approver."""
    parties = {
        newer.requestor,
        newer.verified_by,
        newer.approved_by,
        newer.verifier.person_id if newer.verifier else None,
    }
    return frozenset(p for p in parties if p)


def resolve(bench: Workbench, cmd: sc.ResolveConflict) -> Change:
    conflict = bench.stream(cmd.conflict_id, bench.written)
    if conflict is None or conflict.kind != "conflict":
        raise NotFound("no such conflict", facts={"field": "conflict_id"})
    state: ConflictState = conflict.state
    actor = cmd.actor
    if not RESOLVE_ROLES & actor.member.roles:
        raise Forbidden(
            "a conflict is resolved by an area authority or a safety officer", rule_ids=("SIM-08",)
        )
    if cmd.decision not in DECISIONS:
        raise ValidationFailed(
            f"decision is one of {', '.join(DECISIONS)}", rule_ids=("SIM-08",), facts={"field": "decision"}
        )
    if cmd.decision == "accept_with_controls" and not cmd.controls.strip():
        raise ValidationFailed(
            "accepting with controls needs the controls", rule_ids=("SIM-08",), facts={"field": "controls"}
        )
    if state.cleared:
        raise GuardFailed(
            "the conflict is cleared",
            blockers=[Finding(rule="SIM-11", code="cleared", message="nothing to decide")],
        )
    if actor.person_id in resolve_barred(bench.permit(state.newer).state):
        raise GuardFailed(
            "the newer permit's own parties cannot resolve its conflict",
            blockers=[
                Finding(
                    rule="SOD-06",
                    code="same_person",
                    message="not the requestor, verifier or approver of the newer permit",
                    facts={"person_id": actor.person_id},
                )
            ],
        )
    now = at_of(cmd)
    resolved = ev.ConflictResolved(
        decision=cmd.decision, controls=cmd.controls.strip(), facts_hash=state.facts_hash, by=actor.person_id
    )
    main = append(
        conflict,
        [resolved],
        metadata=bench.metadata(cmd, "conflict", project_id=state.project_id),
        at=now,
        new_id=bench.new_id,
    )
    register = bench.stream(register_id(state.project_id), bench.written)
    recorded = ev.SimopsDecisionRecorded(
        project_id=state.project_id,
        conflict_id=state.conflict_id,
        facts_hash=state.facts_hash,
        decision=cmd.decision,
    )
    reg = append(
        register,
        [recorded],
        metadata=bench.metadata(cmd, "simops_register", project_id=state.project_id),
        at=now,
        new_id=bench.new_id,
        stream_id=register_id(state.project_id),
    )
    return Change(streams=[main, reg], main=main)


SIMOPS_ACTS: dict[type[Any], Callable[[Workbench, Any], Change]] = {
    sc.ResolveConflict: resolve,
    sc.PublishZoneMap: publish_zone_map,
    sc.PublishSimopsMatrix: publish_matrix,
}
