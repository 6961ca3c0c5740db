"""Loading and saving for the acts on isolations and points: each act writes its streams in one transaction.

De-isolation and transfer also record `LinkedIsolationEnded` on every linked permit's stream (ADR 0008): the
permit's own record shows it, and an activation decided concurrently on the old isolation state conflicts on the
permit's version and is decided again (the race of issue 3, point 7).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from ptw_domain.errors import GuardFailed, NotFound
from ptw_domain.events import isolation as ev
from ptw_domain.findings import Finding
from ptw_domain.handlers import Change, at_of, project_lock_streams
from ptw_domain.isolation import acts
from ptw_domain.isolation import commands as ic
from ptw_domain.isolation.state import IsolationState, PointState
from ptw_domain.store.loader import Freshness
from ptw_domain.store.streams import Stream, append
from ptw_domain.workbench import Workbench

_POINTS = uuid5(NAMESPACE_URL, "urn:ptw:isolation-point")


def point_id_for(project_id: UUID, point_code: str) -> UUID:
    """ISO-01: one point per code in a project."""
    return uuid5(_POINTS, f"{project_id}:{point_code.strip().upper()}")


def _stream(bench: Workbench, stream_id: UUID, kind: str, field: str) -> Stream[Any]:
    stream = bench.stream(stream_id, bench.written)
    if stream is None or stream.kind != kind:
        raise NotFound(f"no such {kind.replace('_', ' ')}", facts={"field": field})
    return stream


def _save(
    bench: Workbench,
    command: Any,
    stream: Stream[Any] | None,
    stream_id: UUID,
    events: list[Any],
    project_id: UUID | None = None,
) -> Stream[Any]:
    meta = bench.metadata(command, type(events[0]).stream, project_id=project_id)
    return append(stream, events, metadata=meta, at=at_of(command), new_id=bench.new_id, stream_id=stream_id)


def _linked(
    bench: Workbench, iso: IsolationState, freshness: Freshness, now: Any
) -> list[tuple[Stream[Any], acts.Linked]]:
    """The permits linked to the isolation, with the minimum category of their templates."""
    out = []
    for permit_id in iso.links:
        stream = bench.permit(permit_id, freshness)
        ctx = bench.context(stream.state, now, None)
        out.append(
            (stream, acts.Linked(state=stream.state, min_category=ctx.template.min_isolation_category))
        )
    return out


def _point_command(bench: Workbench, cmd: Any) -> Change:
    if isinstance(cmd, ic.RegisterIsolationPoint):
        bench.project(cmd.project_id)  # TEN-03: the project exists
        point_id = point_id_for(cmd.project_id, cmd.spec.point_code)
        existing = bench.stream(point_id, bench.written)
        events: list[Any] = acts.register_point(cmd, point_id, existing.state if existing else None)
        stream = _save(bench, cmd, existing, point_id, events, cmd.project_id)
        return Change(streams=[stream], main=stream)
    point = _stream(bench, cmd.point_id, "isolation_point", "point_id")
    state: PointState = point.state
    decide = acts.revise_point if isinstance(cmd, ic.ReviseIsolationPoint) else acts.deactivate_point
    events = decide(cmd, state)
    stream = _save(bench, cmd, point, cmd.point_id, events, state.project_id) if events else point
    return Change(streams=[stream], main=stream)


def _skew(bench: Workbench, iso: IsolationState) -> timedelta:
    """TIME-02: how far a fact time may run ahead of the clock, as the isolation's project sets it."""
    return timedelta(minutes=bench.project(iso.project_id).state.settings.clock_skew_minutes)


def _isolation_act(bench: Workbench, cmd: Any) -> Change:
    isolation = _stream(bench, cmd.isolation_id, "isolation", "isolation_id")
    iso: IsolationState = isolation.state
    ending = isinstance(cmd, ic.DeisolatePoint | ic.TransferIsolationToOperations)
    now = at_of(cmd)
    linked = _linked(bench, iso, bench.written if ending else Freshness.FRESH, now)
    states = [lk for _, lk in linked]
    owner: Stream[Any] | None = None
    flags: list[Any] = []  # LOCK-04: for the owner's worker record
    if isinstance(cmd, ic.IsolatePoint):
        isolator = bench.workers([cmd.isolator_worker_id]).get(cmd.isolator_worker_id)
        if isolator is None:
            raise NotFound("no such worker", facts={"field": "isolator_worker_id"})
        events: list[Any] = acts.isolate(cmd, iso, states, isolator, now, _skew(bench, iso))
    elif isinstance(cmd, ic.VerifyIsolation):
        events = acts.verify(cmd, iso, states, now, _skew(bench, iso))
    elif isinstance(cmd, ic.DeisolatePoint):
        owner = _owner_worker(bench, iso, cmd.actor.person_id)
        events, flags = acts.deisolate(cmd, iso, states, owner.state if owner else None)
    else:
        events = acts.transfer(cmd, iso, states)
    main = _save(bench, cmd, isolation, cmd.isolation_id, events, iso.project_id)
    streams = [main]
    if flags:  # LOCK-04: in the de-isolation's own transaction
        assert owner is not None, "acts.deisolate flags only a linked worker record"
        streams.append(_save(bench, cmd, owner, owner.id, flags, iso.project_id))
    if ending:
        how = "deisolated" if isinstance(cmd, ic.DeisolatePoint) else "transferred_to_operations"
        ended = ev.LinkedIsolationEnded(isolation_id=iso.isolation_id, point_id=iso.point_id, how=how)
        streams += [_save(bench, cmd, stream, stream.id, [ended], iso.project_id) for stream, _ in linked]
    if isinstance(cmd, ic.DeisolatePoint):
        point = _stream(bench, iso.point_id, "isolation_point", "point_id")
        closed = ev.PointIsolationClosed(isolation_id=iso.isolation_id, how="deisolated")
        streams.append(_save(bench, cmd, point, iso.point_id, [closed], iso.project_id))
    # LOCK-06: isolating applies lock ids in the project's register, de-isolating frees them
    locks, in_use = project_lock_streams(bench, cmd, streams)
    if in_use:
        raise GuardFailed("the lock is already applied in the project", blockers=in_use)
    return Change(streams=[*streams, *locks], main=main)


def _owner_worker(bench: Workbench, iso: IsolationState, person: str) -> Stream[Any] | None:
    """LOCK-04/WRK-01: the worker record linked to the owner of the isolation's locks, which their removal by
    `person` (another) flags; read only when `person` is not the owner."""
    if iso.owner is None or iso.owner == person:
        return None
    org = bench.organisation(bench.project(iso.project_id).state.organisation_id)
    worker_id = org.state.member_workers.get(iso.owner) if org else None
    stream = bench.stream(worker_id, bench.written) if worker_id else None
    return stream if stream is not None and stream.kind == "worker" else None


def deisolation_blockers(bench: Workbench, isolation_id: UUID, person: str, now: datetime) -> list[Finding]:
    """RDY-04 for de-isolation: the blockers `DeisolatePoint` by `person` at `now` is refused with (ISO-11, ISO-12,
    ISO-13, LOCK-04), from the evaluation the command runs, in its order."""
    iso: IsolationState = _stream(bench, isolation_id, "isolation", "isolation_id").state
    linked = [lk for _, lk in _linked(bench, iso, Freshness.FRESH, now)]
    owner = _owner_worker(bench, iso, person)
    return acts.deisolation_findings(iso, linked, person, owner.state if owner else None)


def _isolation_lock_exception(bench: Workbench, cmd: ic.RecordIsolationLockException) -> Change:
    """LOCK-02 on the isolation's stream alone: no permit to write (ADR 0008)."""
    isolation = _stream(bench, cmd.isolation_id, "isolation", "isolation_id")
    iso: IsolationState = isolation.state
    events = acts.record_isolation_lock_exception(cmd, iso, at_of(cmd))
    stream = _save(bench, cmd, isolation, cmd.isolation_id, events, iso.project_id) if events else isolation
    return Change(streams=[stream], main=stream)


def _acknowledge(bench: Workbench, cmd: ic.AcknowledgeLockRemoval) -> Change:
    worker = _stream(bench, cmd.worker_id, "worker", "worker_id")
    events = acts.acknowledge_lock_removal(cmd, worker.state)
    stream = _save(bench, cmd, worker, cmd.worker_id, events)
    return Change(streams=[stream], main=stream)


ISOLATION_ACTS: dict[type[Any], Callable[[Workbench, Any], Change]] = {
    ic.RegisterIsolationPoint: _point_command,
    ic.ReviseIsolationPoint: _point_command,
    ic.DeactivateIsolationPoint: _point_command,
    ic.IsolatePoint: _isolation_act,
    ic.VerifyIsolation: _isolation_act,
    ic.DeisolatePoint: _isolation_act,
    ic.TransferIsolationToOperations: _isolation_act,
    ic.RecordIsolationLockException: _isolation_lock_exception,
    ic.AcknowledgeLockRemoval: _acknowledge,
}
