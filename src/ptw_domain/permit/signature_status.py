"""SIG-11 and SIG-13: how a signature reads today — valid, invalidated (by which event) or broken — and its time
shown to the second in project time with the offset.

Broken means the scope the signature names no longer matches what the events say was signed: replaying the
permit to the version the signer reviewed gives another core hash. That can only happen if stored events were
altered, even when the alteration re-computed the hash chain consistently (AUD-04).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

import msgspec

from ptw_domain.permit.state import PermitState, core_hash_of
from ptw_domain.signatures import Signature


class SignatureStatus(StrEnum):
    VALID = "valid"
    INVALIDATED = "invalidated"
    BROKEN = "broken"


class SignatureView(msgspec.Struct, frozen=True, kw_only=True):
    signature: Signature
    status: SignatureStatus
    invalidated_by_version: int | None = None
    invalidation_reason: str | None = None
    signed_at_local: str


def display_instant(instant: datetime, time_zone: str) -> str:
    """SIG-13: to the second, in project time, with the offset (e.g. `2026-11-25 09:00:05+01:00`)."""
    return instant.astimezone(ZoneInfo(time_zone)).isoformat(sep=" ", timespec="seconds")


def signature_views(
    state: PermitState, signed_states: Mapping[int, PermitState], time_zone: str
) -> list[SignatureView]:
    """Each signature of `state` with its status; `signed_states` holds the permit at each signed version."""

    def core_hash_at(version: int, cycle: int) -> str | None:
        found = signed_states.get(version)
        return core_hash_of(found.content, found.template, cycle) if found is not None else None

    return signature_views_from(state, core_hash_at, time_zone)


def signature_views_from(
    state: PermitState, core_hash_at: Callable[[int, int], str | None], time_zone: str
) -> list[SignatureView]:
    """The same, for a reader that knows the core hash (SIG-06) of the content and template in force at each
    past version (`core_hash_at(version, cycle)`, None for a version it has no content of)."""
    views = []
    for record in state.signatures:
        signature = record.signature
        if core_hash_at(signature.permit_version, signature.cycle) != signature.core_hash:
            status = SignatureStatus.BROKEN
        elif record.valid:
            status = SignatureStatus.VALID
        else:
            status = SignatureStatus.INVALIDATED
        views.append(
            SignatureView(
                signature=signature,
                status=status,
                invalidated_by_version=record.invalidated_by_version,
                invalidation_reason=record.invalidation_reason,
                signed_at_local=display_instant(signature.signed_at, time_zone),
            )
        )
    return views
