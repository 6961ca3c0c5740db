"""evolve(state, event) -> state: the pure fold of the permit stream. It decides nothing; it records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from msgspec.structs import replace

from ptw_domain.closeout.evolve import CLOSEOUT_EVOLVERS
from ptw_domain.events import permit as ev
from ptw_domain.events.base import Recorded
from ptw_domain.gas.evolve import GAS_EVOLVERS
from ptw_domain.handover.evolve import HANDOVER_EVOLVERS
from ptw_domain.isolation.evolve import ISOLATION_EVOLVERS
from ptw_domain.people.evolve import PEOPLE_EVOLVERS  # each safety area folds its own events
from ptw_domain.permit.state import (
    Extension,
    ExtensionState,
    HandBack,
    PermitState,
    SignatureRecord,
    StatusChange,
    SuspensionCause,
)
from ptw_domain.permit.status import Status
from ptw_domain.records.evolve import RECORDS_EVOLVERS
from ptw_domain.signatures import Signature


def _moved(state: PermitState, to: Status, event: Recorded[Any], **changes: Any) -> PermitState:
    change = StatusChange(status=to, at=event.occurred_at, version=event.version, event=event.type)
    return replace(state, status=to, history=(*state.history, change), **changes)


def _signed(state: PermitState, *signatures: Signature) -> tuple[SignatureRecord, ...]:
    return (*state.signatures, *(SignatureRecord(signature=s) for s in signatures))


def _set_extension(permit: PermitState, extension_id: Any, **changes: Any) -> tuple[Extension, ...]:
    return tuple(replace(e, **changes) if e.extension_id == extension_id else e for e in permit.extensions)


def _drafted(_: PermitState | None, e: ev.PermitDrafted, r: Recorded[Any]) -> PermitState:
    return PermitState(
        permit_id=e.permit_id,
        project_id=e.project_id,
        organisation_id=e.organisation_id,
        number=e.number,
        template=e.template,
        category=e.category,
        inherent_risk_level=e.inherent_risk_level,
        content=e.content,
        requestor=e.requestor,
        origin=e.origin,
        client_ref=e.client_ref,
        created_at=r.occurred_at,
        version=r.version,
        valid_until=e.content.planned_end,
        history=(StatusChange(status=Status.DRAFT, at=r.occurred_at, version=r.version, event=r.type),),
    )


def _edited(s: PermitState, e: ev.PermitEdited, r: Recorded[Any]) -> PermitState:
    if s.status in (Status.DRAFT, Status.REJECTED):
        return replace(s, content=e.content, valid_until=e.content.planned_end)
    return replace(s, content=e.content)


def _amended(s: PermitState, e: ev.PermitAmended, r: Recorded[Any]) -> PermitState:
    return _moved(
        s,
        Status.DRAFT,
        r,
        content=e.content,
        valid_until=e.content.planned_end,
        approvers=(),
        approved_at=None,
        approved_by=None,
        approved_on_behalf_of=None,
    )


def _rebased(s: PermitState, e: ev.PermitTemplateRebased, r: Recorded[Any]) -> PermitState:
    return replace(s, template=e.template, inherent_risk_level=e.inherent_risk_level)


def _verifier(s: PermitState, e: ev.VerifierNominated, r: Recorded[Any]) -> PermitState:
    return replace(s, verifier=e.verifier)


def _submitted(s: PermitState, e: ev.PermitSubmitted, r: Recorded[Any]) -> PermitState:
    return _moved(
        s,
        Status.SUBMITTED,
        r,
        cycle=e.cycle,
        submitted_at=r.occurred_at,
        verified_at=None,
        verified_by=None,
        verified_on_behalf_of=None,
        approvers=(),
        approved_at=None,
        approved_by=None,
        approved_on_behalf_of=None,
        signatures=_signed(s, e.signature),
    )


def _withdrawn(s: PermitState, e: ev.PermitWithdrawn, r: Recorded[Any]) -> PermitState:
    return _moved(s, Status.DRAFT, r, approvers=())


def _verified(s: PermitState, e: ev.PermitVerified, r: Recorded[Any]) -> PermitState:
    return _moved(
        s,
        Status.UNDER_REVIEW,
        r,
        approvers=e.approvers,
        verified_at=r.occurred_at,
        verified_by=e.verifier,
        verified_on_behalf_of=e.on_behalf_of,
        signatures=_signed(s, e.signature),
    )


def _approvers(s: PermitState, e: ev.ApproversNominated, r: Recorded[Any]) -> PermitState:
    return replace(s, approvers=e.approvers)


def _approved(s: PermitState, e: ev.PermitApproved, r: Recorded[Any]) -> PermitState:
    return _moved(
        s,
        Status.APPROVED,
        r,
        approved_at=r.occurred_at,
        approved_by=e.approver,
        approved_on_behalf_of=e.on_behalf_of,
        signatures=_signed(s, e.signature),
    )


def _rejected(s: PermitState, e: ev.PermitRejected, r: Recorded[Any]) -> PermitState:
    return _moved(s, Status.REJECTED, r, approvers=())


def _sent_back(s: PermitState, e: ev.PermitSentBack, r: Recorded[Any]) -> PermitState:
    return _moved(s, Status.SUBMITTED, r, verified_at=None, verified_by=None, verified_on_behalf_of=None)


def _invalidated(s: PermitState, e: ev.SignaturesInvalidated, r: Recorded[Any]) -> PermitState:
    ids = set(e.signature_ids)
    records = tuple(
        replace(rec, invalidated_by_version=r.version, invalidation_reason=e.reason)
        if rec.signature.signature_id in ids and rec.valid
        else rec
        for rec in s.signatures
    )
    return replace(s, signatures=records)


def _cancelled(s: PermitState, e: ev.PermitCancelled, r: Recorded[Any]) -> PermitState:
    return _moved(s, Status.CANCELLED, r, cancel_reason=e.reason)


def _activated(s: PermitState, e: ev.PermitActivated, r: Recorded[Any]) -> PermitState:
    return _moved(
        s,
        Status.ACTIVE,
        r,
        activated_at=s.activated_at or r.occurred_at,
        issuer_of_record=e.issuer,
        valid_until=e.valid_until,
        signatures=_signed(s, *e.signatures),
    )


def _suspended(s: PermitState, e: ev.PermitSuspended, r: Recorded[Any]) -> PermitState:
    cause = SuspensionCause(
        reason_code=e.reason_code, text=e.text, cause_ref=e.cause_ref, at=r.occurred_at, by_system=e.by_system
    )
    if s.status is Status.SUSPENDED:
        return replace(s, suspensions=(*s.suspensions, cause))
    return _moved(s, Status.SUSPENDED, r, suspensions=(cause,))


def _resumed(s: PermitState, e: ev.PermitResumed, r: Recorded[Any]) -> PermitState:
    return _moved(
        s, Status.ACTIVE, r, suspensions=(), issuer_of_record=e.issuer, signatures=_signed(s, *e.signatures)
    )


def _ext_requested(s: PermitState, e: ev.ExtensionRequested, r: Recorded[Any]) -> PermitState:
    extension = Extension(
        extension_id=e.extension_id,
        requested_by=e.requested_by,
        requested_at=r.occurred_at,
        current_end=e.current_end,
        requested_end=e.requested_end,
        reason=e.reason,
        shift_change=e.shift_change,
    )
    return replace(s, extensions=(*s.extensions, extension))


def _ext_approved(s: PermitState, e: ev.ExtensionApproved, r: Recorded[Any]) -> PermitState:
    extensions = _set_extension(s, e.extension_id, state=ExtensionState.APPROVED, decided_by=e.decided_by)
    return replace(
        s, extensions=extensions, valid_until=e.new_valid_until, signatures=_signed(s, e.signature)
    )


def _ext_rejected(s: PermitState, e: ev.ExtensionRejected, r: Recorded[Any]) -> PermitState:
    extensions = _set_extension(s, e.extension_id, state=ExtensionState.REJECTED, decided_by=e.decided_by)
    return replace(s, extensions=extensions, signatures=_signed(s, e.signature))


def _ext_lapsed(s: PermitState, e: ev.ExtensionLapsed, r: Recorded[Any]) -> PermitState:
    return replace(s, extensions=_set_extension(s, e.extension_id, state=ExtensionState.LAPSED))


def _completed(s: PermitState, e: ev.PermitCompleted, r: Recorded[Any]) -> PermitState:
    hand_back = HandBack(
        outcome=e.outcome,
        site_safe=e.site_safe,
        remaining_hazards=e.remaining_hazards,
        hot_work_ended_at=e.hot_work_ended_at,
        handed_back_by=e.handed_back_by,
        performing_authority=e.performing_authority,
        at=r.occurred_at,
    )
    return _moved(
        s,
        Status.COMPLETED,
        r,
        hand_back=hand_back,
        suspensions=(),
        successor_required=e.outcome is ev.HandBackOutcome.INCOMPLETE,
        signatures=_signed(s, e.signature),
    )


def _fire_watch(s: PermitState, e: ev.FireWatchStarted, r: Recorded[Any]) -> PermitState:
    return replace(s, fire_watch_started_at=e.started_at, fire_watch_minutes=e.minutes)


def _closed(s: PermitState, e: ev.PermitClosed, r: Recorded[Any]) -> PermitState:
    return _moved(
        s,
        Status.CLOSED,
        r,
        closed_at=r.occurred_at,
        closed_by=e.closed_by,
        signatures=_signed(s, e.signature),
    )


def _expired(s: PermitState, e: ev.PermitExpired, r: Recorded[Any]) -> PermitState:
    return _moved(s, Status.EXPIRED, r, expired_at=e.expired_at, expiry_reason=e.reason)


Evolver = Callable[[Any, Any, Recorded[Any]], PermitState]

_EVOLVERS: dict[type[ev.PermitEvent], Evolver] = {
    ev.PermitDrafted: _drafted,
    ev.PermitEdited: _edited,
    ev.PermitAmended: _amended,
    ev.PermitTemplateRebased: _rebased,
    ev.VerifierNominated: _verifier,
    ev.PermitSubmitted: _submitted,
    ev.PermitWithdrawn: _withdrawn,
    ev.PermitVerified: _verified,
    ev.ApproversNominated: _approvers,
    ev.PermitApproved: _approved,
    ev.PermitRejected: _rejected,
    ev.PermitSentBack: _sent_back,
    ev.SignaturesInvalidated: _invalidated,
    ev.PermitCancelled: _cancelled,
    ev.PermitActivated: _activated,
    ev.PermitSuspended: _suspended,
    ev.PermitResumed: _resumed,
    ev.ExtensionRequested: _ext_requested,
    ev.ExtensionApproved: _ext_approved,
    ev.ExtensionRejected: _ext_rejected,
    ev.ExtensionLapsed: _ext_lapsed,
    ev.PermitCompleted: _completed,
    ev.FireWatchStarted: _fire_watch,
    ev.PermitClosed: _closed,
    ev.PermitExpired: _expired,
}


_AREA_EVOLVERS: dict[type[Any], Evolver] = {
    **_EVOLVERS,
    **PEOPLE_EVOLVERS,
    **GAS_EVOLVERS,
    **ISOLATION_EVOLVERS,
    **HANDOVER_EVOLVERS,
    **CLOSEOUT_EVOLVERS,
    **RECORDS_EVOLVERS,
}


def evolve_permit(state: PermitState | None, recorded: Recorded[Any]) -> PermitState:
    """Apply one recorded permit event; the stream version always advances by one (LIFE-24)."""
    payload = recorded.payload
    evolver = _AREA_EVOLVERS[type(payload)]
    if state is None and not isinstance(payload, ev.PermitDrafted):
        raise ValueError(f"a permit stream starts with PermitDrafted, not {recorded.type}")
    new_state = evolver(state, payload, recorded)
    return replace(new_state, version=recorded.version)


def when(state: PermitState, event_type: str) -> datetime | None:
    """The latest time the permit moved by the given event type (for ages and SLAs)."""
    return next((c.at for c in reversed(state.history) if c.event == event_type), None)
