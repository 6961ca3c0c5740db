"""Readiness guards of the close-out area (CLO-04, CLO-06), the overdue-inhibit warning (RDY-08) and the
progress figures (RDY-07)."""

from __future__ import annotations

from typing import Any

from ptw_domain.findings import Finding, found
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.readiness import Action, guard, warning

A = Action


@guard((A.CLOSE, "CLO-04"))
def checklist_done(ctx: PermitContext) -> list[Finding]:
    missing = ctx.state.closeout.unchecked()
    if not missing:
        return []
    return found(
        "CLO-04",
        "closeout_items_unchecked",
        f"close-out items not checked: {', '.join(missing)}",
        {"unchecked": missing},
    )


@guard((A.CLOSE, "CLO-06"))
def inhibits_restored(ctx: PermitContext) -> list[Finding]:
    """CLO-06: every inhibit restored, and the restoration confirmed by a second person, before close."""
    return [
        Finding(
            rule="CLO-06",
            code="inhibit_not_restored",
            message=f"the inhibit of {i.system} ({i.tag}) is not restored and confirmed",
            facts={"inhibit_id": str(i.inhibit_id), "expected_restore_at": i.expected_restore_at.isoformat()},
        )
        for i in ctx.state.closeout.open_inhibits()
    ]


@warning
def inhibit_overdue(ctx: PermitContext) -> list[Finding]:
    """RDY-08: an inhibit still open after its expected restore time."""
    return [
        Finding(
            rule="RDY-08",
            code="inhibit_overdue",
            message=f"the inhibit of {i.system} ({i.tag}) was expected back at {i.expected_restore_at.isoformat()}",
            facts={"inhibit_id": str(i.inhibit_id), "expected_restore_at": i.expected_restore_at.isoformat()},
        )
        for i in ctx.state.closeout.open_inhibits()
        if ctx.now >= i.expected_restore_at
    ]


def closeout_progress(ctx: PermitContext) -> dict[str, Any]:
    """RDY-07: close-out checklist x/y (required items), inhibits still open."""
    closeout = ctx.state.closeout
    required = [i for i in closeout.checklist if i.required]
    return {
        "closeout_checklist": {"checked": sum(i.checked for i in required), "required": len(required)},
        "inhibits_open": len(closeout.open_inhibits()),
    }
