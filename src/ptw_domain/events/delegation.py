"""Delegation streams (DEL-01..04): a task moves to another qualified member, the qualification does not."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ptw_domain.events.base import DomainEvent
from ptw_domain.roles import Member


class DelegationGranted(DomainEvent, frozen=True, kw_only=True):
    stream = "delegation"
    delegation_id: UUID
    project_id: UUID
    delegator: str
    delegate: Member
    role: str
    permit_id: UUID | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None


class DelegationRevoked(DomainEvent, frozen=True, kw_only=True):
    stream = "delegation"
    delegation_id: UUID
    revoked_by: str
    reason: str
