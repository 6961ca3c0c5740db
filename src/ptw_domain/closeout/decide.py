"""Deciding close-out items (CLO-04) and inhibits (CLO-06)."""

from __future__ import annotations

from typing import Any

from ptw_domain.closeout import commands as cc
from ptw_domain.errors import Forbidden, NotFound, ValidationFailed
from ptw_domain.events import closeout as ev
from ptw_domain.events.permit import PermitEvent
from ptw_domain.findings import Finding
from ptw_domain.permit.authority import check_status, refuse_integration_signing, require_role
from ptw_domain.permit.context import PermitContext
from ptw_domain.roles import Role

Events = list[PermitEvent]
CLOSEOUT_ROLES = frozenset({Role.APPROVER, Role.AREA_AUTHORITY})  # SEC-04 "close-out items"
INHIBIT_ROLES = (Role.AREA_AUTHORITY, Role.ISOLATING_AUTHORITY)  # SEC-04 "apply or restore inhibit"


def pinned_checklist(ctx: PermitContext) -> Events:
    """TPL-10/CLO-04: the checklist for the effective risk level at hand-back (else "any", else none) is pinned
    then, by the hand-back itself, so a later template version never changes what this close-out must tick."""
    risk = ctx.state.effective_risk_level
    items = ctx.template.closeout_checklist(risk)
    return [ev.CloseoutChecklistPinned(items=items, risk_level=risk.value)] if items else []


def _item_keeper(ctx: PermitContext, command: str) -> None:
    """CLO-04: the PA, an issuer (approver role) or an area authority."""
    if ctx.task_owner == ctx.state.performing_authority or CLOSEOUT_ROLES & ctx.actor_member.roles:
        return
    raise Forbidden(
        f"{command} is for the performing authority, an issuer or an area authority",
        rule_ids=("CLO-04", "SEC-04"),
        facts={"actor": ctx.task_owner},
    )


def _item(ctx: PermitContext, key: str) -> Any:
    item = ctx.state.closeout.item(key)
    if item is None:
        raise NotFound("no such item on the pinned close-out checklist", facts={"field": "key"})
    return item


def check_item(cmd: cc.CheckCloseoutItem, ctx: PermitContext) -> Events:
    """CLO-04: only in `completed` (nothing changes after close); checking a checked item records nothing."""
    check_status(ctx, cmd.name)
    _item_keeper(ctx, cmd.name)
    if _item(ctx, cmd.key).checked:
        return []
    return [ev.CloseoutItemChecked(key=cmd.key, by=ctx.person or "", at=ctx.now)]


def uncheck_item(cmd: cc.UncheckCloseoutItem, ctx: PermitContext) -> Events:
    check_status(ctx, cmd.name)
    _item_keeper(ctx, cmd.name)
    if not _item(ctx, cmd.key).checked:
        return []
    return [ev.CloseoutItemUnchecked(key=cmd.key, by=ctx.person or "", at=ctx.now)]


def apply_inhibit(cmd: cc.ApplyInhibit, ctx: PermitContext) -> Events:
    """CLO-06: an area or isolating authority records the inhibit with a reason and an expected restore time."""
    check_status(ctx, cmd.name)
    require_role(ctx, cmd.name, *INHIBIT_ROLES)
    refuse_integration_signing(ctx, cmd.name)  # ROLE-07: no safety facts from integrations
    if ctx.state.closeout.inhibit(cmd.inhibit_id) is not None:
        raise ValidationFailed(
            "an inhibit with this id exists", rule_ids=("CLO-06",), facts={"field": "inhibit_id"}
        )
    for field in ("system", "tag", "reason"):
        if not getattr(cmd, field).strip():
            raise ValidationFailed(
                f"an inhibit needs its {field}", rule_ids=("CLO-06",), facts={"field": field}
            )
    if cmd.expected_restore_at <= ctx.now:
        raise ValidationFailed(
            "the expected restore time must be in the future",
            rule_ids=("CLO-06",),
            facts={"field": "expected_restore_at", "now": ctx.now.isoformat()},
        )
    return [
        ev.InhibitApplied(
            inhibit_id=cmd.inhibit_id,
            system=cmd.system.strip(),
            tag=cmd.tag.strip(),
            reason=cmd.reason.strip(),
            expected_restore_at=cmd.expected_restore_at,
            applied_by=ctx.person or "",
        )
    ]


def restore_inhibit(cmd: cc.RestoreInhibit, ctx: PermitContext) -> Events:
    """CLO-06: restored by the actor, confirmed by a second person; both are recorded."""
    check_status(ctx, cmd.name)
    require_role(ctx, cmd.name, *INHIBIT_ROLES)
    refuse_integration_signing(ctx, cmd.name)
    inhibit = ctx.state.closeout.inhibit(cmd.inhibit_id)
    if inhibit is None:
        raise NotFound("no such inhibit on this permit", facts={"field": "inhibit_id"})
    confirmer = cmd.confirmed_by.strip()
    if not confirmer:
        raise ValidationFailed(
            "the restoration needs a confirming person", rule_ids=("CLO-06",), facts={"field": "confirmed_by"}
        )
    if inhibit.restored:
        return []
    if confirmer in ctx.persons:
        raise ctx.refuse(
            "the restoration needs a second person",
            [
                Finding(
                    rule="CLO-06",
                    code="same_person",
                    message="the person confirming the restoration cannot be the one restoring",
                    facts={"person_id": confirmer},
                )
            ],
        )
    return [
        ev.InhibitRestored(inhibit_id=cmd.inhibit_id, restored_by=ctx.person or "", confirmed_by=confirmer)
    ]


CLOSEOUT_HANDLERS: dict[type[Any], Any] = {
    cc.CheckCloseoutItem: check_item,
    cc.UncheckCloseoutItem: uncheck_item,
    cc.ApplyInhibit: apply_inhibit,
    cc.RestoreInhibit: restore_inhibit,
}
