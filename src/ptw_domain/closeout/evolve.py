"""Folding the permit-stream close-out events into `PermitState.closeout`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec.structs import replace

from ptw_domain.closeout.state import CloseoutItem, Inhibit
from ptw_domain.events import closeout as ev
from ptw_domain.events.base import Recorded
from ptw_domain.permit.state import PermitState


def _closeout(s: PermitState, **changes: Any) -> PermitState:
    return replace(s, closeout=replace(s.closeout, **changes))


def _stamp(s: PermitState, key: str, by: str | None, at: Any) -> PermitState:
    items = tuple(
        replace(i, checked_by=by, checked_at=at) if i.key == key else i for i in s.closeout.checklist
    )
    return _closeout(s, checklist=items)


def _pinned(s: PermitState, e: ev.CloseoutChecklistPinned, r: Recorded[Any]) -> PermitState:
    items = tuple(CloseoutItem(key=i.key, label=i.label, required=i.required) for i in e.items)
    return _closeout(s, checklist=items, risk_level=e.risk_level)


def _checked(s: PermitState, e: ev.CloseoutItemChecked, r: Recorded[Any]) -> PermitState:
    return _stamp(s, e.key, e.by, e.at)


def _unchecked(s: PermitState, e: ev.CloseoutItemUnchecked, r: Recorded[Any]) -> PermitState:
    return _stamp(s, e.key, None, None)


def _applied(s: PermitState, e: ev.InhibitApplied, r: Recorded[Any]) -> PermitState:
    inhibit = Inhibit(
        inhibit_id=e.inhibit_id,
        system=e.system,
        tag=e.tag,
        reason=e.reason,
        expected_restore_at=e.expected_restore_at,
        applied_by=e.applied_by,
        applied_at=r.occurred_at,
    )
    return _closeout(s, inhibits=(*s.closeout.inhibits, inhibit))


def _restored(s: PermitState, e: ev.InhibitRestored, r: Recorded[Any]) -> PermitState:
    inhibits = tuple(
        replace(i, restored_by=e.restored_by, confirmed_by=e.confirmed_by, restored_at=r.occurred_at)
        if i.inhibit_id == e.inhibit_id
        else i
        for i in s.closeout.inhibits
    )
    return _closeout(s, inhibits=inhibits)


CLOSEOUT_EVOLVERS: dict[type[Any], Callable[[Any, Any, Recorded[Any]], PermitState]] = {
    ev.CloseoutChecklistPinned: _pinned,
    ev.CloseoutItemChecked: _checked,
    ev.CloseoutItemUnchecked: _unchecked,
    ev.InhibitApplied: _applied,
    ev.InhibitRestored: _restored,
}
