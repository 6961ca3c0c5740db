"""Deciding acts on an isolation and the point library (ISO-01..14, SOD-03, LOCK-02, LOCK-04). Pure: the handler
hands in the isolation, the linked permits and the acting person's facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ptw_domain.configuration import require_project_role
from ptw_domain.errors import Forbidden, GuardFailed, InvalidTransition, NotFound, ValidationFailed
from ptw_domain.events import isolation as ev
from ptw_domain.findings import Finding
from ptw_domain.isolation import commands as ic
from ptw_domain.isolation.state import CATEGORY_STRENGTH, IsolationState, IsolationStatus, PointState
from ptw_domain.people.workers import WorkerState
from ptw_domain.permit.state import PermitState
from ptw_domain.permit.status import HOLDING
from ptw_domain.roles import Role

ISOLATION_COMPETENCY = "isolation"  # COMP-03
# ISO-07/SEC-04: the role whose members verify any isolation (besides the PA of a linked permit), never the
# isolator (SOD-03).
VERIFY_ROLES = frozenset({Role.ISOLATING_AUTHORITY})


@dataclass(frozen=True, slots=True)
class Linked:
    """A permit linked to the isolation, with the minimum category its template requires."""

    state: PermitState
    min_category: str | None


def _refuse(message: str, findings: list[Finding]) -> GuardFailed:
    return GuardFailed(message, blockers=findings)


def forward(iso: IsolationState, allowed: tuple[IsolationStatus, ...], command: str) -> None:
    """ISO-04: states move forward only; every other move is refused."""
    if iso.status not in allowed:
        raise InvalidTransition(
            f"{command} is not allowed from {iso.status}",
            rule_ids=("ISO-04",),
            facts={"status": iso.status, "allowed_from": [s.value for s in allowed]},
            current_status=iso.status.value,
            current_version=iso.version,
        )


def register_point(
    cmd: ic.RegisterIsolationPoint, point_id: Any, existing: PointState | None
) -> list[ev.PointEvent]:
    """ISO-01: `point_code` is unique in the project (the stream id derives from it)."""
    require_project_role(cmd.actor, cmd.name, Role.ISOLATING_AUTHORITY, Role.PROJECT_ADMIN)
    if existing is not None:
        raise InvalidTransition(
            f"point {cmd.spec.point_code} is already registered",
            rule_ids=("ISO-01",),
            facts={"field": "spec.point_code"},
        )
    _check_spec(cmd.spec)
    return [
        ev.IsolationPointRegistered(
            point_id=point_id, project_id=cmd.project_id, spec=cmd.spec, registered_by=cmd.actor.person_id
        )
    ]


def _check_spec(spec: ev.PointSpec) -> None:
    if spec.achievable_category not in CATEGORY_STRENGTH or spec.required_locks < 1:
        raise ValidationFailed(
            "a point needs a category I, II or III and at least one lock",
            rule_ids=("ISO-01",),
            facts={"field": "spec"},
        )


def revise_point(cmd: ic.ReviseIsolationPoint, point: PointState) -> list[ev.PointEvent]:
    """ISO-02: revisions are versioned; the code never changes."""
    require_project_role(cmd.actor, cmd.name, Role.ISOLATING_AUTHORITY, Role.PROJECT_ADMIN)
    _check_spec(cmd.spec)
    if cmd.spec.point_code != point.spec.point_code:
        raise ValidationFailed(
            "the point code never changes", rule_ids=("ISO-01",), facts={"field": "spec.point_code"}
        )
    return [
        ev.IsolationPointRevised(spec=cmd.spec, revision=point.revision + 1, revised_by=cmd.actor.person_id)
    ]


def deactivate_point(cmd: ic.DeactivateIsolationPoint, point: PointState) -> list[ev.PointEvent]:
    require_project_role(cmd.actor, cmd.name, Role.ISOLATING_AUTHORITY, Role.PROJECT_ADMIN)
    if point.open_isolation is not None:
        raise _refuse(
            "the point has an open isolation",
            [
                Finding(
                    rule="ISO-02",
                    code="open_isolation",
                    message="a point with an open isolation stays active",
                )
            ],
        )
    return [] if not point.active else [ev.IsolationPointDeactivated(deactivated_by=cmd.actor.person_id)]


def isolate(
    cmd: ic.IsolatePoint,
    iso: IsolationState,
    linked: list[Linked],
    isolator: WorkerState,
    now: datetime,
    skew: timedelta,
) -> list[ev.IsolationEvent]:
    """ISO-06/08: an isolating authority with `isolation` records locks, tag, method and category achieved."""
    require_project_role(cmd.actor, cmd.name, Role.ISOLATING_AUTHORITY)
    forward(iso, (IsolationStatus.ASSIGNED,), cmd.name)
    if isolator.person_id != cmd.actor.person_id:
        raise Forbidden("the isolator records their own isolation", rule_ids=("ISO-06", "SEC-05"))
    if cmd.isolated_at > now + skew:
        raise ValidationFailed(
            "isolated_at is in the future", rule_ids=("TIME-02",), facts={"field": "isolated_at"}
        )
    findings: list[Finding] = []
    competency = isolator.competent(ISOLATION_COMPETENCY, cmd.isolated_at)
    if competency is None:
        findings.append(
            Finding(
                rule="ISO-06",
                code="competency_missing",
                message=f"{isolator.name} holds no valid isolation competency",
            )
        )
    if len(set(cmd.lock_ids)) < iso.point.required_locks:
        findings.append(
            Finding(
                rule="ISO-06",
                code="too_few_locks",
                message=f"{iso.point.point_code} needs {iso.point.required_locks} locks",
                facts={"required_locks": iso.point.required_locks},
            )
        )
    if iso.point.tag_required and not (cmd.tag or "").strip():
        findings.append(Finding(rule="ISO-06", code="tag_required", message="the point needs a tag"))
    weakest = [lk.min_category for lk in linked if lk.min_category]
    minimum = max(weakest, key=lambda c: CATEGORY_STRENGTH[c], default=None)
    if minimum and CATEGORY_STRENGTH[cmd.achieved_category] < CATEGORY_STRENGTH[minimum]:
        findings.append(
            Finding(
                rule="ISO-08",
                code="category_below_minimum",
                message=f"category {cmd.achieved_category} is below {minimum} required by a linked permit",
                facts={"achieved": cmd.achieved_category, "minimum": minimum},
            )
        )
    if findings:
        raise _refuse("the isolation is refused", findings)
    return [
        ev.PointIsolated(
            by=cmd.actor.person_id,
            lock_ids=cmd.lock_ids,
            tag=cmd.tag,
            method=cmd.method,
            achieved_category=cmd.achieved_category,
            isolated_at=cmd.isolated_at,
            competency_ids=(competency.competency_id,) if competency else (),
        )
    ]


def verify(
    cmd: ic.VerifyIsolation, iso: IsolationState, linked: list[Linked], now: datetime, skew: timedelta
) -> list[ev.IsolationEvent]:
    """ISO-07/SOD-03: an isolating authority or the PA of a linked permit, never the isolator."""
    forward(iso, (IsolationStatus.ISOLATED,), cmd.name)
    person = cmd.actor.person_id
    is_pa = any(lk.state.performing_authority == person for lk in linked)
    if not VERIFY_ROLES & cmd.actor.member.roles and not is_pa:
        raise Forbidden(
            "verification is by an isolating authority or the PA of a linked permit",
            rule_ids=("ISO-07", "SEC-04"),
        )
    if person == iso.isolated_by:
        raise _refuse(
            "the isolator cannot verify",
            [
                Finding(
                    rule="SOD-03",
                    code="same_person",
                    message="an isolation is verified by someone else",
                    facts={"person_id": person},
                )
            ],
        )
    if cmd.verified_at > now + skew or (iso.isolated_at and cmd.verified_at < iso.isolated_at):
        raise ValidationFailed(
            "verified_at is in the future or before the isolation",
            rule_ids=("TIME-02",),
            facts={"field": "verified_at"},
        )
    if cmd.passed:
        return [ev.IsolationVerified(by=person, method=cmd.method, verified_at=cmd.verified_at)]
    return [
        ev.IsolationVerificationFailed(
            by=person, method=cmd.method, verified_at=cmd.verified_at, notes=cmd.notes
        )
    ]


def _holding(linked: list[Linked]) -> list[str]:
    return [lk.state.number for lk in linked if lk.state.status in HOLDING]


def check_exception_facts(cmd: ic.LockExceptionCommand, now: datetime) -> None:
    """LOCK-02: any missing fact refuses the removal (a personal lock or an isolation lock alike)."""
    missing = [
        name
        for name, ok in (
            ("verified_absent_by", bool(cmd.verified_absent_by.strip()) and cmd.verified_absent_at <= now),
            ("contact_attempts", bool(cmd.contact_attempts.strip()) and cmd.contacted_at <= now),
            ("will_inform_before_resuming", cmd.will_inform_before_resuming),
        )
        if not ok
    ]
    if missing:
        raise ValidationFailed(
            f"the exception needs all three facts: {', '.join(missing)}",
            rule_ids=("LOCK-02",),
            facts={"fields": missing},
        )


def isolation_exception_recorded(
    cmd: ic.LockExceptionCommand, iso: IsolationState, person: str, now: datetime
) -> list[ev.IsolationLockExceptionRecorded]:
    """LOCK-02/ISO-13: the facts for a lock of the isolation in place, recorded once, through a linked permit or on
    the isolation itself."""
    if cmd.lock_id not in iso.lock_ids or not iso.in_place:
        raise NotFound("no such lock on the isolation in place", facts={"field": "lock_id"})
    check_exception_facts(cmd, now)
    if cmd.lock_id in iso.excepted_locks:
        return []
    return [
        ev.IsolationLockExceptionRecorded(
            lock_id=cmd.lock_id,
            owner=iso.owner or "",
            verified_absent_by=cmd.verified_absent_by,
            verified_absent_at=cmd.verified_absent_at,
            contact_attempts=cmd.contact_attempts,
            contacted_at=cmd.contacted_at,
            will_inform_before_resuming=True,
            recorded_by=person,
            permit_id=cmd.permit_id if isinstance(cmd, ic.RecordLockRemovalException) else None,
        )
    ]


def record_isolation_lock_exception(
    cmd: ic.RecordIsolationLockException, iso: IsolationState, now: datetime
) -> list[ev.IsolationLockExceptionRecorded]:
    """LOCK-02/SEC-04 on the isolation's stream, by an isolating authority or project admin: the path for an
    isolation no linked permit can carry the facts for (linked only to cancelled or closed permits, or held by
    operations)."""
    require_project_role(cmd.actor, cmd.name, Role.ISOLATING_AUTHORITY, Role.PROJECT_ADMIN)
    return isolation_exception_recorded(cmd, iso, cmd.actor.person_id, now)


def lock_owner_findings(iso: IsolationState, person: str, owner_worker: WorkerState | None) -> list[Finding]:
    """ISO-13/LOCK-03: the isolation's locks are removed by their owner, or by another once the LOCK-02 facts are
    recorded for each of them; LOCK-04: then the owner is flagged on the worker record linked to them (WRK-01),
    so an owner linked to none cannot have their locks removed by exception (ADR 0008)."""
    owner = iso.owner
    if owner is None or owner == person:
        return []
    unexcepted = [lock for lock in iso.lock_ids if lock not in iso.excepted_locks]
    if unexcepted:
        return [
            Finding(
                rule="ISO-13",
                code="not_lock_owner",
                message=f"the locks {', '.join(unexcepted)} are {owner}'s (LOCK-03): {owner} removes them, or "
                "the LOCK-02 exception is recorded for each",
                facts={"owner": owner, "lock_ids": unexcepted},
            )
        ]
    if owner_worker is None:
        return [
            Finding(
                rule="LOCK-04",
                code="owner_not_flaggable",
                message=f"{owner} is linked to no worker record, so removing their locks by exception cannot "
                "flag them until they acknowledge it: link them to their worker record (WRK-01) first",
                facts={"owner": owner},
            )
        ]
    return []


def deisolation_findings(
    iso: IsolationState, linked: list[Linked], person: str, owner_worker: WorkerState | None
) -> list[Finding]:
    """ISO-11/12/13 and LOCK-04, all evaluated (RDY-03): no linked permit holding, no personal lock on a linked
    permit, and the locks removed by their owner or through LOCK-02 with the owner flaggable."""
    findings = []
    holding = _holding(linked)
    if holding:
        findings.append(
            Finding(
                rule="ISO-11",
                code="permits_holding",
                message=f"linked permits still depend on it: {', '.join(holding)}",
                facts={"permits": holding},
            )
        )
    locked = [lk.state.number for lk in linked if lk.state.isolations.locks]
    if locked:
        findings.append(
            Finding(
                rule="ISO-12",
                code="personal_locks_remain",
                message=f"personal locks remain on {', '.join(locked)}",
                facts={"permits": locked},
            )
        )
    return findings + lock_owner_findings(iso, person, owner_worker)


def deisolate(
    cmd: ic.DeisolatePoint, iso: IsolationState, linked: list[Linked], owner_worker: WorkerState | None
) -> tuple[list[ev.IsolationEvent], list[ev.WorkerFlaggedForLockRemoval]]:
    """ISO-11/12/13: refused while a linked permit is holding or a personal lock remains, or when the locks are
    another's without the LOCK-02 facts; removes the locks. LOCK-04: locks removed by exception flag their owner's
    worker record (`owner_worker`, linked to the owner), the events for that record being the second list."""
    require_project_role(cmd.actor, cmd.name, Role.ISOLATING_AUTHORITY)
    forward(iso, (IsolationStatus.ISOLATED, IsolationStatus.VERIFIED), cmd.name)
    person = cmd.actor.person_id
    findings = deisolation_findings(iso, linked, person, owner_worker)
    if findings:
        rules = [f.rule for f in findings]
        raise GuardFailed(
            "de-isolation refused",
            blockers=findings,
            rule_ids=tuple(dict.fromkeys([*rules, *(["LOCK-03"] if "ISO-13" in rules else [])])),
        )
    if iso.owner == person:
        return [ev.PointDeisolated(by=person, locks_removed=iso.lock_ids, method="owner")], []
    flags = [
        ev.WorkerFlaggedForLockRemoval(isolation_id=iso.isolation_id, lock_id=lock) for lock in iso.lock_ids
    ]
    return [ev.PointDeisolated(by=person, locks_removed=iso.lock_ids, method="exception")], flags


def transfer(
    cmd: ic.TransferIsolationToOperations, iso: IsolationState, linked: list[Linked]
) -> list[ev.IsolationEvent]:
    """ISO-14: an area authority takes over an isolation left in place; it then depends on no permit."""
    require_project_role(cmd.actor, cmd.name, Role.AREA_AUTHORITY)
    if not iso.in_place or iso.operations_held_by is not None:
        raise InvalidTransition(
            "only an isolation in place and not yet held by operations is transferred",
            rule_ids=("ISO-14",),
            current_status=iso.status.value,
            current_version=iso.version,
        )
    holding = [lk.state.number for lk in linked if lk.state.status in HOLDING]
    if holding:
        raise _refuse(
            "linked permits still depend on it",
            [
                Finding(
                    rule="ISO-11",
                    code="permits_holding",
                    message=f"holding: {', '.join(holding)}",
                    facts={"permits": holding},
                )
            ],
        )
    if not cmd.reason.strip():
        raise ValidationFailed("a transfer needs a reason", rule_ids=("ISO-14",), facts={"field": "reason"})
    return [ev.IsolationTransferredToOperations(received_by=cmd.actor.person_id, reason=cmd.reason.strip())]


def acknowledge_lock_removal(
    cmd: ic.AcknowledgeLockRemoval, worker: WorkerState
) -> list[ev.LockRemovalAcknowledged]:
    """LOCK-04: the flagged worker acknowledges personally; the flag then clears."""
    if worker.person_id != cmd.actor.person_id:
        raise Forbidden("the worker acknowledges the lock removal personally", rule_ids=("LOCK-04", "SEC-05"))
    if not worker.flagged:
        raise NotFound("no lock removal to acknowledge", facts={"field": "worker_id"})
    assert cmd.at is not None
    return [ev.LockRemovalAcknowledged(acknowledged_at=cmd.at)]
