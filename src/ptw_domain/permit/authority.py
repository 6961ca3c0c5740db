"""Who may run which permit command from which status (section 4.3, SEC-04 roles, SEC-05 parties, ROLE-07)."""

from __future__ import annotations

from ptw_domain.errors import Forbidden, InvalidTransition
from ptw_domain.findings import Finding
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.readiness import Action, require
from ptw_domain.permit.status import Status
from ptw_domain.roles import Role, is_integration

S = Status
_PLANNING_TO_SUSPENDED = frozenset(
    {S.DRAFT, S.SUBMITTED, S.UNDER_REVIEW, S.REJECTED, S.APPROVED, S.ACTIVE, S.SUSPENDED}
)
_GAS_STATUSES = frozenset(
    {S.UNDER_REVIEW, S.APPROVED, S.ACTIVE, S.SUSPENDED, S.COMPLETED, S.EXPIRED}
)  # GAS-02
ALLOWED_FROM: dict[str, frozenset[Status]] = {
    "EditPermit": frozenset(set(S) - {S.COMPLETED, S.CLOSED, S.CANCELLED}),
    "AmendPermit": frozenset({S.SUBMITTED, S.UNDER_REVIEW, S.APPROVED}),
    "RebasePermitTemplate": frozenset({S.DRAFT, S.REJECTED}),
    "NominateVerifier": frozenset({S.DRAFT, S.SUBMITTED}),
    "SubmitPermit": frozenset({S.DRAFT}),
    "ResubmitPermit": frozenset({S.REJECTED}),
    "WithdrawPermit": frozenset({S.SUBMITTED, S.UNDER_REVIEW}),
    "VerifyPermit": frozenset({S.SUBMITTED}),
    "RejectPermit": frozenset({S.SUBMITTED, S.UNDER_REVIEW}),
    "NominateApprovers": frozenset({S.UNDER_REVIEW}),
    "ApprovePermit": frozenset({S.UNDER_REVIEW}),
    "SendBackPermit": frozenset({S.UNDER_REVIEW}),
    "ActivatePermit": frozenset({S.APPROVED}),
    "SuspendPermit": frozenset({S.ACTIVE}),
    "ResumePermit": frozenset({S.SUSPENDED}),
    "RequestExtension": frozenset({S.APPROVED, S.ACTIVE, S.SUSPENDED}),
    "DecideExtension": frozenset({S.APPROVED, S.ACTIVE, S.SUSPENDED}),
    "CompletePermit": frozenset({S.ACTIVE, S.SUSPENDED, S.EXPIRED}),
    "ClosePermit": frozenset({S.COMPLETED}),
    "CancelPermit": frozenset({S.DRAFT, S.SUBMITTED, S.UNDER_REVIEW, S.REJECTED, S.APPROVED, S.EXPIRED}),
    # people (section 5): assignment from draft to suspended (WRK-03), the roster while the work is on
    "AssignWorker": _PLANNING_TO_SUSPENDED,
    "ReleaseWorker": _PLANNING_TO_SUSPENDED,
    "HoldToolboxTalk": _PLANNING_TO_SUSPENDED,
    "AttendToolboxTalk": _PLANNING_TO_SUSPENDED,
    "AssignFireWatch": _PLANNING_TO_SUSPENDED,
    "PostAttendant": frozenset({S.APPROVED, S.ACTIVE, S.SUSPENDED}),
    "RecordEntry": frozenset({S.ACTIVE}),  # CSE-02; refused while suspended (CSE-04)
    "RecordExit": frozenset({S.ACTIVE, S.SUSPENDED, S.EXPIRED, S.COMPLETED}),  # exit is always accepted
    "CompleteFireWatch": frozenset({S.COMPLETED}),
    # gas (section 6): GAS-02
    "RecordGasReading": _GAS_STATUSES,
    "VoidGasReading": _GAS_STATUSES,  # nothing changes after close (CLO-04)
    # handover (section 4.9): while live (HOV-02)
    "RecordHandover": frozenset({S.ACTIVE, S.SUSPENDED}),
    "AcknowledgeHandover": frozenset({S.ACTIVE, S.SUSPENDED}),
    # close-out (section 10): items only between hand-back and close (CLO-04); inhibits applied from approved to
    # suspended and restored until close (CLO-06)
    "CheckCloseoutItem": frozenset({S.COMPLETED}),
    "UncheckCloseoutItem": frozenset({S.COMPLETED}),
    "ApplyInhibit": frozenset({S.APPROVED, S.ACTIVE, S.SUSPENDED}),
    "RestoreInhibit": frozenset({S.APPROVED, S.ACTIVE, S.SUSPENDED, S.EXPIRED, S.COMPLETED}),
    # isolation and locks (section 7): adding points up to suspended, removing only up to under review (ISO-05)
    "AssignIsolationPoint": _PLANNING_TO_SUSPENDED,
    "UnassignIsolationPoint": frozenset({S.DRAFT, S.SUBMITTED, S.UNDER_REVIEW, S.REJECTED}),
    "ApplyPersonalLock": frozenset({S.ACTIVE}),  # LOCK-01
    "RemovePersonalLock": frozenset({S.ACTIVE, S.SUSPENDED, S.EXPIRED}),
    # after hand-back only the locks of a linked isolation remain (LOCK-05), to be removed at de-isolation (ISO-13)
    "RecordLockRemovalException": frozenset({S.ACTIVE, S.SUSPENDED, S.EXPIRED, S.COMPLETED}),
    # records: attachments until close or cancellation, then annotations only (LIFE-05, AUD-11); annotations and
    # incident links in every status (AUD-11, RPT-04)
    "AddAttachment": frozenset(set(S) - {S.CLOSED, S.CANCELLED}),
    "AnnotatePermit": frozenset(S),
    "LinkIncident": frozenset(S),
}

# Roles whose members may stop work on any permit; others only as a party (SEC-04 "suspend").
STOP_WORK_ROLES = frozenset(
    {
        Role.VERIFIER,
        Role.APPROVER,
        Role.AREA_AUTHORITY,
        Role.ISOLATING_AUTHORITY,
        Role.GAS_TESTER,
        Role.SAFETY_OFFICER,
        Role.PROJECT_ADMIN,
    }
)


def allowed_commands(status: Status) -> tuple[str, ...]:
    """LIFE-02: the commands a permit in `status` accepts."""
    return tuple(sorted(name for name, statuses in ALLOWED_FROM.items() if status in statuses))


def check_status(ctx: PermitContext, command: str) -> None:
    """LIFE-02: refuse a command from a status not listed for it."""
    status = ctx.state.status
    allowed = ALLOWED_FROM[command]
    if status in allowed:
        return
    finding = Finding(
        rule="LIFE-02",
        code="invalid_status",
        message=f"{command} needs status {' or '.join(sorted(allowed))}; the permit is {status}",
        facts={"status": status, "allowed_from": sorted(allowed)},
    )
    raise InvalidTransition(
        f"{command} is not allowed from {status}",
        blockers=(finding,),
        current_status=status.value,
        current_version=ctx.state.version,
        allowed_commands=allowed_commands(status),
    )


def require_role(ctx: PermitContext, command: str, *roles: Role) -> None:
    """SEC-04: the actor must hold one of the roles."""
    actor = ctx.actor
    assert actor is not None
    if roles and not set(roles) & actor.member.roles:
        raise Forbidden(
            f"{command} needs one of the roles {', '.join(sorted(roles))}",
            rule_ids=("SEC-04",),
            facts={"needs_any_of": sorted(roles), "has": sorted(actor.member.roles)},
        )


def require_party(ctx: PermitContext, command: str, party: str | None, what: str) -> None:
    """SEC-05: the actor (or the delegator they act for) must be the named party."""
    if party is not None and ctx.task_owner == party:
        return
    raise Forbidden(
        f"{command} is for {what} only",
        rule_ids=("SEC-05",),
        facts={"party": party, "actor": ctx.task_owner},
    )


def refuse_integration_signing(ctx: PermitContext, command: str) -> None:
    """ROLE-07: an integration principal never signs."""
    actor = ctx.actor
    assert actor is not None
    if is_integration(actor):
        raise Forbidden(f"an integration principal cannot sign ({command})", rule_ids=("ROLE-07",))


def gate(ctx: PermitContext, command: str, action: Action, *roles: Role, signs: bool = True) -> None:
    """The common door of a readiness-backed command (RDY-04).

    Readiness runs first, so a wrong status is refused `invalid_transition` with readiness's full blocker list
    in readiness's order; then the command's own status (submit from draft, resubmit from rejected share one
    readiness action), the role (SEC-04) and, for a signing act, ROLE-07.
    """
    require(ctx, action, command=command, allowed_commands=allowed_commands(ctx.state.status))
    check_status(ctx, command)
    require_role(ctx, command, *roles)
    if signs:
        refuse_integration_signing(ctx, command)
