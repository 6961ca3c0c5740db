"""From a command to a Change: load what the decision needs, decide (pure), seal the new events.

Handlers are registered as data, one per command type; permit commands share one path (time facts first,
TIME-04, then the permit's own decision table).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from ptw_domain import commands as c
from ptw_domain import configuration as cfg
from ptw_domain.delegation import DelegationState, check_usable
from ptw_domain.errors import DomainError, NotFound, StaleVersion, ValidationFailed
from ptw_domain.findings import Finding
from ptw_domain.gas import commands as gc
from ptw_domain.gas.time_facts import gas_time_facts
from ptw_domain.handover.decide import incoming_person
from ptw_domain.handover.time_facts import handover_time_facts
from ptw_domain.isolation.project_locks import LOCK_ACTS, ProjectLocks, project_locks_id, register_events
from ptw_domain.organisation import template_id
from ptw_domain.people import commands as pc
from ptw_domain.people import registry
from ptw_domain.permit.authority import check_status, require_party
from ptw_domain.permit.context import ActingFor, Decision, PermitContext
from ptw_domain.permit.decide import PERMIT_HANDLERS
from ptw_domain.permit.expiry import due_time_facts
from ptw_domain.permit.state import PermitState
from ptw_domain.project import ProjectState
from ptw_domain.roles import SYSTEM_ACTOR
from ptw_domain.simops.model import Register
from ptw_domain.simops.step import conflict_events, footprint_change, footprint_of
from ptw_domain.simops.streams import register_id
from ptw_domain.store.loader import Freshness
from ptw_domain.store.streams import Stream, append
from ptw_domain.workbench import Workbench, project_facts


@dataclass
class Change:
    """The streams a decision touched, in save order, and the stream the caller asked about."""

    streams: list[Stream[Any]]
    main: Stream[Any] | None
    number: str | None = None
    refusal: DomainError | None = None  # time facts are saved, then this is raised (TIME-04)


def at_of(command: c.Command) -> datetime:
    assert command.at is not None, "commands are stamped before they are decided"
    return command.at


# --- permits -------------------------------------------------------------------------------------------------


def decide_permit(bench: Workbench, command: c.PermitCommand) -> Change:
    stream = bench.permit(command.permit_id, bench.written)
    state = stream.state
    if command.expected_version is not None and command.expected_version != state.version:
        raise StaleVersion(
            "the permit changed since you read it",
            rule_ids=("SEC-10",),
            current_status=state.status.value,
            current_version=state.version,
            facts={"expected_version": command.expected_version},
        )
    if isinstance(command, c.EditPermit | c.AmendPermit):
        check_references(bench, state.project_id, command.changes.given(), own=state.permit_id)
    now = at_of(command)
    acting_for = _acting_for(bench, command, state, now)
    named = [getattr(command, f) for f in command.__struct_fields__ if f.endswith("worker_id")]
    point_id = getattr(command, "point_id", None)
    points = [point_id] if isinstance(point_id, UUID) else []
    persons = [p for p in (incoming_person(command),) if p is not None]
    ctx = bench.context(
        state, now, command.actor, acting_for, extra_workers=named, points=points, persons=persons
    )
    if command.context.client_command_id and command.context.device_time:  # an offline command (SYNC-11)
        ctx = dataclasses.replace(ctx, device_time=command.context.device_time)
    project = bench.project(state.project_id).state
    stream = with_time_facts(bench, stream, ctx, project)
    ctx = ctx.with_state(stream.state)
    try:
        if isinstance(command, c.RebasePermitTemplate):
            result: Any = _rebase(bench, command, ctx, project)
        else:
            result = PERMIT_HANDLERS[type(command)](command, ctx)
    except DomainError as refusal:
        return Change(streams=[stream], main=stream, refusal=refusal)
    decision = result if isinstance(result, Decision) else Decision(permit=result)
    meta = bench.metadata(command, "permit", project=project, acting_for=acting_for)
    facts_only = stream  # what a refusal below still records (TIME-04)
    stream = stream.append(decision.permit, metadata=meta, at=now, new_id=bench.new_id)
    others = [
        append(
            bench.stream(stream_id, bench.written),
            events,
            at=now,
            new_id=bench.new_id,
            stream_id=stream_id,
            metadata=bench.metadata(command, type(events[0]).stream, project=project, acting_for=acting_for),
        )
        for stream_id, events in decision.others
    ]
    locks, in_use = project_lock_streams(bench, command, [stream, *others])
    if in_use:
        lock_refusal = ctx.refuse("the lock is already applied in the project", in_use)
        return Change(streams=[facts_only], main=facts_only, refusal=lock_refusal)
    others += locks
    others += simops_streams(bench, command, stream.state, ctx, project)
    return Change(streams=[stream, *others], main=stream, number=state.number)


def project_lock_streams(
    bench: Workbench, command: c.Command, streams: list[Stream[Any]]
) -> tuple[list[Stream[Any]], list[Finding]]:
    """LOCK-06: record the lock ids the command's streams apply or free in the project's register, in the same
    save; or, when an id is applied in the project already, the `lock_in_use` findings (and nothing to save)."""
    recorded = [r for s in streams for r in s.pending if isinstance(r.payload, LOCK_ACTS)]
    if not recorded:
        return [], []
    project_id = recorded[0].metadata.project_id
    assert project_id is not None, "lock acts are recorded in a project"
    locks_id = project_locks_id(project_id)
    register = bench.stream(locks_id, bench.written)
    locks = register.state if register else ProjectLocks(project_id=project_id, version=0)
    events, in_use = register_events(locks, recorded)
    if in_use or not events:
        return [], in_use
    meta = bench.metadata(command, "project_locks", project_id=project_id)
    saved = append(
        register, events, metadata=meta, at=at_of(command), new_id=bench.new_id, stream_id=locks_id
    )
    return [saved], []


def simops_streams(
    bench: Workbench, command: c.Command, state: PermitState, ctx: PermitContext, project: ProjectState
) -> list[Stream[Any]]:
    """SIM-09: record a changed footprint in the project's SIMOPS register with the conflicts it makes or ends."""
    register_stream = bench.stream(register_id(state.project_id), bench.written)
    register = register_stream.state if register_stream else Register(project_id=state.project_id, version=0)
    now = at_of(command)
    fp = footprint_of(state, dict(ctx.isolations), register.footprints.get(state.permit_id), now)
    change = footprint_change(register, state, fp)
    if change is None:
        return []
    loaded = {cid: bench.stream(cid, bench.written) for cid in change.touched}
    conflicts = conflict_events(change, {cid: s.state if s else None for cid, s in loaded.items()})
    meta = bench.metadata(command, "simops_register", project=project)
    streams = [
        append(
            register_stream,
            [change.event],
            metadata=meta,
            at=now,
            new_id=bench.new_id,
            stream_id=register_id(state.project_id),
        )
    ]
    for cid, events in conflicts.items():
        streams.append(
            append(
                loaded.get(cid),
                events,
                metadata=bench.metadata(command, "conflict", project=project),
                at=now,
                new_id=bench.new_id,
                stream_id=cid,
            )
        )
    return streams


def check_references(bench: Workbench, project_id: UUID, fields: dict[str, Any], own: UUID) -> None:
    """TEN-03: related and predecessor permits resolve in the same project; otherwise `not_found` naming the
    payload field, never the foreign object (TEN-02)."""
    related = fields.get("related_permits") or ()
    predecessor = fields.get("predecessor_permit")
    for field, ids in (
        ("related_permits", related),
        ("predecessor_permit", (predecessor,) if predecessor else ()),
    ):
        for permit_id in ids:
            stream = bench.stream(permit_id, Freshness.REFERENCE)
            if (
                permit_id == own
                or stream is None
                or stream.kind != "permit"
                or stream.state.project_id != project_id
            ):
                raise NotFound(
                    f"{field} names no permit of this project", rule_ids=("TEN-03",), facts={"field": field}
                )


def with_time_facts(
    bench: Workbench, stream: Stream[PermitState], ctx: PermitContext, project: ProjectState
) -> Stream[PermitState]:
    """TIME-04: record the facts already due before the command is judged (AUD-12: by the system, naming the
    rule): expiry (LIFE-23) first; on a permit that stays live, an overdue gas retest (GAS-10), then missed
    shift handovers (HOV-03), each judged on the state the facts before it left."""
    sweep = c.RunSweep(actor=SYSTEM_ACTOR, at=ctx.now)
    expiry = due_time_facts(stream.state, ctx.template, ctx.now)
    if expiry:
        meta = bench.metadata(sweep, "permit", project=project, rule="LIFE-23")
        return stream.append(expiry, metadata=meta, at=ctx.now, new_id=bench.new_id)
    retest = gas_time_facts(ctx, ctx.now)
    if retest:
        meta = bench.metadata(sweep, "permit", project=project, rule="GAS-10")
        stream = stream.append(retest, metadata=meta, at=ctx.now, new_id=bench.new_id)
    handover = handover_time_facts(ctx.with_state(stream.state))
    if handover:
        meta = bench.metadata(sweep, "permit", project=project, rule="HOV-03")
        stream = stream.append(handover, metadata=meta, at=ctx.now, new_id=bench.new_id)
    return stream


def _acting_for(
    bench: Workbench, command: c.PermitCommand, state: PermitState, now: datetime
) -> ActingFor | None:
    if command.delegation_id is None:
        return None
    loaded = bench.stream(command.delegation_id)
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
    grant = delegation.grant
    return ActingFor(delegation_id=grant.delegation_id, delegator=grant.delegator, role=grant.role)


def _rebase(
    bench: Workbench, command: c.RebasePermitTemplate, ctx: PermitContext, project: ProjectState
) -> list[Any]:
    check_status(ctx, command.name)
    require_party(ctx, command.name, ctx.state.requestor, "the requestor")
    template = bench.template(ctx.state.organisation_id, ctx.state.template.key, Freshness.FRESH)
    assert template is not None
    resolved, ref = bench.resolve(project, template.state)
    return cfg.rebase(ctx, ref, resolved)


def _create(bench: Workbench, cmd: c.CreatePermit) -> Change:
    """NUM-02: the number allocation and the draft are saved together, so a refused draft consumes nothing.
    A reused permit id is caught by the store (version 1 exists) and reported by the fresh attempt."""
    if not bench.trusting and bench.stream(cmd.permit_id) is not None:
        raise ValidationFailed(
            "a permit with this id exists", rule_ids=("TEN-05",), facts={"field": "permit_id"}
        )
    project = bench.project(cmd.project_id, bench.written)
    check_references(bench, cmd.project_id, msgspec.structs.asdict(cmd.content), own=cmd.permit_id)
    organisation_id = project.state.organisation_id
    template = bench.template(organisation_id, cmd.template_key)
    allocation, drafted = cfg.create_permit(
        cmd,
        project.state,
        template.state if template else None,
        lambda t: bench.resolve(project.state, t),
        bench.policy(organisation_id),
        project_facts(project.state),
    )
    at = at_of(cmd)
    project_stream = project.append(
        [allocation],
        metadata=bench.metadata(cmd, "project", project=project.state),
        at=at,
        new_id=bench.new_id,
    )
    permit = append(
        None,
        [drafted],
        metadata=bench.metadata(cmd, "permit", project=project.state),
        at=at,
        new_id=bench.new_id,
        stream_id=cmd.permit_id,
    )
    return Change(streams=[project_stream, permit], main=permit, number=drafted.number)


# --- configuration -------------------------------------------------------------------------------------------


def _simple(
    bench: Workbench,
    command: c.Command,
    stream_id: UUID,
    stream_type: str,
    payloads: list[Any],
    existing: Stream[Any] | None,
    project: ProjectState | None = None,
) -> Change:
    meta = bench.metadata(command, stream_type, project=project)
    stream = append(
        existing, payloads, metadata=meta, at=at_of(command), new_id=bench.new_id, stream_id=stream_id
    )
    return Change(streams=[stream], main=stream)


def _open_project(bench: Workbench, cmd: c.OpenProject) -> Change:
    existing = bench.stream(cmd.project_id)
    payloads = cfg.open_project(cmd, existing.state if existing else None)
    return _simple(bench, cmd, cmd.project_id, "project", payloads, existing)


def _change_settings(bench: Workbench, cmd: c.ChangeProjectSettings) -> Change:
    project = bench.project(cmd.project_id, Freshness.FRESH)
    payloads = cfg.change_settings(cmd, project.state)
    return _simple(bench, cmd, cmd.project_id, "project", payloads, project, project.state)


def _publish_policy(bench: Workbench, cmd: c.PublishRolePolicy) -> Change:
    org = bench.organisation(cmd.organisation_id, Freshness.FRESH)
    payloads = cfg.publish_policy(cmd, org.state if org else None)
    return _simple(bench, cmd, cmd.organisation_id, "organisation", payloads, org)


def _publish_template(bench: Workbench, cmd: c.PublishTemplateVersion) -> Change:
    key = str(cmd.definition.get("key", ""))
    existing = bench.template(cmd.organisation_id, key, Freshness.FRESH) if key else None
    payloads = cfg.publish_template(cmd, existing.state if existing else None)
    return _simple(bench, cmd, template_id(cmd.organisation_id, key), "template", payloads, existing)


def _retire_template(bench: Workbench, cmd: c.RetireTemplate) -> Change:
    existing = bench.template(cmd.organisation_id, cmd.key, Freshness.FRESH)
    payloads = cfg.retire_template(cmd, existing.state if existing else None)
    return _simple(bench, cmd, template_id(cmd.organisation_id, cmd.key), "template", payloads, existing)


def _override(bench: Workbench, cmd: c.PublishTemplateOverride | c.WithdrawTemplateOverride) -> Change:
    project = bench.project(cmd.project_id, Freshness.FRESH)
    template = bench.template(project.state.organisation_id, cmd.template_key, Freshness.FRESH)
    if template is None:
        raise NotFound("no such template", facts={"field": "template_key"})
    if isinstance(cmd, c.PublishTemplateOverride):
        payloads: list[Any] = cfg.publish_override(cmd, project.state, template.state)
    else:
        payloads = cfg.withdraw_override(cmd, project.state, template.state)
    return _simple(bench, cmd, cmd.project_id, "project", payloads, project, project.state)


def _grant(bench: Workbench, cmd: c.GrantDelegation) -> Change:
    project = bench.project(cmd.project_id).state
    if cmd.permit_id is not None:  # TEN-03, naming the delegation's own payload field
        try:
            check_references(
                bench, cmd.project_id, {"related_permits": (cmd.permit_id,)}, own=cmd.delegation_id
            )
        except NotFound:
            raise NotFound(
                "permit_id names no permit of this project",
                rule_ids=("TEN-03",),
                facts={"field": "permit_id"},
            ) from None
    existing = bench.stream(cmd.delegation_id)
    payloads = cfg.grant_delegation(
        cmd, existing.state if existing else None, bench.policy(project.organisation_id)
    )
    return _simple(bench, cmd, cmd.delegation_id, "delegation", payloads, existing, project)


def _worker(bench: Workbench, cmd: Any) -> Change:
    """Worker registry commands (WRK-01, COMP-01) on the worker's own stream; a changed member link also updates
    the organisation's index of links in the same save."""
    existing = bench.stream(cmd.worker_id, bench.written)
    if existing is not None and existing.kind != "worker":
        raise NotFound("no such worker", facts={"field": "worker_id"})
    deciders: dict[type[Any], Callable[[Any, Any], list[Any]]] = {
        pc.RegisterWorker: registry.register,
        pc.UpdateWorker: registry.update,
        pc.RecordCompetency: registry.record_competency,
        pc.RevokeCompetency: registry.revoke_competency,
    }
    payloads = deciders[type(cmd)](cmd, existing.state if existing else None)
    change = _simple(bench, cmd, cmd.worker_id, "worker", payloads, existing)
    worker, before = change.streams[0].state, existing.state.person_id if existing else None
    if worker.person_id == before:
        return change
    org = bench.organisation(worker.organisation_id, bench.written)
    links = registry.link_member(org.state if org else None, worker, before)
    meta = bench.metadata(cmd, "organisation")
    index = append(
        org, links, metadata=meta, at=at_of(cmd), new_id=bench.new_id, stream_id=worker.organisation_id
    )
    return Change(streams=[*change.streams, index], main=change.main)


def _publish_gas_profile(bench: Workbench, cmd: gc.PublishGasLimitProfile) -> Change:
    org = bench.organisation(cmd.organisation_id, Freshness.FRESH)
    payloads = cfg.publish_gas_profile(cmd, org.state if org else None)
    return _simple(bench, cmd, cmd.organisation_id, "organisation", payloads, org)


def _revoke(bench: Workbench, cmd: c.RevokeDelegation) -> Change:
    existing = bench.stream(cmd.delegation_id)
    payloads = cfg.revoke_delegation(cmd, existing.state if existing else None)
    return _simple(bench, cmd, cmd.delegation_id, "delegation", payloads, existing)


HANDLERS: dict[type[c.Command], Callable[[Workbench, Any], Change]] = {
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
    gc.PublishGasLimitProfile: _publish_gas_profile,
    pc.RegisterWorker: _worker,
    pc.UpdateWorker: _worker,
    pc.RecordCompetency: _worker,
    pc.RevokeCompetency: _worker,
}
