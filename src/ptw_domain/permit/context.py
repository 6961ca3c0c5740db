"""Everything a permit decision may look at, gathered by the service; decisions read nothing else."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from ptw_domain.errors import GuardFailed, NotFound
from ptw_domain.events.base import DomainEvent
from ptw_domain.events.permit import PermitEvent
from ptw_domain.events.project import ProjectSettings
from ptw_domain.findings import Finding
from ptw_domain.gas.profiles import OSHA_DEFAULT, GasLimitProfile
from ptw_domain.isolation.state import IsolationState, PointState
from ptw_domain.organisation import PublishedProfile
from ptw_domain.people.workers import WorkerState
from ptw_domain.permit.state import PermitState
from ptw_domain.roles import Actor, Member, RolePolicy
from ptw_domain.simops.model import Register
from ptw_domain.templates import ResolvedTemplate


@dataclass(frozen=True, slots=True)
class ProjectFacts:
    project_id: UUID
    organisation_id: UUID
    code: str
    time_zone: str
    settings: ProjectSettings


@dataclass(frozen=True, slots=True)
class ActingFor:
    """A valid delegation the actor is using (DEL-02): the task is the delegator's."""

    delegation_id: UUID
    delegator: str
    role: str


@dataclass(frozen=True, slots=True)
class Decision:
    """A permit decision that also records on other streams (a shared isolation, a point, a worker), all in the
    permit command's one transaction."""

    permit: list[PermitEvent]
    others: tuple[tuple[UUID, tuple[DomainEvent, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class PermitContext:
    state: PermitState
    template: ResolvedTemplate
    template_retired: bool
    policy: RolePolicy
    project: ProjectFacts
    now: datetime
    actor: Actor | None = None
    acting_for: ActingFor | None = None
    workers: Mapping[UUID, WorkerState] = field(default_factory=dict)
    # WRK-01: the worker ids the PA, the acting person and a handover's incoming person log in as (COMP-04,
    # HOV-04), when their members are linked
    members: Mapping[str, UUID] = field(default_factory=dict)
    gas_profiles: tuple[PublishedProfile, ...] = ()
    isolations: Mapping[UUID, IsolationState] = field(default_factory=dict)
    points: Mapping[UUID, PointState] = field(default_factory=dict)
    simops: Register | None = None
    # SYNC-11: the device time of an offline command; signing and presence evidence are judged against it.
    device_time: datetime | None = None
    # Facts derived once per evaluation and shared by guards, warnings and progress (the inputs are immutable).
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def with_state(self, state: PermitState) -> PermitContext:
        """The same context on another state of the permit (the memo starts afresh)."""
        return dataclasses.replace(self, state=state, memo={})

    def once(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Compute a derived fact once per context."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

    @property
    def evidence_now(self) -> datetime:
        """The instant re-authentication and presence evidence must be recent at (SIG-04, SIG-12): the device
        time of an offline command (SYNC-11), else now."""
        return self.device_time or self.now

    @property
    def person(self) -> str | None:
        return self.actor.person_id if self.actor else None

    @property
    def actor_member(self) -> Member:
        assert self.actor is not None, "a command always has an actor"
        return self.actor.member

    @property
    def task_owner(self) -> str | None:
        """Whose task the actor performs: the delegator under a delegation, else the actor."""
        if self.acting_for is not None:
            return self.acting_for.delegator
        return self.person

    @property
    def on_behalf_of(self) -> str | None:
        """DEL-02: the delegator whose task the actor performs, recorded on the event."""
        return self.acting_for.delegator if self.acting_for else None

    def refuse(self, message: str, findings: Sequence[Finding]) -> GuardFailed:
        """A `guard_failed` refusal carrying the permit's current status and version."""
        return GuardFailed(
            message,
            blockers=findings,
            current_status=self.state.status.value,
            current_version=self.state.version,
        )

    def worker(self, worker_id: UUID, field: str = "worker_id") -> WorkerState:
        """TEN-03: a worker of the permit's organisation, else `not_found` naming the payload `field`."""
        worker = self.workers.get(worker_id)
        if worker is None or worker.organisation_id != self.state.organisation_id:
            raise NotFound("no such worker", rule_ids=("TEN-03",), facts={"field": field})
        return worker

    def gas_profile(self, at: datetime) -> GasLimitProfile | None:
        """GAS-05: the version of the template's profile in force at `at` (the built-in default otherwise)."""
        key = self.template.gas_limit_profile
        published = [p for p in self.gas_profiles if p.profile.key == key and p.published_at <= at]
        if published:
            return max(published, key=lambda p: p.profile.version).profile
        return OSHA_DEFAULT if key == OSHA_DEFAULT.key else None

    def is_worker(self, worker_id: UUID) -> bool:
        """SEC-05 "self": the actor is the registered worker (by the worker's linked member identity)."""
        worker = self.worker(worker_id)
        return worker.person_id is not None and worker.person_id == self.person

    def linked_worker(self, person_id: str) -> WorkerState | None:
        """WRK-01: the worker record a member logs in as, if linked (and loaded for this decision)."""
        worker_id = self.members.get(person_id)
        return self.workers.get(worker_id) if worker_id is not None else None

    def required_codes(self, role: str) -> list[str]:
        """COMP-03: the competency codes the template requires for a permit role."""
        return list(self.template.required_competencies.get(role, []))

    @property
    def persons(self) -> tuple[str, ...]:
        """Every person SOD compares: the actor and, under delegation, the delegator too (DEL-03)."""
        people = [p for p in (self.person, self.acting_for.delegator if self.acting_for else None) if p]
        return tuple(dict.fromkeys(people))
