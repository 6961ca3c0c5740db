"""Commands of the handover area (section 4.9)."""

from __future__ import annotations

from uuid import UUID

from ptw_domain.commands import PermitCommand
from ptw_domain.events.handover import HandoverRole
from ptw_domain.permit.content import LongText
from ptw_domain.roles import Member


class RecordHandover(PermitCommand, frozen=True, kw_only=True):
    """HOV-02: the outgoing holder (the actor) hands `role` over to `incoming`; the server adds the boundary
    and the snapshot."""

    handover_id: UUID
    role: HandoverRole
    incoming: Member
    notes: LongText = ""


class AcknowledgeHandover(PermitCommand, frozen=True, kw_only=True):
    """HOV-04: the incoming person (the actor) takes over."""

    handover_id: UUID
