"""Time facts of a permit: expiry (LIFE-23), extension lapse (EXT-08) and the effective status (TIME-05)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ptw_domain.events import permit as ev
from ptw_domain.permit.state import PermitState
from ptw_domain.permit.status import Status
from ptw_domain.templates import ResolvedTemplate


def expiry_due(state: PermitState, template: ResolvedTemplate) -> tuple[datetime, ev.ExpiryReason] | None:
    """When the permit expires if nothing else happens, and why; None for statuses that never expire."""
    if state.status is Status.APPROVED:
        deadline = state.valid_until
        if template.start_window_hours is not None:
            window_end = state.content.planned_start + timedelta(hours=template.start_window_hours)
            deadline = min(deadline, window_end)
        return deadline, ev.ExpiryReason.START_WINDOW_MISSED
    if state.status in (Status.ACTIVE, Status.SUSPENDED):
        return state.valid_until, ev.ExpiryReason.VALIDITY_ENDED
    return None


def effective_status(state: PermitState, template: ResolvedTemplate, now: datetime) -> Status:
    """TIME-05: from its expiry instant a permit is treated as expired, recorded or not."""
    due = expiry_due(state, template)
    if due is not None and now >= due[0]:
        return Status.EXPIRED
    return state.status


def lapse_pending_extension(state: PermitState, reason: str) -> list[ev.PermitEvent]:
    """EXT-08: a pending extension lapses when the permit leaves approved/active/suspended."""
    pending = state.pending_extension
    return [ev.ExtensionLapsed(extension_id=pending.extension_id, reason=reason)] if pending else []


def due_time_facts(state: PermitState, template: ResolvedTemplate, now: datetime) -> list[ev.PermitEvent]:
    """TIME-03/04: the facts already due at `now`, each recorded once with its due instant."""
    due = expiry_due(state, template)
    if due is None or now < due[0]:
        return []
    expired_at, reason = due
    expired = ev.PermitExpired(
        reason=reason, expired_at=expired_at, detected_at=now, previous_status=state.status.value
    )
    return [expired, *lapse_pending_extension(state, "permit_expired")]
