"""Commands: imperative names, each carrying its actor and its time (TIME-01: `at` is stamped by the
service's clock when absent, so the decision functions never read a clock and replay reproduces them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar
from uuid import UUID

import msgspec
from msgspec import UNSET, Meta, UnsetType

from ptw_domain.events.permit import HandBackOutcome, SuspensionReason
from ptw_domain.events.project import ProjectSettings
from ptw_domain.permit.content import (
    Description,
    Location,
    LongText,
    Origin,
    PermitContent,
    Priority,
    Score,
    Short,
    Title,
    WorkNature,
)
from ptw_domain.presence import PresenceEvidence
from ptw_domain.roles import Actor, Member, RolePolicy
from ptw_domain.signatures import SignatureInput

Reason = Annotated[str, Meta(max_length=2_000)]


class CommandContext(msgspec.Struct, frozen=True, kw_only=True):
    """AUD-01 request facts copied onto every event the command records."""

    correlation_id: str | None = None
    causation_id: str | None = None
    client_app: str | None = None
    client_version: str | None = None
    device_id: str | None = None
    device_time: datetime | None = None
    idempotency_key: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    client_command_id: str | None = None


class Command(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every command."""

    name: ClassVar[str]
    actor: Actor
    at: datetime | None = None
    context: CommandContext = CommandContext()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = cls.__name__


class PermitCommand(Command, frozen=True, kw_only=True):
    """A command on one permit; `expected_version` is optimistic concurrency (SEC-10)."""

    permit_id: UUID
    expected_version: int | None = None
    delegation_id: UUID | None = None


class RunSweep(Command, frozen=True, kw_only=True):
    """The system's clock-driven sweep (TIME-03); its facts carry the system actor and the rule (AUD-12)."""


# --- configuration -------------------------------------------------------------------------------------------


class OpenProject(Command, frozen=True, kw_only=True):
    project_id: UUID
    organisation_id: UUID
    code: Annotated[str, Meta(min_length=1, max_length=20, pattern=r"^[A-Z0-9][A-Z0-9_-]*$")]
    title: Short
    time_zone: str = "UTC"
    settings: ProjectSettings = ProjectSettings()


class ChangeProjectSettings(Command, frozen=True, kw_only=True):
    project_id: UUID
    settings: ProjectSettings


class PublishRolePolicy(Command, frozen=True, kw_only=True):
    organisation_id: UUID
    policy: RolePolicy


class PublishTemplateVersion(Command, frozen=True, kw_only=True):
    organisation_id: UUID
    definition: dict[str, Any]


class RetireTemplate(Command, frozen=True, kw_only=True):
    organisation_id: UUID
    key: Short


class PublishTemplateOverride(Command, frozen=True, kw_only=True):
    project_id: UUID
    template_key: Short
    patch: dict[str, Any]


class WithdrawTemplateOverride(Command, frozen=True, kw_only=True):
    project_id: UUID
    template_key: Short


class GrantDelegation(Command, frozen=True, kw_only=True):
    delegation_id: UUID
    project_id: UUID
    delegate: Member
    role: Short
    permit_id: UUID | None = None
    valid_from: datetime | None = None
    valid_until: datetime


class RevokeDelegation(Command, frozen=True, kw_only=True):
    delegation_id: UUID
    reason: Reason


# --- permit workflow -----------------------------------------------------------------------------------------


class CreatePermit(Command, frozen=True, kw_only=True):
    permit_id: UUID
    project_id: UUID
    template_key: Short
    content: PermitContent
    origin: Origin = Origin.API
    client_ref: Short | None = None


class PermitChanges(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A partial update of permit content: only the fields given change."""

    description: Description | UnsetType = UNSET
    area: Short | UnsetType = UNSET
    location: Location | UnsetType = UNSET
    equipment_tags: Annotated[tuple[Short, ...], Meta(max_length=50)] | UnsetType = UNSET
    confined_space: bool | UnsetType = UNSET
    planned_start: datetime | UnsetType = UNSET
    planned_end: datetime | UnsetType = UNSET
    work_nature: WorkNature | UnsetType = UNSET
    performing_authority: Short | UnsetType | None = UNSET
    probability: Score | UnsetType = UNSET
    severity: Score | UnsetType = UNSET
    hazards: Annotated[tuple[LongText, ...], Meta(max_length=100)] | UnsetType = UNSET
    controls: Annotated[tuple[LongText, ...], Meta(max_length=100)] | UnsetType = UNSET
    ppe: Annotated[tuple[Short, ...], Meta(max_length=50)] | UnsetType = UNSET
    checklist_answers: Annotated[dict[Short, bool], Meta(max_length=300)] | UnsetType = UNSET
    emergency_arrangements: LongText | UnsetType = UNSET
    special_instructions: LongText | UnsetType = UNSET
    related_permits: tuple[UUID, ...] | UnsetType = UNSET
    predecessor_permit: UUID | UnsetType | None = UNSET
    title: Title | UnsetType = UNSET
    work_order_id: Short | UnsetType | None = UNSET
    gps: tuple[float, float] | UnsetType | None = UNSET
    priority: Priority | UnsetType = UNSET
    contacts: tuple[Short, ...] | UnsetType = UNSET
    notes: LongText | UnsetType = UNSET

    def given(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__struct_fields__ if getattr(self, f) is not UNSET}


class EditPermit(PermitCommand, frozen=True, kw_only=True):
    changes: PermitChanges


class AmendPermit(PermitCommand, frozen=True, kw_only=True):
    changes: PermitChanges
    reason: Reason = ""


class RebasePermitTemplate(PermitCommand, frozen=True, kw_only=True):
    pass


class NominateVerifier(PermitCommand, frozen=True, kw_only=True):
    verifier: Member


class SubmitPermit(PermitCommand, frozen=True, kw_only=True):
    signature: SignatureInput


class ResubmitPermit(PermitCommand, frozen=True, kw_only=True):
    signature: SignatureInput


class WithdrawPermit(PermitCommand, frozen=True, kw_only=True):
    reason: Reason = ""


class VerifyPermit(PermitCommand, frozen=True, kw_only=True):
    approvers: Annotated[tuple[Member, ...], Meta(max_length=5)]
    signature: SignatureInput


class RejectPermit(PermitCommand, frozen=True, kw_only=True):
    reason: Reason


class NominateApprovers(PermitCommand, frozen=True, kw_only=True):
    approvers: Annotated[tuple[Member, ...], Meta(max_length=5)]


class ApprovePermit(PermitCommand, frozen=True, kw_only=True):
    signature: SignatureInput


class SendBackPermit(PermitCommand, frozen=True, kw_only=True):
    reason: Reason


class CancelPermit(PermitCommand, frozen=True, kw_only=True):
    reason: Reason = ""


# --- execution -----------------------------------------------------------------------------------------------


class Acceptance(msgspec.Struct, frozen=True, kw_only=True):
    """The performing authority's side of issue and acceptance (SIG-01): who accepts and their signature."""

    acceptor: Member
    signature: SignatureInput


class ActivatePermit(PermitCommand, frozen=True, kw_only=True):
    signature: SignatureInput
    acceptance: Acceptance
    presence: PresenceEvidence | None = None  # SIG-12: required when the template asks for it


class SuspendPermit(PermitCommand, frozen=True, kw_only=True):
    reason_code: SuspensionReason
    text: Reason


class ResumePermit(PermitCommand, frozen=True, kw_only=True):
    signature: SignatureInput
    acceptance: Acceptance
    presence: PresenceEvidence | None = None  # SIG-12: required when the template asks for it


class RequestExtension(PermitCommand, frozen=True, kw_only=True):
    extension_id: UUID
    requested_end: datetime
    reason: Reason


class DecideExtension(PermitCommand, frozen=True, kw_only=True):
    extension_id: UUID
    approve: bool
    reason: Reason = ""
    reassessment_confirmed: bool = False
    signature: SignatureInput


class CompletePermit(PermitCommand, frozen=True, kw_only=True):
    outcome: HandBackOutcome
    site_safe: bool
    remaining_hazards: Reason = ""
    hot_work_ended_at: datetime | None = None
    signature: SignatureInput


class ClosePermit(PermitCommand, frozen=True, kw_only=True):
    inspected_at: datetime
    signature: SignatureInput
