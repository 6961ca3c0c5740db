"""Permit stream events of the lifecycle (section 4.3), extensions (4.8) and hand-back/close (T17, T18)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from ptw_domain.events.base import DomainEvent
from ptw_domain.permit.content import FieldChange, Origin, PermitContent
from ptw_domain.presence import PresenceEvidence
from ptw_domain.risk import RiskLevel
from ptw_domain.roles import Member
from ptw_domain.signatures import Signature
from ptw_domain.templates import TemplateRef


class PermitEvent(DomainEvent, frozen=True, kw_only=True):
    stream = "permit"
    abstract = True


class PermitDrafted(PermitEvent, frozen=True, kw_only=True):
    permit_id: UUID
    project_id: UUID
    organisation_id: UUID
    number: str
    template: TemplateRef
    category: str
    inherent_risk_level: RiskLevel
    content: PermitContent
    requestor: str
    origin: Origin
    client_ref: str | None = None


class PermitEdited(PermitEvent, frozen=True, kw_only=True):
    changed: dict[str, FieldChange]
    content: PermitContent


class PermitAmended(PermitEvent, frozen=True, kw_only=True):
    changed: dict[str, FieldChange]
    content: PermitContent
    previous_status: str


class PermitTemplateRebased(PermitEvent, frozen=True, kw_only=True):
    previous: TemplateRef
    template: TemplateRef
    inherent_risk_level: RiskLevel


class VerifierNominated(PermitEvent, frozen=True, kw_only=True):
    verifier: Member
    previous: str | None
    policy_version: int


class PermitSubmitted(PermitEvent, frozen=True, kw_only=True):
    cycle: int
    verifier: str
    signature: Signature
    resubmission: bool = False


class PermitWithdrawn(PermitEvent, frozen=True, kw_only=True):
    cycle: int
    reason: str = ""


class PermitVerified(PermitEvent, frozen=True, kw_only=True):
    cycle: int
    verifier: str
    on_behalf_of: str | None = None
    approvers: tuple[Member, ...]
    signature: Signature
    policy_version: int


class ApproversNominated(PermitEvent, frozen=True, kw_only=True):
    approvers: tuple[Member, ...]
    withdrawn: tuple[str, ...]
    policy_version: int


class PermitApproved(PermitEvent, frozen=True, kw_only=True):
    cycle: int
    approver: str
    on_behalf_of: str | None = None
    signature: Signature
    policy_version: int


class RejectionStage(StrEnum):
    VERIFICATION = "verification"
    APPROVAL = "approval"


class PermitRejected(PermitEvent, frozen=True, kw_only=True):
    cycle: int
    stage: RejectionStage
    reason: str
    rejected_by: str


class PermitSentBack(PermitEvent, frozen=True, kw_only=True):
    cycle: int
    reason: str
    sent_back_by: str


class SignaturesInvalidated(PermitEvent, frozen=True, kw_only=True):
    signature_ids: tuple[UUID, ...]
    reason: str
    changed_fields: tuple[str, ...] = ()


class PermitCancelled(PermitEvent, frozen=True, kw_only=True):
    reason: str
    previous_status: str
    cancelled_by: str


class PermitActivated(PermitEvent, frozen=True, kw_only=True):
    issuer: str
    acceptor: str
    on_behalf_of: str | None = None
    signatures: tuple[Signature, ...]
    valid_until: datetime
    sod_relaxed: bool = False
    policy_version: int
    presence: PresenceEvidence | None = None  # SIG-12; absent on events recorded before it


class SuspensionReason(StrEnum):
    """LIFE-18 reason codes."""

    MANUAL = "manual"
    GAS_TEST_FAILED = "gas_test_failed"
    GAS_RETEST_OVERDUE = "gas_retest_overdue"
    HANDOVER_MISSED = "handover_missed"
    PROHIBITED_CONDITION = "prohibited_condition"
    OTHER = "other"


def _suspended_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 held one free-text `reason`; v2 splits it into a reason code and the text (LIFE-18)."""
    upgraded = {k: v for k, v in payload.items() if k != "reason"}
    upgraded.setdefault("reason_code", SuspensionReason.OTHER.value)
    upgraded.setdefault("text", payload.get("reason", ""))
    upgraded.setdefault("by_system", False)
    return upgraded


class PermitSuspended(PermitEvent, frozen=True, kw_only=True):
    schema_version = 2
    upcasters = {1: _suspended_v1_to_v2}  # noqa: RUF012 - a ClassVar declared on DomainEvent
    reason_code: SuspensionReason
    text: str
    cause_ref: str | None = None
    by_system: bool = False
    suspended_by: str | None = None


class PermitResumed(PermitEvent, frozen=True, kw_only=True):
    issuer: str
    acceptor: str
    on_behalf_of: str | None = None
    signatures: tuple[Signature, ...]
    cleared_reasons: tuple[SuspensionReason, ...]
    sod_relaxed: bool = False
    policy_version: int
    presence: PresenceEvidence | None = None  # SIG-12; absent on events recorded before it


class ExtensionRequested(PermitEvent, frozen=True, kw_only=True):
    extension_id: UUID
    requested_by: str
    current_end: datetime
    requested_end: datetime
    reason: str
    shift_change: bool


class ExtensionApproved(PermitEvent, frozen=True, kw_only=True):
    extension_id: UUID
    old_valid_until: datetime
    new_valid_until: datetime
    decided_by: str
    on_behalf_of: str | None = None
    signature: Signature
    reassessment_confirmed: bool = False
    policy_version: int


class ExtensionRejected(PermitEvent, frozen=True, kw_only=True):
    extension_id: UUID
    decided_by: str
    on_behalf_of: str | None = None
    reason: str
    signature: Signature


class ExtensionLapsed(PermitEvent, frozen=True, kw_only=True):
    extension_id: UUID
    reason: str


class HandBackOutcome(StrEnum):
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"


class PermitCompleted(PermitEvent, frozen=True, kw_only=True):
    outcome: HandBackOutcome
    site_safe: bool
    remaining_hazards: str = ""
    hot_work_ended_at: datetime | None = None
    handed_back_by: str
    performing_authority: str
    checklist_ref: str | None = None
    signature: Signature


class FireWatchStarted(PermitEvent, frozen=True, kw_only=True):
    started_at: datetime
    minutes: int


class PermitClosed(PermitEvent, frozen=True, kw_only=True):
    closed_by: str
    on_behalf_of: str | None = None
    inspected_at: datetime
    checklist_ref: str | None = None
    signature: Signature
    policy_version: int


class ExpiryReason(StrEnum):
    START_WINDOW_MISSED = "start_window_missed"
    VALIDITY_ENDED = "validity_ended"


class PermitExpired(PermitEvent, frozen=True, kw_only=True):
    reason: ExpiryReason
    expired_at: datetime
    detected_at: datetime
    previous_status: str
