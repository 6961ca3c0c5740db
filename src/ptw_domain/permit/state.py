"""The permit's state as folded from its events. Derived values (risk, core hash, validity) are computed here
and never accepted from a client (LIFE-01)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

import msgspec

from ptw_domain.canonical import sha256_hex
from ptw_domain.closeout.state import CloseoutState
from ptw_domain.gas.state import GasState
from ptw_domain.handover.state import HandoverState
from ptw_domain.isolation.state import PermitIsolations
from ptw_domain.people.state import PeopleState
from ptw_domain.permit.content import CORE_FIELDS, Origin, PermitContent
from ptw_domain.permit.status import Status
from ptw_domain.records.state import RecordsState
from ptw_domain.risk import RiskLevel, effective_risk_level, risk_level, risk_score
from ptw_domain.roles import Member
from ptw_domain.signatures import Signature
from ptw_domain.templates import TemplateRef


class ExtensionState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    LAPSED = "lapsed"


class Extension(msgspec.Struct, frozen=True, kw_only=True):
    extension_id: UUID
    requested_by: str
    requested_at: datetime
    current_end: datetime
    requested_end: datetime
    reason: str
    shift_change: bool
    state: ExtensionState = ExtensionState.PENDING
    decided_by: str | None = None


class SuspensionCause(msgspec.Struct, frozen=True, kw_only=True):
    reason_code: str
    text: str
    cause_ref: str | None
    at: datetime
    by_system: bool


class StatusChange(msgspec.Struct, frozen=True, kw_only=True):
    status: Status
    at: datetime
    version: int
    event: str


class SignatureRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A signature and, once undone, the version of the event that invalidated it (SIG-11)."""

    signature: Signature
    invalidated_by_version: int | None = None
    invalidation_reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.invalidated_by_version is None


class HandBack(msgspec.Struct, frozen=True, kw_only=True):
    outcome: str
    site_safe: bool
    remaining_hazards: str
    hot_work_ended_at: datetime | None
    handed_back_by: str
    performing_authority: str
    at: datetime


class PermitState(msgspec.Struct, frozen=True, kw_only=True):
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
    client_ref: str | None
    created_at: datetime
    version: int
    status: Status = Status.DRAFT
    cycle: int = 0
    valid_until: datetime
    verifier: Member | None = None
    approvers: tuple[Member, ...] = ()
    verified_by: str | None = None
    verified_on_behalf_of: str | None = None
    submitted_at: datetime | None = None
    verified_at: datetime | None = None
    approved_at: datetime | None = None
    approved_by: str | None = None
    approved_on_behalf_of: str | None = None
    activated_at: datetime | None = None
    issuer_of_record: str | None = None
    signatures: tuple[SignatureRecord, ...] = ()
    suspensions: tuple[SuspensionCause, ...] = ()
    extensions: tuple[Extension, ...] = ()
    hand_back: HandBack | None = None
    fire_watch_started_at: datetime | None = None
    fire_watch_minutes: int | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    cancel_reason: str | None = None
    expired_at: datetime | None = None
    expiry_reason: str | None = None
    successor_required: bool = False
    history: tuple[StatusChange, ...] = ()
    people: PeopleState = PeopleState()
    gas: GasState = msgspec.field(default_factory=GasState)
    handover: HandoverState = HandoverState()
    handed_over_pa: str | None = None  # HOV-04: the PA by an acknowledged performing handover
    closeout: CloseoutState = CloseoutState()
    isolations: PermitIsolations = PermitIsolations()
    records: RecordsState = RecordsState()  # attachments, annotations, linked incidents

    @property
    def performing_authority(self) -> str:
        """The PA is the requestor unless another requestor-role member is designated (WRK-02), until a
        performing handover is acknowledged: then the incoming person (HOV-04)."""
        return self.handed_over_pa or self.content.performing_authority or self.requestor

    @property
    def risk_score(self) -> int:
        return risk_score(self.content.probability, self.content.severity)

    @property
    def risk_level(self) -> RiskLevel:
        return risk_level(self.risk_score)

    @property
    def effective_risk_level(self) -> RiskLevel:
        return effective_risk_level(self.risk_level, self.inherent_risk_level)

    @property
    def core_hash(self) -> str:
        """SIG-06: SHA-256 over the core fields, the template reference and the cycle."""
        return core_hash_of(self.content, self.template, self.cycle)

    @property
    def ever_activated(self) -> bool:
        return self.activated_at is not None

    def valid_signatures(self, cycle: int | None = None) -> tuple[Signature, ...]:
        """Signatures not invalidated, of the given cycle (default: current) — SIG-08."""
        wanted = self.cycle if cycle is None else cycle
        return tuple(r.signature for r in self.signatures if r.valid and r.signature.cycle == wanted)

    @property
    def pending_extension(self) -> Extension | None:
        return next((e for e in self.extensions if e.state is ExtensionState.PENDING), None)

    def counted_extensions(self) -> int:
        """EXT-02: approved plus pending; rejected and lapsed do not count."""
        return sum(e.state in (ExtensionState.APPROVED, ExtensionState.PENDING) for e in self.extensions)


def core_hash_of(content: PermitContent, template: TemplateRef, cycle: int) -> str:
    """SIG-06 from its three inputs, for readers that keep the content of a past version but not its state."""
    fields = msgspec.to_builtins(content)
    core = {name: fields[name] for name in sorted(CORE_FIELDS)}
    return sha256_hex({"core": core, "template": template, "cycle": cycle})
