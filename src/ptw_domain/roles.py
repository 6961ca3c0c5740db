"""Who may act: project roles, authority levels, company kinds and the versioned role policy (ROLE-01..08).

Memberships come from the caller's token (ROLE-08) and produce no events; the policy fixing the minimum
authority level per signing step is versioned and recorded on every signing event (ROLE-06).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec

from ptw_domain.findings import Finding
from ptw_domain.risk import RiskLevel


class Role(StrEnum):
    """ROLE-01 project roles."""

    REQUESTOR = "requestor"
    VERIFIER = "verifier"
    APPROVER = "approver"
    AREA_AUTHORITY = "area_authority"
    ISOLATING_AUTHORITY = "isolating_authority"
    GAS_TESTER = "gas_tester"
    FIRE_WATCH = "fire_watch"
    SAFETY_OFFICER = "safety_officer"
    WORKER = "worker"
    PROJECT_ADMIN = "project_admin"
    AUDITOR = "auditor"
    INTEGRATION = "integration"


class CompanyKind(StrEnum):
    """ROLE-03 company kinds (ROLE-05 maps client -> owner, EPC -> principal_contractor)."""

    OWNER = "owner"
    PRINCIPAL_CONTRACTOR = "principal_contractor"
    CONTRACTOR = "contractor"


class ActorKind(StrEnum):
    """AUD-01 actor kinds; `system` acts for sweeps and automatic consequences (AUD-12)."""

    USER = "user"
    SERVICE = "service"
    SYSTEM = "system"


class Step(StrEnum):
    """Signing steps of the role policy (ROLE-04)."""

    VERIFY = "verify"
    APPROVE = "approve"  # also issue and decide extension
    CLOSE = "close"
    REQUEST = "request"  # also accept as performing authority


class Member(msgspec.Struct, frozen=True, kw_only=True):
    """A person's membership of one project, as their identity provider states it (ROLE-02, ROLE-03)."""

    person_id: str
    name: str = ""
    roles: frozenset[Role] = frozenset()
    authority_level: int = 1
    company_id: str = ""
    company_kind: CompanyKind = CompanyKind.CONTRACTOR


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """The principal running a command: membership plus authentication facts (SEC-01)."""

    member: Member
    kind: ActorKind = ActorKind.USER
    auth_time: datetime | None = None
    auth_method: str = "token"
    org_admin: bool = False

    @property
    def person_id(self) -> str:
        return self.member.person_id

    def has(self, role: Role) -> bool:
        return role in self.member.roles


def is_integration(actor: Actor) -> bool:
    """ROLE-07, SEC-02: a service principal, or a member holding the integration role."""
    return actor.kind is ActorKind.SERVICE or Role.INTEGRATION in actor.member.roles


SYSTEM_ACTOR = Actor(
    member=Member(person_id="system", name="ptw sweep", roles=frozenset()), kind=ActorKind.SYSTEM
)


class StepRule(msgspec.Struct, frozen=True, kw_only=True):
    """Minimum authority level per effective risk level and the company kinds allowed for one step."""

    min_level: dict[RiskLevel, int]
    company_kinds: frozenset[CompanyKind] | None = None  # None = any


class RolePolicy(msgspec.Struct, frozen=True, kw_only=True):
    """ROLE-04: the versioned table; version 0 is the built-in default."""

    version: int
    steps: dict[Step, StepRule]


_OWNERS = frozenset({CompanyKind.OWNER, CompanyKind.PRINCIPAL_CONTRACTOR})
_L, _M, _H, _X = RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH, RiskLevel.EXTREME

DEFAULT_ROLE_POLICY = RolePolicy(
    version=0,
    steps={
        Step.VERIFY: StepRule(min_level={_L: 1, _M: 1, _H: 2, _X: 2}, company_kinds=_OWNERS),
        Step.APPROVE: StepRule(min_level={_L: 2, _M: 2, _H: 3, _X: 3}, company_kinds=_OWNERS),
        Step.CLOSE: StepRule(min_level={_L: 2, _M: 2, _H: 2, _X: 3}, company_kinds=_OWNERS),
        Step.REQUEST: StepRule(min_level={_L: 1, _M: 1, _H: 1, _X: 1}, company_kinds=None),
    },
)

STEP_ROLES: dict[Step, frozenset[Role]] = {
    Step.VERIFY: frozenset({Role.VERIFIER}),
    Step.APPROVE: frozenset({Role.APPROVER}),
    Step.CLOSE: frozenset({Role.APPROVER, Role.AREA_AUTHORITY}),
    Step.REQUEST: frozenset({Role.REQUESTOR}),
}


def step_eligibility(
    member: Member, step: Step, risk: RiskLevel, policy: RolePolicy, *, who: str = "actor"
) -> list[Finding]:
    """ROLE-04/ROLE-06: the reasons `member` may not sign `step` at `risk` under `policy` (empty = eligible)."""
    findings: list[Finding] = []
    roles = STEP_ROLES[step]
    if not roles & member.roles:
        findings.append(
            Finding(
                rule="ROLE-04",
                code="role_missing",
                message=f"{who} holds none of the roles {sorted(r.value for r in roles)} needed to {step}",
                facts={
                    "person_id": member.person_id,
                    "step": step,
                    "needs_any_of": sorted(r.value for r in roles),
                },
            )
        )
    rule = policy.steps[step]
    needed = rule.min_level[risk]
    if member.authority_level < needed:
        findings.append(
            Finding(
                rule="ROLE-04",
                code="authority_level_too_low",
                message=f"{who} has authority level {member.authority_level}; {step} at {risk} risk "
                f"needs {needed}",
                facts={
                    "person_id": member.person_id,
                    "step": step,
                    "risk_level": risk,
                    "authority_level": member.authority_level,
                    "required_level": needed,
                    "policy_version": policy.version,
                },
            )
        )
    if rule.company_kinds is not None and member.company_kind not in rule.company_kinds:
        findings.append(
            Finding(
                rule="ROLE-04",
                code="company_kind_not_allowed",
                message=f"{who} works for a {member.company_kind}; {step} needs "
                f"{' or '.join(sorted(rule.company_kinds))}",
                facts={
                    "person_id": member.person_id,
                    "step": step,
                    "company_kind": member.company_kind,
                    "allowed": sorted(rule.company_kinds),
                    "policy_version": policy.version,
                },
            )
        )
    return findings


_LEGACY_GRADES = {"A": 3, "B": 2, "C": 1}
_LEGACY_COMPANY_KINDS = {
    "client": CompanyKind.OWNER,
    "epc": CompanyKind.PRINCIPAL_CONTRACTOR,
    "contractor": CompanyKind.CONTRACTOR,
}


def migrated_member(
    person_id: str,
    *,
    grade: str,
    company_kind: str,
    roles: frozenset[Role],
    company_admin: bool = False,
    name: str = "",
    company_id: str = "",
) -> Member:
    """ROLE-05: a user of the replaced module as a member: grade A/B/C -> level 3/2/1, client -> owner,
    EPC -> principal contractor, the company-admin tier -> project admin."""
    try:
        level = _LEGACY_GRADES[grade.strip().upper()]
        kind = _LEGACY_COMPANY_KINDS[company_kind.strip().lower()]
    except KeyError as exc:
        raise ValueError(f"no ROLE-05 mapping for {exc.args[0]!r}") from None
    granted = roles | {Role.PROJECT_ADMIN} if company_admin else roles
    return Member(
        person_id=person_id,
        name=name,
        roles=frozenset(granted),
        authority_level=level,
        company_id=company_id,
        company_kind=kind,
    )
