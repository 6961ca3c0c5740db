"""PermitService: the one documented door for embedding applications, the CLI and the HTTP API.

A command goes: stamp its time from the injected clock -> idempotency lookup -> load the streams it needs ->
record the time facts already due (TIME-04) -> decide (pure) -> seal into the hash chain -> ONE save of every
touched stream (one transaction). A write conflict reloads and retries the whole command.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import msgspec
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ptw_domain import commands as c
from ptw_domain import configuration as cfg
from ptw_domain.canonical import sha256_hex
from ptw_domain.chain import StoredRecord, StreamVerdict, verify_stream
from ptw_domain.clock import Clock, SystemClock
from ptw_domain.delegation import DelegationState, check_usable
from ptw_domain.errors import (
    DomainError,
    IdempotencyKeyReused,
    NotFound,
    StaleVersion,
    ValidationFailed,
    WriteConflict,
)
from ptw_domain.events.base import ActorRecord, EventMetadata, Recorded
from ptw_domain.events.idempotency import CommandAccepted, Outcome
from ptw_domain.organisation import OrganisationState, TemplateState, template_id
from ptw_domain.permit.context import ActingFor, PermitContext, ProjectFacts
from ptw_domain.permit.decide import PERMIT_HANDLERS
from ptw_domain.permit.expiry import due_time_facts
from ptw_domain.permit.progress import progress
from ptw_domain.permit.readiness import Readiness, evaluate
from ptw_domain.permit.state import PermitState
from ptw_domain.permit.status import TERMINAL
from ptw_domain.project import ProjectState
from ptw_domain.roles import SYSTEM_ACTOR, Actor
from ptw_domain.store.application import PtwStore, install_append_only_guard
from ptw_domain.store.settings import store_env
from ptw_domain.store.streams import Stream, append, fold

MAX_ATTEMPTS = 8
_IDEMPOTENCY = uuid5(NAMESPACE_URL, "urn:ptw:idempotency")


class CommandResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a command recorded; `position` is the store position for read-your-writes (RM-08)."""

    command: str
    stream_id: UUID | None
    version: int | None
    events: tuple[str, ...]
    position: int | None = None
    permit_number: str | None = None
    replayed: bool = False


@dataclass
class _Change:
    """The streams a decision touched, in save order, and the stream the caller cares about."""

    streams: list[Stream[Any]]
    main: Stream[Any] | None
    scope: UUID
    number: str | None = None
    refusal: DomainError | None = None  # time facts are saved, then this is raised (TIME-04)
    extra: dict[str, Any] = field(default_factory=dict)


class PermitService:
    """Run commands and read permits, on the store named by a database URL."""

    def __init__(
        self,
        database_url: str = "memory://",
        *,
        clock: Clock | None = None,
        new_id: Callable[[], UUID] = uuid4,
        reference_ttl_seconds: float = 1.0,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.store = PtwStore(env=store_env(database_url))
        install_append_only_guard(self.store)
        self._new_id = new_id
        self._reference_ttl = reference_ttl_seconds
        self._reference_seen: dict[UUID, float] = {}

    def close(self) -> None:
        self.store.close()

    # --- loading --------------------------------------------------------------------------------------------

    def _load(self, stream_id: UUID, *, fresh: bool = True) -> Stream[Any] | None:
        """Fresh loads fast-forward the cached stream; reference loads trust it for `reference_ttl_seconds`."""
        cache = self.store.repository.cache
        if not fresh and cache is not None:
            seen = self._reference_seen.get(stream_id)
            if seen is not None and time.monotonic() - seen < self._reference_ttl:
                try:
                    return cache.get(stream_id)  # type: ignore[return-value]
                except KeyError:
                    pass
        try:
            stream: Stream[Any] = self.store.repository.get(stream_id, projector_func=fold)
        except AggregateNotFoundError:
            return None
        self._reference_seen[stream_id] = time.monotonic()
        return stream

    def _permit_stream(self, permit_id: UUID) -> Stream[PermitState]:
        stream = self._load(permit_id)
        if stream is None or stream.kind != "permit":
            raise NotFound("no such permit", facts={"permit_id": str(permit_id)})
        return stream

    def _project(self, project_id: UUID, *, fresh: bool = False) -> Stream[ProjectState]:
        stream = self._load(project_id, fresh=fresh)
        if stream is None or stream.kind != "project":
            raise NotFound("no such project", facts={"project_id": str(project_id)})
        return stream

    def _template(
        self, organisation_id: UUID, key: str, *, fresh: bool = False
    ) -> Stream[TemplateState] | None:
        return self._load(template_id(organisation_id, key), fresh=fresh)

    def _organisation(
        self, organisation_id: UUID, *, fresh: bool = False
    ) -> Stream[OrganisationState] | None:
        return self._load(organisation_id, fresh=fresh)

    @staticmethod
    def _facts(project: ProjectState) -> ProjectFacts:
        return ProjectFacts(
            project_id=project.project_id,
            organisation_id=project.organisation_id,
            code=project.code,
            time_zone=project.time_zone,
            settings=project.settings,
        )

    def _context(
        self, state: PermitState, now: datetime, actor: Actor | None, acting_for: ActingFor | None = None
    ) -> PermitContext:
        project = self._project(state.project_id).state
        template = self._template(state.organisation_id, state.template.key)
        assert template is not None, "a permit's template stream always exists"
        resolved, _ = cfg.pinned_template(
            project, template.state, state.template.version, state.template.override_version
        )
        org = self._organisation(state.organisation_id)
        policy = org.state.policy if org else _default_policy()
        return PermitContext(
            state=state,
            template=resolved,
            template_retired=template.state.retired,
            policy=policy,
            project=self._facts(project),
            now=now,
            actor=actor,
            acting_for=acting_for,
        )

    # --- commands -------------------------------------------------------------------------------------------

    def execute(self, command: c.Command) -> CommandResult:
        """Run one command; returns what it recorded or raises a typed `DomainError` having recorded nothing
        of its own (time facts already due stay recorded, TIME-04)."""
        command = self._stamp(command)
        for _attempt in range(MAX_ATTEMPTS):
            try:
                return self._execute_once(command)
            except IntegrityError:
                continue  # another writer won: reload (fast-forward) and decide again
        raise WriteConflict("the command kept conflicting with concurrent writers; nothing was recorded")

    def _stamp(self, command: c.Command) -> c.Command:
        """Give the command its time (TIME-01) and validate every field and limit strictly (SEC-11/12)."""
        at = command.at or self.clock.now()
        if at.tzinfo is None:
            raise ValidationFailed("instants carry an offset", rule_ids=("SEC-11",), facts={"field": "at"})
        stamped = msgspec.structs.replace(command, at=at.astimezone(self.clock.now().tzinfo))
        try:
            return msgspec.convert(msgspec.to_builtins(stamped), type(command))
        except msgspec.ValidationError as exc:
            raise ValidationFailed(str(exc), rule_ids=("SEC-12",)) from exc

    def _execute_once(self, command: c.Command) -> CommandResult:
        scope = self._scope_of(command)
        key = command.context.idempotency_key
        fingerprint = ""
        if key is not None:
            fingerprint = sha256_hex({"command": command.name, **_without_time(command)})
            record = self._load(uuid5(_IDEMPOTENCY, f"{scope}:{key}"))
            if record is not None:
                accepted: CommandAccepted = record.state
                if accepted.fingerprint != fingerprint:
                    raise IdempotencyKeyReused(
                        "this idempotency key was used for a different command",
                        rule_ids=("SEC-09",),
                        facts={"idempotency_key": key},
                    )
                o = accepted.outcome
                return CommandResult(
                    command=o.command,
                    stream_id=o.stream_id,
                    version=o.version,
                    events=o.events,
                    permit_number=o.permit_number,
                    replayed=True,
                )
        change = self._decide(command)
        streams = list(change.streams)
        main = change.main
        events = tuple(e.type for e in main.pending) if main else ()
        if key is not None and change.refusal is None:
            outcome = Outcome(
                command=command.name,
                stream_id=main.id if main else None,
                version=main.version if main else None,
                events=events,
                permit_number=change.number,
            )
            accepted_event = CommandAccepted(key=key, fingerprint=fingerprint, outcome=outcome)
            streams.append(
                append(
                    None,
                    [accepted_event],
                    metadata=self._metadata(command, "idempotency", scope),
                    at=_at(command),
                    new_id=self._new_id,
                    stream_id=uuid5(_IDEMPOTENCY, f"{scope}:{key}"),
                )
            )
        recordings = (
            self.store.save(*[s for s in streams if s.pending]) if any(s.pending for s in streams) else []
        )
        if change.refusal is not None:
            raise change.refusal
        position = max((r.notification.id for r in recordings), default=None)
        return CommandResult(
            command=command.name,
            stream_id=main.id if main else None,
            version=main.version if main else None,
            events=events,
            position=position,
            permit_number=change.number,
        )

    def _scope_of(self, command: c.Command) -> UUID:
        """Idempotency keys are scoped to the project (or organisation) the command acts in."""
        for name in ("project_id", "organisation_id"):
            value = getattr(command, name, None)
            if isinstance(value, UUID):
                return value
        if isinstance(command, c.PermitCommand):
            return self._permit_stream(command.permit_id).state.project_id
        if isinstance(command, c.RevokeDelegation):
            existing = self._load(command.delegation_id)
            if existing is None:
                raise NotFound("no such delegation", facts={"field": "delegation_id"})
            return existing.state.grant.project_id  # type: ignore[no-any-return]
        raise TypeError(f"unscoped command {command.name}")

    def _metadata(
        self,
        command: c.Command,
        stream_type: str,
        scope: UUID | None = None,
        *,
        project: ProjectState | None = None,
        acting_for: ActingFor | None = None,
        rule: str | None = None,
    ) -> EventMetadata:
        actor, ctx = command.actor, command.context
        member = actor.member
        return EventMetadata(
            stream_type=stream_type,
            organisation_id=project.organisation_id if project else getattr(command, "organisation_id", None),
            project_id=project.project_id if project else getattr(command, "project_id", scope),
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

    def _decide(self, command: c.Command) -> _Change:
        handler = _HANDLERS.get(type(command))
        if handler is not None:
            return handler(self, command)
        if isinstance(command, c.PermitCommand):
            return self._decide_permit(command)
        raise TypeError(f"no handler for {type(command).__name__}")

    def _decide_permit(self, command: c.PermitCommand) -> _Change:
        stream = self._permit_stream(command.permit_id)
        state = stream.state
        if command.expected_version is not None and command.expected_version != state.version:
            raise StaleVersion(
                "the permit changed since you read it",
                rule_ids=("SEC-10",),
                current_status=state.status.value,
                current_version=state.version,
                facts={"expected_version": command.expected_version},
            )
        now = _at(command)
        acting_for = self._acting_for(command, state, now)
        ctx = self._context(state, now, command.actor, acting_for)
        project = self._project(state.project_id).state
        stream = self._with_time_facts(stream, ctx, project)
        ctx = self._context(stream.state, now, command.actor, acting_for)
        try:
            if isinstance(command, c.RebasePermitTemplate):
                payloads = self._rebase(command, ctx, project)
            else:
                payloads = PERMIT_HANDLERS[type(command)](command, ctx)
        except DomainError as refusal:
            return _Change(streams=[stream], main=stream, scope=state.project_id, refusal=refusal)
        meta = self._metadata(command, "permit", project=project, acting_for=acting_for)
        stream = stream.append(payloads, metadata=meta, at=now, new_id=self._new_id)
        return _Change(streams=[stream], main=stream, scope=state.project_id, number=state.number)

    def _with_time_facts(
        self, stream: Stream[PermitState], ctx: PermitContext, project: ProjectState
    ) -> Stream[PermitState]:
        """TIME-04: record the facts already due before the command is judged."""
        facts = due_time_facts(stream.state, ctx.template, ctx.now)
        if not facts:
            return stream
        meta = self._metadata(_system_command(ctx.now), "permit", project=project, rule="LIFE-23")
        return stream.append(facts, metadata=meta, at=ctx.now, new_id=self._new_id)

    def _acting_for(self, command: c.PermitCommand, state: PermitState, now: datetime) -> ActingFor | None:
        if command.delegation_id is None:
            return None
        loaded = self._load(command.delegation_id)
        if loaded is None or loaded.kind != "delegation":
            raise NotFound("no such delegation", facts={"field": "delegation_id"})
        delegation: DelegationState = loaded.state
        check_usable(
            delegation,
            delegate=command.actor.person_id,
            permit_id=state.permit_id,
            project_id=state.project_id,
            now=now,
        )
        return ActingFor(
            delegation_id=delegation.grant.delegation_id,
            delegator=delegation.grant.delegator,
            role=delegation.grant.role,
        )

    def _rebase(
        self, command: c.RebasePermitTemplate, ctx: PermitContext, project: ProjectState
    ) -> list[Any]:
        from ptw_domain.permit.authority import check_status, require_party

        check_status(ctx, command.name)
        require_party(ctx, command.name, ctx.state.requestor, "the requestor")
        template = self._template(ctx.state.organisation_id, ctx.state.template.key, fresh=True)
        assert template is not None
        resolved, ref = cfg.pinned_template(project, template.state)
        return cfg.rebase(ctx, ref, resolved)

    # --- reads ----------------------------------------------------------------------------------------------

    def permit(self, permit_id: UUID) -> PermitState:
        """The permit's recorded state now."""
        return self._permit_stream(permit_id).state

    def permit_at_version(self, permit_id: UUID, version: int) -> PermitState:
        """BRD-02/AUD-06: the permit as it was at version N."""
        try:
            stream: Stream[PermitState] = self.store.repository.get(
                permit_id, version=version, projector_func=fold
            )
        except AggregateNotFoundError:
            raise NotFound(
                "no such permit version", facts={"permit_id": str(permit_id), "version": version}
            ) from None
        if stream.kind != "permit" or stream.version != version:
            raise NotFound("no such permit version", facts={"permit_id": str(permit_id), "version": version})
        return stream.state

    def permit_at(self, permit_id: UUID, instant: datetime) -> PermitState:
        """BRD-02/AUD-06: the permit as it was at an instant (the last version recorded at or before it)."""
        stream: Stream[Any] | None = None
        for recorded in self.history(permit_id):
            if recorded.occurred_at > instant:
                break
            stream = fold(stream, [recorded])
        if stream is None:
            raise NotFound(
                "the permit did not exist at that instant",
                facts={"permit_id": str(permit_id), "at": instant.isoformat()},
            )
        return stream.state  # type: ignore[no-any-return]

    def history(self, permit_id: UUID) -> list[Recorded[Any]]:
        """Every event of the permit's stream, in order, with its metadata and hashes."""
        events: list[Recorded[Any]] = list(self.store.events.get(permit_id))  # type: ignore[arg-type]
        if not events or events[0].type != "PermitDrafted":
            raise NotFound("no such permit", facts={"permit_id": str(permit_id)})
        return events

    def permit_by_number(self, project_id: UUID, number: str) -> UUID:
        project = self._project(project_id, fresh=True).state
        try:
            return project.permits[number]
        except KeyError:
            raise NotFound("no permit with that number", facts={"number": number}) from None

    def project(self, project_id: UUID) -> ProjectState:
        return self._project(project_id, fresh=True).state

    def readiness(
        self,
        permit_id: UUID,
        *,
        actor: Actor | None = None,
        at: datetime | None = None,
        version: int | None = None,
    ) -> Readiness:
        """RDY-01/05/09: readiness now, or at a past version or instant, optionally as an actor."""
        now = at or self.clock.now()
        if version is not None:
            state = self.permit_at_version(permit_id, version)
        elif at is not None:
            state = self.permit_at(permit_id, at)
        else:
            state = self.permit(permit_id)
        ctx = self._context(state, now, actor)
        return evaluate(ctx, progress(ctx))

    def verify_chain(self, stream_ids: Iterable[UUID] | None = None) -> list[StreamVerdict]:
        """AUD-04: recompute the chain of the given streams (default: every stream in the store)."""
        ids = list(stream_ids) if stream_ids is not None else list(self.store.stream_ids())
        verdicts = []
        for sid in ids:
            rows = self.store.stored_rows(sid)
            records = (StoredRecord(r.originator_version, r.topic, r.state) for r in rows)
            verdicts.append(verify_stream(sid, records))
        return verdicts

    def run_sweep(self, now: datetime | None = None) -> list[CommandResult]:
        """TIME-03: record every time fact due at `now` (default: the clock); idempotent."""
        now = now or self.clock.now()
        results = []
        for project_id in list(self.store.stream_ids(topics=["ProjectOpened"])):
            project = self._project(project_id, fresh=True).state
            for permit_id in project.permits.values():
                result = self._sweep_permit(permit_id, now)
                if result is not None:
                    results.append(result)
        return results

    def _sweep_permit(self, permit_id: UUID, now: datetime) -> CommandResult | None:
        for _attempt in range(MAX_ATTEMPTS):
            stream = self._permit_stream(permit_id)
            if stream.state.status in TERMINAL:
                return None
            ctx = self._context(stream.state, now, None)
            project = self._project(stream.state.project_id).state
            swept = self._with_time_facts(stream, ctx, project)
            if not swept.pending:
                return None
            try:
                recordings = self.store.save(swept)
            except IntegrityError:
                continue
            return CommandResult(
                command="RunSweep",
                stream_id=permit_id,
                version=swept.version,
                events=tuple(e.type for e in swept.pending),
                position=max(r.notification.id for r in recordings),
                permit_number=swept.state.number,
            )
        raise WriteConflict("the sweep kept conflicting with concurrent writers")


def _default_policy() -> Any:
    from ptw_domain.roles import DEFAULT_ROLE_POLICY

    return DEFAULT_ROLE_POLICY


def _at(command: c.Command) -> datetime:
    assert command.at is not None, "commands are stamped before they are decided"
    return command.at


def _system_command(at: datetime) -> c.Command:
    return c.RunSweep(actor=SYSTEM_ACTOR, at=at)


def _without_time(command: c.Command) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(command)
    data.pop("at", None)
    data.pop("context", None)
    actor = data.get("actor", {})
    actor.pop("auth_time", None)
    return data


# --- configuration and creation handlers ---------------------------------------------------------------------


def _simple(
    svc: PermitService,
    command: c.Command,
    stream_id: UUID,
    stream_type: str,
    payloads: list[Any],
    existing: Stream[Any] | None,
    project: ProjectState | None = None,
) -> _Change:
    meta = svc._metadata(command, stream_type, project=project)
    stream = append(
        existing, payloads, metadata=meta, at=_at(command), new_id=svc._new_id, stream_id=stream_id
    )
    return _Change(streams=[stream], main=stream, scope=svc._scope_of(command))


def _open_project(svc: PermitService, cmd: c.OpenProject) -> _Change:
    existing = svc._load(cmd.project_id)
    return _simple(
        svc,
        cmd,
        cmd.project_id,
        "project",
        cfg.open_project(cmd, existing.state if existing else None),
        existing,
    )


def _change_settings(svc: PermitService, cmd: c.ChangeProjectSettings) -> _Change:
    project = svc._project(cmd.project_id, fresh=True)
    return _simple(
        svc, cmd, cmd.project_id, "project", cfg.change_settings(cmd, project.state), project, project.state
    )


def _publish_policy(svc: PermitService, cmd: c.PublishRolePolicy) -> _Change:
    org = svc._organisation(cmd.organisation_id, fresh=True)
    return _simple(
        svc,
        cmd,
        cmd.organisation_id,
        "organisation",
        cfg.publish_policy(cmd, org.state if org else None),
        org,
    )


def _publish_template(svc: PermitService, cmd: c.PublishTemplateVersion) -> _Change:
    key = str(cmd.definition.get("key", ""))
    existing = svc._template(cmd.organisation_id, key, fresh=True) if key else None
    payloads = cfg.publish_template(cmd, existing.state if existing else None)
    return _simple(svc, cmd, template_id(cmd.organisation_id, key), "template", payloads, existing)


def _retire_template(svc: PermitService, cmd: c.RetireTemplate) -> _Change:
    existing = svc._template(cmd.organisation_id, cmd.key, fresh=True)
    payloads = cfg.retire_template(cmd, existing.state if existing else None)
    return _simple(svc, cmd, template_id(cmd.organisation_id, cmd.key), "template", payloads, existing)


def _override(svc: PermitService, cmd: c.PublishTemplateOverride | c.WithdrawTemplateOverride) -> _Change:
    project = svc._project(cmd.project_id, fresh=True)
    template = svc._template(project.state.organisation_id, cmd.template_key, fresh=True)
    if template is None:
        raise NotFound("no such template", facts={"field": "template_key"})
    if isinstance(cmd, c.PublishTemplateOverride):
        payloads: list[Any] = cfg.publish_override(cmd, project.state, template.state)
    else:
        payloads = cfg.withdraw_override(cmd, project.state, template.state)
    return _simple(svc, cmd, cmd.project_id, "project", payloads, project, project.state)


def _grant(svc: PermitService, cmd: c.GrantDelegation) -> _Change:
    project = svc._project(cmd.project_id).state
    existing = svc._load(cmd.delegation_id)
    org = svc._organisation(project.organisation_id)
    policy = org.state.policy if org else _default_policy()
    payloads = cfg.grant_delegation(cmd, existing.state if existing else None, policy)
    return _simple(svc, cmd, cmd.delegation_id, "delegation", payloads, existing, project)


def _revoke(svc: PermitService, cmd: c.RevokeDelegation) -> _Change:
    existing = svc._load(cmd.delegation_id)
    payloads = cfg.revoke_delegation(cmd, existing.state if existing else None)
    return _simple(svc, cmd, cmd.delegation_id, "delegation", payloads, existing)


def _create(svc: PermitService, cmd: c.CreatePermit) -> _Change:
    """NUM-02: the number allocation and the draft are saved together, so a refused draft consumes nothing."""
    if svc._load(cmd.permit_id) is not None:
        raise ValidationFailed(
            "a permit with this id exists", rule_ids=("TEN-05",), facts={"field": "permit_id"}
        )
    project = svc._project(cmd.project_id, fresh=True)
    template = svc._template(project.state.organisation_id, cmd.template_key)
    org = svc._organisation(project.state.organisation_id)
    policy = org.state.policy if org else _default_policy()
    allocation, drafted = cfg.create_permit(
        cmd, project.state, template.state if template else None, policy, PermitService._facts(project.state)
    )
    at = _at(cmd)
    project_stream = project.append(
        [allocation], metadata=svc._metadata(cmd, "project", project=project.state), at=at, new_id=svc._new_id
    )
    permit = append(
        None,
        [drafted],
        metadata=svc._metadata(cmd, "permit", project=project.state),
        at=at,
        new_id=svc._new_id,
        stream_id=cmd.permit_id,
    )
    return _Change(streams=[project_stream, permit], main=permit, scope=cmd.project_id, number=drafted.number)


_HANDLERS: dict[type[c.Command], Callable[[PermitService, Any], _Change]] = {
    c.OpenProject: _open_project,
    c.ChangeProjectSettings: _change_settings,
    c.PublishRolePolicy: _publish_policy,
    c.PublishTemplateVersion: _publish_template,
    c.RetireTemplate: _retire_template,
    c.PublishTemplateOverride: _override,
    c.WithdrawTemplateOverride: _override,
    c.GrantDelegation: _grant,
    c.RevokeDelegation: _revoke,
    c.CreatePermit: _create,
}
