"""Shift handover events on the permit stream (section 4.9, HOV-01..04)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

import msgspec

from ptw_domain.events.permit import PermitEvent
from ptw_domain.roles import Member
from ptw_domain.signatures import Signature


class HandoverRole(StrEnum):
    """HOV-02: what is handed over: the performing authority, the issuing authority or the isolation locks."""

    PERFORMING = "performing"
    ISSUING = "issuing"
    ISOLATING = "isolating"


class GasSessionSummary(msgspec.Struct, frozen=True, kw_only=True):
    session_id: UUID
    completed_at: datetime
    verdict: str


class IsolationSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One isolation of the permit as it stands: which point, how far (ISO-04), whose locks, which category."""

    isolation_id: UUID
    point_code: str
    status: str
    required: bool
    lock_ids: tuple[str, ...] = ()
    achieved_category: str | None = None


class LockSummary(msgspec.Struct, frozen=True, kw_only=True):
    lock_id: str
    worker_id: UUID
    applied_at: datetime


class ConflictSummary(msgspec.Struct, frozen=True, kw_only=True):
    """An open SIMOPS conflict of the permit: the rule, how severe, and the permit on the other side."""

    conflict_id: UUID
    rule: str
    severity: str
    other_permit: UUID


class HandoverSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """HOV-02: what the incoming person takes over, as the permit's state holds it when the handover is recorded:
    the permit, its isolations, personal locks, last gas session, open conflicts, people inside and a pending
    extension. Fields added later have defaults, so handovers recorded before them still decode."""

    status: str
    performing_authority: str
    issuer_of_record: str | None
    valid_until: datetime
    people_inside: tuple[UUID, ...] = ()
    suspension_reasons: tuple[str, ...] = ()
    pending_extension: UUID | None = None
    pending_extension_end: datetime | None = None
    last_gas_session: GasSessionSummary | None = None
    isolations: tuple[IsolationSummary, ...] = ()
    personal_locks: tuple[LockSummary, ...] = ()
    open_conflicts: tuple[ConflictSummary, ...] = ()


class HandoverRecorded(PermitEvent, frozen=True, kw_only=True):
    handover_id: UUID
    boundary: datetime  # the shift boundary this handover is for (HOV-02)
    role: HandoverRole
    outgoing: str
    incoming: Member  # as nominated, with the level and company kind checked (ROLE-06)
    notes: str
    snapshot: HandoverSnapshot
    late: bool = False  # recorded after the boundary's grace, to clear a missed handover (HOV-04)
    policy_version: int = 0
    signature: Signature | None = None  # the outgoing person's (SIG-01); None before handovers were signed


class HandoverAcknowledged(PermitEvent, frozen=True, kw_only=True):
    handover_id: UUID
    by: str
    policy_version: int = 0
    signature: Signature | None = None  # the incoming person's (SIG-01); None before handovers were signed


class HandoverMissed(PermitEvent, frozen=True, kw_only=True):
    """HOV-03: no performing handover was acknowledged for `boundary` by `due_at` (boundary + grace)."""

    boundary: datetime
    due_at: datetime
    detected_at: datetime
