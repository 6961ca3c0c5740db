"""Organisation-level streams: the role policy (ROLE-04), gas profiles (GAS-05), the member links of the worker
registry (WRK-01) and templates (TPL-01)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec
from msgspec.structs import replace

from ptw_domain.events import organisation as ev
from ptw_domain.events.base import Recorded
from ptw_domain.events.gas import GasLimitProfilePublished
from ptw_domain.events.people import WorkerMemberLinked, WorkerMemberUnlinked
from ptw_domain.gas.profiles import GasLimitProfile
from ptw_domain.roles import DEFAULT_ROLE_POLICY, RolePolicy

_TEMPLATES = uuid5(NAMESPACE_URL, "urn:ptw:template")


@lru_cache(maxsize=4096)  # asked by every permit decision
def template_id(organisation_id: UUID, key: str) -> UUID:
    """Template ids derive from (organisation, key): keys are unique by construction."""
    return uuid5(_TEMPLATES, f"{organisation_id}:{key}")


class PublishedProfile(msgspec.Struct, frozen=True, kw_only=True):
    profile: GasLimitProfile
    published_at: datetime


class OrganisationState(msgspec.Struct, frozen=True, kw_only=True):
    organisation_id: UUID
    version: int
    policies: tuple[RolePolicy, ...] = ()
    gas_profiles: tuple[PublishedProfile, ...] = ()
    member_workers: dict[str, UUID] = msgspec.field(default_factory=dict)  # WRK-01: person id -> worker id

    @property
    def policy(self) -> RolePolicy:
        return self.policies[-1] if self.policies else DEFAULT_ROLE_POLICY

    def policy_version(self, version: int) -> RolePolicy:
        return next((p for p in self.policies if p.version == version), DEFAULT_ROLE_POLICY)


class TemplateVersion(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    definition: dict[str, Any]
    hash: str


class TemplateState(msgspec.Struct, frozen=True, kw_only=True):
    template_id: UUID
    organisation_id: UUID
    key: str
    version: int
    versions: tuple[TemplateVersion, ...] = ()
    retired: bool = False

    @property
    def latest(self) -> TemplateVersion:
        return self.versions[-1]

    def at(self, version: int) -> TemplateVersion:
        return next(v for v in self.versions if v.version == version)


def evolve_organisation(state: OrganisationState | None, recorded: Recorded[Any]) -> OrganisationState:
    e = recorded.payload
    if state is None:
        state = OrganisationState(organisation_id=e.organisation_id, version=0)
    state = replace(state, version=recorded.version)
    if isinstance(e, GasLimitProfilePublished):
        published = PublishedProfile(profile=e.profile, published_at=recorded.occurred_at)
        return replace(state, gas_profiles=(*state.gas_profiles, published))
    if isinstance(e, WorkerMemberLinked):
        return replace(state, member_workers={**state.member_workers, e.person_id: e.worker_id})
    if isinstance(e, WorkerMemberUnlinked):
        return replace(
            state, member_workers={p: w for p, w in state.member_workers.items() if p != e.person_id}
        )
    assert isinstance(e, ev.RolePolicyPublished)
    return replace(state, policies=(*state.policies, e.policy))


def evolve_template(state: TemplateState | None, recorded: Recorded[Any]) -> TemplateState:
    e = recorded.payload
    if isinstance(e, ev.TemplateVersionPublished):
        if state is None:
            state = TemplateState(
                template_id=e.template_id, organisation_id=e.organisation_id, key=e.key, version=0
            )
        published = TemplateVersion(version=e.version, definition=e.definition, hash=e.hash)
        return replace(state, version=recorded.version, versions=(*state.versions, published))
    assert state is not None and isinstance(e, ev.TemplateRetired)
    return replace(state, version=recorded.version, retired=True)
