"""Readiness guard of the handover area: a missed handover blocks resume until acknowledged (HOV-04)."""

from __future__ import annotations

from ptw_domain.findings import Finding
from ptw_domain.handover.shifts import missed_boundaries
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.readiness import Action, guard


@guard((Action.RESUME, "HOV-04"))
def missed_handover_cleared(ctx: PermitContext) -> list[Finding]:
    """LIFE-19/HOV-04: every missed boundary (recorded or due now, TIME-05) is cleared by an acknowledged
    performing handover for it or a later boundary. This covers a permit already suspended when it missed a
    handover too: the miss is about who leads the crew, whatever stopped the work."""
    uncleared = [b for b in missed_boundaries(ctx) if not ctx.state.handover.cleared(b)]
    return [
        Finding(
            rule="HOV-04",
            code="handover_missed",
            message=f"the performing handover at {b.isoformat()} was missed and is not yet acknowledged",
            facts={"boundary": b.isoformat()},
        )
        for b in uncleared
    ]
