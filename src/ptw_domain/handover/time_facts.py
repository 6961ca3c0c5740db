"""HOV-03 as time facts: for each boundary a live permit passed without an acknowledged performing handover by
boundary + grace, `HandoverMissed` once (TIME-03); an active permit is then suspended (`handover_missed`). A permit
already suspended keeps its causes; its area authority is alerted by a `review_missed_handover` task (RM-09), and
a push notification belongs to the notifications."""

from __future__ import annotations

from ptw_domain.events import handover as ev
from ptw_domain.events.permit import PermitEvent, PermitSuspended, SuspensionReason
from ptw_domain.handover.shifts import due_boundaries, window
from ptw_domain.permit.context import PermitContext
from ptw_domain.permit.status import LIVE, Status


def handover_time_facts(ctx: PermitContext) -> list[PermitEvent]:
    """The facts due at ctx.now on a permit still live (an expired permit is past handing over)."""
    state = ctx.state
    if state.status not in LIVE:
        return []
    _, grace = window(ctx)
    missed = [
        b
        for b in due_boundaries(ctx)
        if b not in state.handover.missed and not state.handover.satisfied(b, b + grace)
    ]
    facts: list[PermitEvent] = [
        ev.HandoverMissed(boundary=b, due_at=b + grace, detected_at=ctx.now) for b in missed
    ]
    if missed and state.status is Status.ACTIVE:
        first = missed[0]
        facts.append(
            PermitSuspended(
                reason_code=SuspensionReason.HANDOVER_MISSED,
                by_system=True,
                cause_ref=f"handover:{first.isoformat()}",
                text=f"no performing handover was acknowledged for the shift boundary at {first.isoformat()} "
                f"by {(first + grace).isoformat()}",
            )
        )
    return facts
