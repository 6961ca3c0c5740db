"""Folding the permit-stream gas events into `PermitState.gas`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec.structs import replace

from ptw_domain.events import gas as ev
from ptw_domain.events.base import Recorded
from ptw_domain.gas.state import GasReading
from ptw_domain.permit.state import PermitState


def _gas(s: PermitState, **changes: Any) -> PermitState:
    return replace(s, gas=replace(s.gas, **changes))


def _reading(s: PermitState, e: ev.GasReadingRecorded, r: Recorded[Any]) -> PermitState:
    reading = GasReading(
        reading_id=e.reading_id,
        session_id=e.session_id,
        seq=e.seq,
        gas=e.gas,
        value=e.value,
        unit=e.unit,
        tested_at=e.tested_at,
        tester=e.tester,
        instrument=e.instrument,
        verdict=e.verdict,
    )
    return _gas(s, readings=(*s.gas.readings, reading))


def _completed(s: PermitState, e: ev.GasTestSessionCompleted, r: Recorded[Any]) -> PermitState:
    return _gas(s, completed={**s.gas.completed, e.session_id: e.verdict})


def _voided(s: PermitState, e: ev.GasReadingVoided, r: Recorded[Any]) -> PermitState:
    return _gas(s, voided=(*s.gas.voided, e.reading_id))


def _overdue(s: PermitState, e: ev.GasRetestOverdue, r: Recorded[Any]) -> PermitState:
    return _gas(s, retests_overdue=(*s.gas.retests_overdue, e.due_at))


GAS_EVOLVERS: dict[type[Any], Callable[[Any, Any, Recorded[Any]], PermitState]] = {
    ev.GasReadingRecorded: _reading,
    ev.GasTestSessionCompleted: _completed,
    ev.GasReadingVoided: _voided,
    ev.GasRetestOverdue: _overdue,
}
