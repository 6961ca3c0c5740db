"""GAS-10 as time facts: at last pass + retest interval the sweep records `GasRetestOverdue`; at that instant plus
the grace the permit is suspended (`gas_retest_overdue`). Each is recorded once per due instant (TIME-03)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ptw_domain.events import gas as ev
from ptw_domain.events.permit import PermitEvent, PermitSuspended, SuspensionReason
from ptw_domain.gas.guards import last_pass, retest_due
from ptw_domain.permit.context import PermitContext


def gas_time_facts(ctx: PermitContext, now: datetime) -> list[PermitEvent]:
    due = retest_due(ctx)
    if due is None or now < due:
        return []
    last = last_pass(ctx)
    assert last is not None and last.completed_at is not None
    facts: list[PermitEvent] = []
    if due not in ctx.state.gas.retests_overdue:
        facts.append(ev.GasRetestOverdue(last_pass_at=last.completed_at, due_at=due, detected_at=now))
    grace_end = due + timedelta(minutes=ctx.template.retest_grace_minutes)
    if now >= grace_end:
        facts.append(
            PermitSuspended(
                reason_code=SuspensionReason.GAS_RETEST_OVERDUE,
                by_system=True,
                cause_ref=f"retest:{due.isoformat()}",
                text=f"gas retest overdue since {due.isoformat()}; grace ended {grace_end.isoformat()}",
            )
        )
    return facts
