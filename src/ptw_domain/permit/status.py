"""Permit statuses and the status groups of section 4.2, the only definitions used elsewhere (LIFE-03)."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    REJECTED = "rejected"
    APPROVED = "approved"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    COMPLETED = "completed"
    CLOSED = "closed"
    CANCELLED = "cancelled"


LIVE = frozenset({Status.ACTIVE, Status.SUSPENDED})
HOLDING = frozenset({Status.APPROVED, Status.ACTIVE, Status.SUSPENDED, Status.EXPIRED})
SIMOPS_CANDIDATE = frozenset(
    {Status.SUBMITTED, Status.UNDER_REVIEW, Status.APPROVED, Status.ACTIVE, Status.SUSPENDED, Status.EXPIRED}
)
TERMINAL = frozenset({Status.CLOSED, Status.CANCELLED})
