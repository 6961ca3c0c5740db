"""What a command handler may use: the streams (at a stated freshness), the metadata and new ids.

One Workbench serves one attempt of one command. In a trusting attempt the streams the command writes come
from the cache as they are; a conflict or refusal makes the service try again with a fresh workbench.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from ptw_domain import commands as c
from ptw_domain.errors import NotFound
from ptw_domain.events.base import ActorRecord, EventMetadata
from ptw_domain.organisation import OrganisationState, TemplateState, template_id
from ptw_domain.people.facts import party_members
from ptw_domain.people.workers import WorkerState
from ptw_domain.permit.context import ActingFor, PermitContext, ProjectFacts
from ptw_domain.permit.state import PermitState
from ptw_domain.project import ProjectState
from ptw_domain.roles import DEFAULT_ROLE_POLICY, Actor, RolePolicy
from ptw_domain.simops.streams import register_id
from ptw_domain.store.loader import Freshness, StreamLoader
from ptw_domain.store.streams import Stream
from ptw_domain.templates import ResolvedTemplate, TemplateRef
from ptw_domain.templates.resolution import resolve_template

# Template versions and override versions never change once published, so their resolution is cached.
ResolutionKey = tuple[UUID, int, int | None]


@dataclass
class Workbench:
    loader: StreamLoader
    new_id: Callable[[], UUID]
    resolutions: dict[ResolutionKey, ResolvedTemplate]
    trusting: bool = False
    # only what memory holds (a command decided in the event loop, ADR 0017): a read of the store raises NotCached
    cached_only: bool = False
    fresh: dict[UUID, Stream[Any] | None] = field(default_factory=dict)

    @property
    def written(self) -> Freshness:
        """The freshness for a stream this command writes."""
        return Freshness.TRUSTED if self.trusting else Freshness.FRESH

    def scope_of(self, command: c.Command) -> UUID:
        """The project (or organisation) a command acts in: idempotency keys are scoped to it (SEC-09), a request
        must name it (TEN-02), its settings govern the command (SEC-08)."""
        for name in ("project_id", "organisation_id"):
            value = getattr(command, name, None)
            if isinstance(value, UUID):
                return value
        if isinstance(command, c.PermitCommand):
            try:
                return self.permit(command.permit_id, self.written).state.project_id
            except NotFound:  # TEN-02: as a permit of another project is refused by _check_within
                raise NotFound("no such permit", facts={"field": "permit_id"}) from None
        for target, scope in (
            ("isolation_id", "project_id"),
            ("point_id", "project_id"),
            ("conflict_id", "project_id"),
            ("worker_id", "organisation_id"),
        ):
            stream_id = getattr(command, target, None)
            if isinstance(stream_id, UUID):  # acts on a stream of their own: its project or organisation
                stream = self.stream(stream_id, self.written)
                if stream is None:
                    raise NotFound(f"no such {target[:-3]}", facts={"field": target})
                return getattr(stream.state, scope)  # type: ignore[no-any-return]
        if isinstance(command, c.RevokeDelegation):
            existing = self.stream(command.delegation_id)
            if existing is None:
                raise NotFound("no such delegation", facts={"field": "delegation_id"})
            return existing.state.grant.project_id  # type: ignore[no-any-return]
        raise TypeError(f"unscoped command {command.name}")

    def stream(self, stream_id: UUID, freshness: Freshness = Freshness.FRESH) -> Stream[Any] | None:
        """Every read of a stream in this attempt comes through here: a stream loaded FRESH once is not read
        again (one decision sees one version of it; the store's key still guards what it writes), and it stands
        in for any less fresh read of the same stream."""
        if stream_id in self.fresh:
            return self.fresh[stream_id]
        if self.cached_only:
            return self.loader.cached(stream_id, freshness)
        stream = self.loader.get(stream_id, freshness)
        if freshness is Freshness.FRESH:
            self.fresh[stream_id] = stream
        return stream

    def prefetch(self, stream_ids: Sequence[UUID], *, at_least: int | None = None) -> None:
        """Read several streams FRESH at once (one round trip where the store allows) for the reads below;
        `at_least`: see `StreamLoader.get_fresh`."""
        wanted = [i for i in stream_ids if i not in self.fresh]
        if wanted and self.cached_only:
            self.fresh |= self.loader.vouched(wanted, at_least)
        elif wanted:
            self.fresh |= self.loader.get_fresh(wanted, at_least=at_least)

    def permit(self, permit_id: UUID, freshness: Freshness = Freshness.FRESH) -> Stream[PermitState]:
        stream = self.stream(permit_id, freshness)
        if stream is None or stream.kind != "permit":
            raise NotFound("no such permit", facts={"permit_id": str(permit_id)})
        return stream

    def project(self, project_id: UUID, freshness: Freshness = Freshness.REFERENCE) -> Stream[ProjectState]:
        stream = self.stream(project_id, freshness)
        if stream is None or stream.kind != "project":
            raise NotFound("no such project", facts={"project_id": str(project_id)})
        return stream

    def template(
        self, organisation_id: UUID, key: str, freshness: Freshness = Freshness.REFERENCE
    ) -> Stream[TemplateState] | None:
        return self.stream(template_id(organisation_id, key), freshness)

    def organisation(
        self, organisation_id: UUID, freshness: Freshness = Freshness.REFERENCE
    ) -> Stream[OrganisationState] | None:
        return self.stream(organisation_id, freshness)

    def policy(self, organisation_id: UUID) -> RolePolicy:
        org = self.organisation(organisation_id)
        return org.state.policy if org else DEFAULT_ROLE_POLICY

    def resolve(
        self,
        project: ProjectState,
        template: TemplateState,
        version: int | None = None,
        override_version: int | None = None,
    ) -> tuple[ResolvedTemplate, TemplateRef]:
        """TPL-02/03: the resolved template a permit pins (latest version and active override by default)."""
        chosen = template.at(version) if version is not None else template.latest
        if override_version is None and version is None:
            active = project.active_override(template.template_id)
            override_version = active.override_version if active else None
        patch = None
        if override_version is not None:
            history = project.overrides.get(template.template_id, ())
            patch = next(o.patch for o in history if o.override_version == override_version)
        resolved, digest = resolve_template(chosen.definition, patch)
        key = (template.template_id, chosen.version, override_version)
        resolved = self.resolutions.setdefault(key, resolved)
        ref = TemplateRef(
            template_id=template.template_id,
            key=template.key,
            version=chosen.version,
            override_version=override_version,
            hash=digest,
        )
        return resolved, ref

    def pinned(self, project: ProjectState, template: TemplateState, ref: TemplateRef) -> ResolvedTemplate:
        cached = self.resolutions.get((ref.template_id, ref.version, ref.override_version))
        if cached is not None:
            return cached
        return self.resolve(project, template, ref.version, ref.override_version)[0]

    def workers(self, worker_ids: Iterable[UUID]) -> dict[UUID, WorkerState]:
        """Worker streams a decision reads (REFERENCE freshness: a competency change elsewhere is seen within
        the reference TTL; in this process at once)."""
        found = {}
        for worker_id in worker_ids:
            stream = self.stream(worker_id, Freshness.REFERENCE)
            if stream is not None and stream.kind == "worker":
                found[worker_id] = stream.state
        return found

    def context(
        self,
        state: PermitState,
        now: datetime,
        actor: Actor | None,
        acting_for: ActingFor | None = None,
        extra_workers: Iterable[UUID] = (),
        points: Iterable[UUID] = (),
        persons: Iterable[str] = (),
    ) -> PermitContext:
        """What a permit decision reads; `persons` are members (beside the PA and the acting issuer) whose
        linked worker records it checks competencies on (WRK-01), e.g. the incoming person of a handover."""
        project = self.project(state.project_id).state
        template = self.template(state.organisation_id, state.template.key)
        org = self.organisation(state.organisation_id)
        assert template is not None, "a permit's template stream always exists"
        resolved = self.pinned(project, template.state, state.template)
        members: dict[str, UUID] = {}
        if org is not None:
            linked = org.state.member_workers
            members = party_members(state, actor, resolved, linked)
            members |= {p: linked[p] for p in persons if p in linked}
        return PermitContext(
            state=state,
            template=resolved,
            template_retired=template.state.retired,
            policy=org.state.policy if org else DEFAULT_ROLE_POLICY,
            project=project_facts(project),
            now=now,
            actor=actor,
            acting_for=acting_for,
            workers=self.workers(state.people.worker_ids() | set(extra_workers) | set(members.values())),
            members=members,
            gas_profiles=org.state.gas_profiles if org else (),
            **self.isolation_facts(state, points),
            simops=register.state
            if (register := self.stream(register_id(state.project_id), self.written))
            else None,
        )

    def isolation_facts(self, state: PermitState, point_ids: Iterable[UUID]) -> dict[str, Any]:
        """The permit's isolations and the points a command names, with their open isolations. Trusted
        attempts may read isolations from the cache: any change that could make a permit unsafe (de-isolation,
        transfer) also writes the permit's own stream (ADR 0008), so a stale write conflicts."""
        freshness = Freshness.REFERENCE if self.trusting else Freshness.FRESH
        points = {}
        for point_id in point_ids:
            point = self.stream(point_id, self.written)
            if point is not None and point.kind == "isolation_point":
                points[point_id] = point.state
        wanted = set(state.isolations.isolation_ids()) | {
            p.open_isolation for p in points.values() if p.open_isolation
        }
        isolations = {}
        for isolation_id in wanted:
            stream = self.stream(isolation_id, freshness)
            if stream is not None and stream.kind == "isolation":
                isolations[isolation_id] = stream.state
        return {"isolations": isolations, "points": points}

    def metadata(
        self,
        command: c.Command,
        stream_type: str,
        *,
        project: ProjectState | None = None,
        acting_for: ActingFor | None = None,
        rule: str | None = None,
        project_id: UUID | None = None,
    ) -> EventMetadata:
        """AUD-01 metadata from the command, its actor and context."""
        actor, ctx = command.actor, command.context
        member = actor.member
        return EventMetadata(
            stream_type=stream_type,
            organisation_id=project.organisation_id if project else getattr(command, "organisation_id", None),
            project_id=project.project_id if project else project_id or getattr(command, "project_id", None),
            actor=ActorRecord(
                id=member.person_id,
                kind=actor.kind.value,
                roles=tuple(sorted(member.roles)),
                authority_level=member.authority_level,
                company_kind=member.company_kind.value,
            ),
            on_behalf_of=acting_for.delegator if acting_for else None,
            delegation_id=acting_for.delegation_id if acting_for else None,
            correlation_id=ctx.correlation_id,
            causation_id=ctx.causation_id,
            client_app=ctx.client_app,
            client_version=ctx.client_version,
            device_id=ctx.device_id,
            device_time=ctx.device_time,
            idempotency_key=ctx.idempotency_key,
            client_command_id=ctx.client_command_id,
            rule=rule,
        )


def project_facts(project: ProjectState) -> ProjectFacts:
    return ProjectFacts(
        project_id=project.project_id,
        organisation_id=project.organisation_id,
        code=project.code,
        time_zone=project.time_zone,
        settings=project.settings,
    )
