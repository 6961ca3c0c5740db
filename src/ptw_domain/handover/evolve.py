"""Folding the permit-stream handover events into `PermitState.handover`; an acknowledged handover moves the
role: the PA (`handed_over_pa`) or the issuer of record. Isolation-lock ownership (LOCK-03) moves on the isolations'
own streams (`IsolationLockOwnershipTransferred`, recorded with the acknowledgement). Both acts are signed
(SIG-01)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec.structs import replace

from ptw_domain.events import handover as ev
from ptw_domain.events.base import Recorded
from ptw_domain.handover.state import Handover
from ptw_domain.permit.state import PermitState, SignatureRecord
from ptw_domain.signatures import Signature


def _handover(s: PermitState, signature: Signature | None, **changes: Any) -> PermitState:
    """The handover part changed and the act's signature kept (SIG-03; absent on handovers signed before)."""
    signed = (SignatureRecord(signature=signature),) if signature is not None else ()
    return replace(s, handover=replace(s.handover, **changes), signatures=(*s.signatures, *signed))


def _recorded(s: PermitState, e: ev.HandoverRecorded, r: Recorded[Any]) -> PermitState:
    handover = Handover(
        handover_id=e.handover_id,
        boundary=e.boundary,
        role=e.role.value,
        outgoing=e.outgoing,
        incoming=e.incoming.person_id,
        notes=e.notes,
        recorded_at=r.occurred_at,
    )
    earlier = tuple(
        replace(h, superseded=True)
        if h.boundary == e.boundary and h.role == e.role.value and not h.acknowledged
        else h
        for h in s.handover.handovers
    )
    return _handover(s, e.signature, handovers=(*earlier, handover))


def _acknowledged(s: PermitState, e: ev.HandoverAcknowledged, r: Recorded[Any]) -> PermitState:
    found = s.handover.handover(e.handover_id)
    assert found is not None, "an acknowledged handover was recorded"
    handovers = tuple(
        replace(h, acknowledged_at=r.occurred_at) if h.handover_id == e.handover_id else h
        for h in s.handover.handovers
    )
    s = _handover(s, e.signature, handovers=handovers)
    if found.role == ev.HandoverRole.PERFORMING:
        return replace(s, handed_over_pa=e.by)
    if found.role == ev.HandoverRole.ISSUING:
        return replace(s, issuer_of_record=e.by)
    return s


def _missed(s: PermitState, e: ev.HandoverMissed, r: Recorded[Any]) -> PermitState:
    return _handover(s, None, missed=(*s.handover.missed, e.boundary))


HANDOVER_EVOLVERS: dict[type[Any], Callable[[Any, Any, Recorded[Any]], PermitState]] = {
    ev.HandoverRecorded: _recorded,
    ev.HandoverAcknowledged: _acknowledged,
    ev.HandoverMissed: _missed,
}
