"""SYNC-10: an offline create that looks like a permit the project already has.

A create whose `work_order_id` and category match a non-terminal permit of the project whose planned window
overlaps its own (half-open, TIME-06) is suspected to be a duplicate made on another device or online. The check
reads the project's permits as cached (a heuristic, not a guard); a create without a work order is never checked.
"""

from __future__ import annotations

from ptw_domain import commands as c
from ptw_domain.permit.state import PermitState
from ptw_domain.permit.status import TERMINAL
from ptw_domain.project import ProjectState
from ptw_domain.store.loader import Freshness
from ptw_domain.workbench import Workbench


def suspected_duplicate(
    bench: Workbench, project: ProjectState, command: c.CreatePermit
) -> PermitState | None:
    """The first permit of the project the create seems to duplicate, or None."""
    work_order = command.content.work_order_id
    if not work_order:
        return None
    template = bench.template(project.organisation_id, command.template_key)
    if template is None:
        return None  # the create is refused by its own handler
    category = template.state.latest.definition.get("category")
    start, end = command.content.planned_start, command.content.planned_end
    for permit_id in project.permits.values():
        stream = bench.stream(permit_id, Freshness.TRUSTED)
        if stream is None or stream.kind != "permit":
            continue
        other: PermitState = stream.state
        if (
            other.content.work_order_id == work_order
            and other.category == category
            and other.status not in TERMINAL
            and start < other.content.planned_end
            and other.content.planned_start < end
        ):
            return other
    return None
