"""Readiness (RDY-01..05): ONE pure evaluation of what may happen next and why not.

Guards register per (action, rule). Each action evaluates its registered guards in the order of the section 11
table, all of them, status guard first; the command handlers call this same evaluation with the acting person,
so a command is refused exactly when readiness says not allowed, with the same blockers in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec

from ptw_domain.errors import Forbidden, GuardFailed, InvalidTransition
from ptw_domain.findings import Finding
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.expiry import effective_status
from ptw_domain.permit.status import Status


class Action(StrEnum):
    SUBMIT = "submit"
    VERIFY = "verify"
    APPROVE = "approve"
    ACTIVATE = "activate"
    RESUME = "resume"
    COMPLETE = "complete"
    CLOSE = "close"


# The section 11 table; a leading * marks actor-dependent guards (RDY-05).
GUARD_ORDER: dict[Action, tuple[str, ...]] = {
    Action.SUBMIT: ("LIFE-02", "LIFE-07", "LIFE-06", "TPL-01", "LIFE-08", "ROLE-04", "SOD-01", "*SEC-05"),
    Action.VERIFY: ("LIFE-02", "LIFE-06", "LIFE-09", "*ROLE-04", "*SOD-01", "*DEL-03"),
    Action.APPROVE: (
        "LIFE-02",
        "LIFE-06",
        "TPL-08",
        "TPL-09",
        "ISO-09",
        "ISO-08",
        "SIM-06",
        "*ROLE-04",
        "*SOD-01",
        "*DEL-03",
    ),
    Action.ACTIVATE: (
        "LIFE-02",
        "LIFE-23",
        "LIFE-17",
        "ISO-10",
        "ISO-08",
        "GAS-08",
        "GAS-09",
        "GAS-07",
        "TBT-03",
        "WRK-04",
        "COMP-04",
        "CSE-01",
        "CLO-02",
        "LOCK-04",
        "SIM-06",
        "*ROLE-04",
        "*SOD-02",
    ),
    Action.RESUME: (
        "LIFE-02",
        "LIFE-23",
        "ISO-10",
        "ISO-08",
        "GAS-08",
        "GAS-09",
        "GAS-12",
        "TBT-05",
        "COMP-04",
        "CSE-01",
        "CLO-02",
        "HOV-04",
        "SIM-06",
        "*ROLE-04",
        "*SOD-02",
    ),
    Action.COMPLETE: ("LIFE-02", "LOCK-05", "CSE-05", "CLO-02", "*SEC-05"),
    Action.CLOSE: ("LIFE-02", "CLO-04", "CLO-05", "CLO-06", "CLO-07", "*ROLE-04", "*SOD-04"),
}

FROM_STATUSES: dict[Action, frozenset[Status]] = {
    Action.SUBMIT: frozenset({Status.DRAFT, Status.REJECTED}),
    Action.VERIFY: frozenset({Status.SUBMITTED}),
    Action.APPROVE: frozenset({Status.UNDER_REVIEW}),
    Action.ACTIVATE: frozenset({Status.APPROVED}),
    Action.RESUME: frozenset({Status.SUSPENDED}),
    Action.COMPLETE: frozenset({Status.ACTIVE, Status.SUSPENDED, Status.EXPIRED}),
    Action.CLOSE: frozenset({Status.COMPLETED}),
}

REQUIRED_INPUTS: dict[Action, tuple[str, ...]] = {
    Action.SUBMIT: ("signature", "core_hash"),
    Action.VERIFY: ("approvers", "signature", "core_hash"),
    Action.APPROVE: ("signature", "core_hash"),
    Action.ACTIVATE: ("signature", "acceptance", "presence", "core_hash"),
    Action.RESUME: ("signature", "acceptance", "presence", "core_hash"),
    Action.COMPLETE: ("outcome", "site_safe", "signature", "core_hash"),
    Action.CLOSE: ("inspected_at", "signature", "core_hash"),
}

GuardCheck = Callable[[PermitContext], list[Finding]]


@dataclass(frozen=True, slots=True)
class Guard:
    rule: str
    check: GuardCheck
    actor_dependent: bool


_REGISTRY: dict[tuple[Action, str], GuardCheck] = {}
_WARNINGS: list[GuardCheck] = []


def guard(*pairs: tuple[Action, str]) -> Callable[[GuardCheck], GuardCheck]:
    """Register a check for (action, rule) pairs; the rule must appear in that action's GUARD_ORDER."""

    def register(check: GuardCheck) -> GuardCheck:
        for action, rule in pairs:
            if rule not in GUARD_ORDER[action] and f"*{rule}" not in GUARD_ORDER[action]:
                raise ValueError(f"{rule} is not a guard of {action} in the readiness table")
            _REGISTRY[(action, rule)] = check
        _GUARDS.clear()
        return check

    return register


def warning(check: GuardCheck) -> GuardCheck:
    """Register a warning check (RDY-08); warnings never block."""
    _WARNINGS.append(check)
    return check


_GUARDS: dict[Action, tuple[Guard, ...]] = {}  # built once, after the areas registered their guards


def guards_of(action: Action) -> tuple[Guard, ...]:
    """The registered guards of an action in table order."""
    built = _GUARDS.get(action)
    if built is None:
        out = []
        for entry in GUARD_ORDER[action]:
            rule = entry.lstrip("*")
            check = _REGISTRY.get((action, rule))
            if check is not None:
                out.append(Guard(rule=rule, check=check, actor_dependent=entry.startswith("*")))
        built = _GUARDS[action] = tuple(out)
    return built


class ActionReadiness(msgspec.Struct, frozen=True, kw_only=True):
    action: Action
    allowed: bool
    blockers: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    required_inputs: tuple[str, ...]


class Readiness(msgspec.Struct, frozen=True, kw_only=True):
    permit_id: str
    version: int
    status: Status
    effective_status: Status
    core_hash: str
    evaluated_at: datetime
    as_actor: str | None
    actions: dict[Action, ActionReadiness]
    progress: dict[str, Any]


def warnings_of(ctx: PermitContext) -> tuple[Finding, ...]:
    """RDY-08: the permit's warnings; they do not depend on the action, so one evaluation computes them once."""
    return tuple(w for check in _WARNINGS for w in check(ctx))


def evaluate_action(
    ctx: PermitContext, action: Action, warnings: tuple[Finding, ...] | None = None
) -> ActionReadiness:
    """RDY-03: every guard of the action, in order, without short-circuit."""
    blockers: list[Finding] = []
    for g in guards_of(action):
        if g.actor_dependent and ctx.actor is None:
            continue
        blockers.extend(g.check(ctx))
    warnings = warnings_of(ctx) if warnings is None else warnings
    return ActionReadiness(
        action=action,
        allowed=not blockers,
        blockers=tuple(blockers),
        warnings=warnings,
        required_inputs=REQUIRED_INPUTS[action],
    )


def evaluate(ctx: PermitContext, progress: dict[str, Any]) -> Readiness:
    """RDY-02: readiness for every action, plus progress, the version and the evaluation time."""
    state = ctx.state
    warnings = warnings_of(ctx)
    return Readiness(
        permit_id=str(state.permit_id),
        version=state.version,
        status=state.status,
        effective_status=effective_status(state, ctx.template, ctx.now),
        core_hash=state.core_hash,
        evaluated_at=ctx.now,
        as_actor=ctx.person,
        actions={action: evaluate_action(ctx, action, warnings) for action in Action},
        progress=progress,
    )


def require(ctx: PermitContext, action: Action, *, command: str, allowed_commands: tuple[str, ...]) -> None:
    """RDY-04: refuse with `invalid_transition` when the status guard fails, else `guard_failed`."""
    result = evaluate_action(ctx, action, warnings=())  # a refusal lists blockers; warnings are for readers
    if result.allowed:
        return
    state = ctx.state
    if any(b.rule == "LIFE-02" for b in result.blockers):
        raise InvalidTransition(
            f"{command} is not allowed from {state.status}",
            blockers=result.blockers,
            current_status=state.status.value,
            current_version=state.version,
            allowed_commands=allowed_commands,
        )
    message = f"{command} refused: " + "; ".join(b.message for b in result.blockers)
    if any(_lacks_position(ctx, b) for b in result.blockers):
        # SEC-03: a member lacking the role or the party position is forbidden (403), with the same blockers
        # in the same order as readiness gives them (RDY-04); level, company kind and SOD stay guard failures.
        raise Forbidden(
            message,
            blockers=result.blockers,
            current_status=state.status.value,
            current_version=state.version,
        )
    raise GuardFailed(
        message,
        blockers=result.blockers,
        current_status=state.status.value,
        current_version=state.version,
    )


_POSITION_CODES = frozenset({"role_missing", "not_the_party", "not_the_nominee"})


def _lacks_position(ctx: PermitContext, finding: Finding) -> bool:
    """A blocker saying the acting person (not a nominee named in the permit) lacks the role or position."""
    if finding.code not in _POSITION_CODES or ctx.actor is None:
        return False
    person = finding.facts.get("actor", finding.facts.get("person_id"))
    return person in (ctx.task_owner, ctx.actor.person_id)
