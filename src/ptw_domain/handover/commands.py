"""Commands of the handover area (section 4.9)."""

from __future__ import annotations

from uuid import UUID

from ptw_domain.commands import PermitCommand
from ptw_domain.events.handover import HandoverRole
from ptw_domain.permit.content import LongText
from ptw_domain.roles import Member
from ptw_domain.signatures import SignatureInput


class RecordHandover(PermitCommand, frozen=True, kw_only=True):
    """HOV-02: the outgoing holder (the actor) hands `role` over to `incoming`; the server adds the boundary
    and the snapshot."""

    handover_id: UUID
    role: HandoverRole
    incoming: Member
    notes: LongText = ""
    signature: SignatureInput  # SIG-01: the outgoing person signs


class AcknowledgeHandover(PermitCommand, frozen=True, kw_only=True):
    """HOV-04: the incoming person (the actor) takes over; for `isolating`, the locks become theirs (LOCK-03)."""

    handover_id: UUID
    signature: SignatureInput  # SIG-01: the incoming person signs
