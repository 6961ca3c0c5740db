"""RDY-07 progress figures: the lifecycle's, and each safety area's (`people_progress`, ...)."""

from __future__ import annotations

from typing import Any

from ptw_domain.closeout.guards import closeout_progress
from ptw_domain.gas.guards import gas_progress
from ptw_domain.isolation.guards import isolation_progress
from ptw_domain.people.progress import people_progress
from ptw_domain.permit.context import PermitContext
from ptw_domain.simops.guards import simops_progress


def progress(ctx: PermitContext) -> dict[str, Any]:
    state, template, now = ctx.state, ctx.template, ctx.now
    have_ppe = {p.strip().casefold() for p in state.content.ppe}
    required_items = [i for i in template.safety_checklist if i.required]
    answers = state.content.checklist_answers
    left = (state.valid_until - now).total_seconds() / 60
    return {
        "signatures": {"given": len(state.valid_signatures()), "workflow_required": 3},
        "ppe": {
            "present": sum(p.strip().casefold() in have_ppe for p in template.mandatory_ppe),
            "required": len(template.mandatory_ppe),
        },
        "safety_checklist": {
            "confirmed": sum(answers.get(i.key) is True for i in required_items),
            "required": len(required_items),
        },
        "extensions": {"used": state.counted_extensions(), "max": template.max_extensions},
        "valid_until": state.valid_until.isoformat(),
        "minutes_left": round(left) if left > 0 else 0,
        "suspension_reasons": [s.reason_code for s in state.suspensions],
        **people_progress(ctx),
        **gas_progress(ctx),
        **closeout_progress(ctx),
        **isolation_progress(ctx),
        **simops_progress(ctx),
    }
