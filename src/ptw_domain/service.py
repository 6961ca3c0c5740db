"""PermitService: the one documented door for embedding applications, the CLI and the HTTP API.

A command goes: stamp its time from the injected clock -> (idempotency lookup) -> load the streams it needs ->
record the time facts already due (TIME-04) -> decide (pure) -> seal into the hash chain -> ONE save of every
touched stream (one transaction). The first attempt trusts cached versions of the streams it writes; the
store's primary key refuses a write decided on a stale version, and any conflict or refusal is decided again
on fresh streams (ADR 0006), so a stale cache can cost a retry but never a wrong record or a wrong refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import msgspec
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, PersistenceError

from ptw_domain import commands as c
from ptw_domain.canonical import sha256_hex
from ptw_domain.chain import StoredRecord, StreamVerdict, verify_stream
from ptw_domain.clock import Clock, SystemClock
from ptw_domain.dispatch import command_types, decide
from ptw_domain.errors import DomainError, IdempotencyKeyReused, NotFound, ValidationFailed, WriteConflict
from ptw_domain.events.base import Recorded
from ptw_domain.events.idempotency import CommandAccepted, Outcome
from ptw_domain.events.project import ProjectSettings
from ptw_domain.findings import Finding
from ptw_domain.handlers import at_of, simops_streams, with_time_facts
from ptw_domain.isolation.handling import deisolation_blockers
from ptw_domain.people.workers import WorkerState
from ptw_domain.permit.content import PermitContent
from ptw_domain.permit.progress import progress
from ptw_domain.permit.readiness import Readiness, evaluate
from ptw_domain.permit.signature_status import SignatureView, signature_views
from ptw_domain.permit.state import PermitState
from ptw_domain.permit.status import TERMINAL
from ptw_domain.project import ProjectState
from ptw_domain.roles import SYSTEM_ACTOR, Actor
from ptw_domain.simops.streams import register_id
from ptw_domain.store.application import PtwStore, install_append_only_guard
from ptw_domain.store.group_commit import GroupCommit
from ptw_domain.store.loader import Freshness, NotCached, StreamLoader
from ptw_domain.store.mapper import prepare_decoders
from ptw_domain.store.settings import store_env
from ptw_domain.store.streams import Stream, append, fold
from ptw_domain.store.watch import CacheWatch
from ptw_domain.sync.batch import SyncBatch, SyncReport
from ptw_domain.templates import ResolvedTemplate
from ptw_domain.workbench import ResolutionKey, Workbench

MAX_ATTEMPTS = 8
# TIME-02: a command's own time may differ from the clock this much (judged before its project is known, so the
# project settings' default applies).
CLOCK_SKEW = timedelta(minutes=ProjectSettings().clock_skew_minutes)
# The fields naming a command's target stream, in the order a refusal names them (TEN-02, TEN-03).
_TARGETS = (
    "permit_id",
    "isolation_id",
    "point_id",
    "conflict_id",
    "worker_id",
    "delegation_id",
    "project_id",
)
_IDEMPOTENCY = uuid5(NAMESPACE_URL, "urn:ptw:idempotency")


class Attachment(Protocol):
    """Records saved in the same transaction as a command's own events (the offline-sync ledger, SYNC-03).

    `recorded` is asked in every fresh attempt: an outcome already stored answers the command, so a concurrent
    duplicate that lost the race on the record's stream ends as a replay. `streams` gives the records to save
    with the command's events, from what the command is about to record."""

    def recorded(self, bench: Workbench) -> CommandResult | None: ...

    def streams(self, bench: Workbench, command: c.Command, result: CommandResult) -> list[Stream[Any]]: ...


class _Unconfirmed(Exception):
    """A trusted attempt decided to record nothing; the answer needs fresh streams."""


class _Decision(NamedTuple):
    """A decided command before it is saved: the streams with events to record, the refusal to answer after
    saving them (a refused command may still record facts, TIME-04) and the result but for its position."""

    streams: list[Stream[Any]]
    refusal: DomainError | None
    result: CommandResult


class CommandResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a command recorded; `position` is the store position for read-your-writes (RM-08)."""

    command: str
    stream_id: UUID | None
    version: int | None
    events: tuple[str, ...]
    position: int | None = None
    permit_number: str | None = None
    replayed: bool = False


def unacceptable(value: Any, path: str = "") -> tuple[str, str] | None:
    """SEC-11: the first value no command may carry, with its path (e.g. `content.planned_start`) and why: an
    instant without an offset (never guessed, nor compared with an aware one) or text with a NUL character
    (which PostgreSQL cannot store: the event would stop every projection)."""
    if isinstance(value, datetime):
        return (path, "instants carry an offset") if value.tzinfo is None else None
    if isinstance(value, str):
        return (path, "text cannot contain a NUL character") if "\x00" in value else None
    if isinstance(value, msgspec.Struct):
        children = [
            (f"{path}.{name}" if path else name, getattr(value, name)) for name in value.__struct_fields__
        ]
    elif isinstance(value, dict):
        children = [(path, key) for key in value]
        children += [(f"{path}.{key}" if path else str(key), item) for key, item in value.items()]
    elif isinstance(value, tuple | list | set | frozenset):
        children = [(path, item) for item in value]
    else:
        return None
    return next((found for at, child in children if (found := unacceptable(child, at)) is not None), None)


_ENCODER = msgspec.json.Encoder()
# How msgspec writes a NUL character, and an instant without an offset (with one it ends in `Z` or `+hh:mm`).
_NUL = b"\\u0000"
_NAIVE_INSTANT = re.compile(rb'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?"')


def _may_be_unacceptable(encoded: bytes) -> bool:
    """A quick look at a command's JSON for what `unacceptable` refuses: never false when it would refuse (a
    text that merely looks like an instant or an escaped NUL sends the command on to the full walk)."""
    return _NUL in encoded or _NAIVE_INSTANT.search(encoded) is not None


class PermitService:
    """Run commands and read permits, on the store named by a database URL."""

    def __init__(
        self,
        database_url: str = "memory://",
        *,
        clock: Clock | None = None,
        new_id: Callable[[], UUID] = uuid4,
        reference_ttl_seconds: float = 1.0,
        watch_other_writers: bool = False,
    ) -> None:
        """`watch_other_writers`: where the store is shared by processes (PostgreSQL), follow it and keep the
        cached streams current with what the others write (ADR 0006); elsewhere it changes nothing."""
        self.clock: Clock = clock or SystemClock()
        # msgspec's tables for what request threads decode or convert, made before any thread does (ADR 0016)
        prepare_decoders(ResolvedTemplate, PermitContent)
        self._decoders = {kind: msgspec.json.Decoder(kind) for kind in command_types()}
        self.store = PtwStore(env=store_env(database_url))
        install_append_only_guard(self.store)
        self._watch = (
            CacheWatch(self.store, self.store.head_position())
            if watch_other_writers and self.store.shared_by_processes
            else None
        )
        self._loader = StreamLoader(
            self.store, reference_ttl_seconds=reference_ttl_seconds, watch=self._watch
        )
        self._new_id = new_id
        self._resolutions: dict[ResolutionKey, ResolvedTemplate] = {}

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
        self.store.close()

    def _bench(self, *, trusting: bool = False, cached_only: bool = False) -> Workbench:
        return Workbench(
            loader=self._loader,
            new_id=self._new_id,
            resolutions=self._resolutions,
            trusting=trusting,
            cached_only=cached_only,
        )

    # --- commands -------------------------------------------------------------------------------------------

    def execute(
        self, command: c.Command, *, within: UUID | None = None, attach: Attachment | None = None
    ) -> CommandResult:
        """Run one command; returns what it recorded or raises a typed `DomainError` having recorded nothing
        of its own (time facts already due stay recorded, TIME-04).

        `within` is the project a request is evaluated in (TEN-02): a command whose target belongs to another
        project (or to another organisation's registry) is refused exactly as if the target did not exist.
        `attach` adds records written atomically with the command's events (the sync ledger, SYNC-03)."""
        command = self._stamp(command)
        trusting = True
        for _attempt in range(MAX_ATTEMPTS):
            try:
                bench = self._bench(trusting=trusting)
                if within is not None:
                    self._check_within(command, bench, within)
                return self._attempt(command, bench, attach)
            except (IntegrityError, _Unconfirmed):
                pass  # another writer won, or the cache was stale: decide again on fresh streams
            except DomainError:
                if not trusting:
                    raise
            trusting = False
        raise WriteConflict("the command kept conflicting with concurrent writers; nothing was recorded")

    def _stamp(self, command: c.Command) -> c.Command:
        """Give the command its time (TIME-01) and validate every field and limit strictly (SEC-11/12).

        The clock is authoritative: a caller may stamp a command itself (e.g. at request receipt), but not with
        a time more than the clock skew away from the clock, so nothing can be backdated or post-dated."""
        now = self.clock.now()
        at = command.at or now
        if at.tzinfo is None:
            raise ValidationFailed("instants carry an offset", rule_ids=("SEC-11",), facts={"field": "at"})
        stamped = msgspec.structs.replace(command, at=at.astimezone(UTC))
        encoded = _ENCODER.encode(stamped)
        if _may_be_unacceptable(encoded) and (refused := unacceptable(stamped)) is not None:
            field, message = refused
            raise ValidationFailed(message, rule_ids=("SEC-11",), facts={"field": field})
        if abs(at - now) > CLOCK_SKEW:
            raise ValidationFailed(
                "the command's time is too far from the clock",
                rule_ids=("TIME-01", "TIME-02"),
                facts={"field": "at", "at": at.isoformat(), "now": now.isoformat()},
            )
        try:
            decoder = self._decoders[type(command)]
        except KeyError:  # a command type defined outside ptw_domain
            decoder = msgspec.json.Decoder(type(command))
        try:  # decoding what it encodes checks every declared limit, which building a Struct does not
            return decoder.decode(encoded)
        except msgspec.ValidationError as exc:
            raise ValidationFailed(str(exc), rule_ids=("SEC-12",)) from exc

    def _attempt(
        self, command: c.Command, bench: Workbench, attach: Attachment | None = None
    ) -> CommandResult:
        decided = self._decided(command, bench, attach)
        if isinstance(decided, CommandResult):
            return decided
        recordings = self.store.save(*decided.streams) if decided.streams else []
        self._loader.saved(decided.streams)
        if decided.refusal is not None:
            raise decided.refusal
        return msgspec.structs.replace(
            decided.result, position=max((r.notification.id for r in recordings), default=None)
        )

    async def execute_cached(
        self, command: c.Command, *, within: UUID | None, group: GroupCommit
    ) -> CommandResult | None:
        """`execute` for the common case, without leaving the event loop (ADR 0017): the command decided on the
        cache alone and its events appended through `group` with the other commands of the moment.

        None, having recorded nothing, whenever that is not enough: a stream not in the cache (or a reference
        past its time to live), a refusal or a no-op to confirm on fresh streams, a version another writer
        took, the store out of reach. The caller then runs `execute`, in a thread, which answers
        it as always."""
        command = self._stamp(command)
        bench = self._bench(trusting=True, cached_only=True)
        try:
            if within is not None:
                self._check_within(command, bench, within)
            decided = self._decided(command, bench, None)
        except (NotCached, _Unconfirmed, DomainError):
            return None
        assert not isinstance(decided, CommandResult)  # a trusting attempt replays nothing
        try:
            ids = await self.store.save_together(group, decided.streams)
        # a version taken (`execute` decides again), or the store failed (it retries)
        except PersistenceError:
            return None
        self._loader.saved(decided.streams)
        return msgspec.structs.replace(decided.result, position=max(ids))

    def _decided(
        self, command: c.Command, bench: Workbench, attach: Attachment | None
    ) -> _Decision | CommandResult:
        """What the command records (not yet saved), or the outcome already recorded for it (a replay)."""
        key = command.context.idempotency_key
        record_id = uuid5(_IDEMPOTENCY, f"{bench.scope_of(command)}:{key}") if key else None
        fingerprint = sha256_hex({"command": command.name, **_without_time(command)}) if key else ""
        if record_id is not None and not bench.trusting:
            replay = self._replay(record_id, fingerprint, key or "")
            if replay is not None:
                return replay
        if attach is not None and not bench.trusting:
            answered = attach.recorded(bench)
            if answered is not None:
                return answered
        change = decide(bench, command)
        streams = [s for s in change.streams if s.pending]
        if bench.trusting and (change.refusal is not None or not streams):
            # Judged on cached streams: only a write is checked by the store, so a refusal or a no-op is
            # confirmed on fresh streams before it is answered.
            raise change.refusal or _Unconfirmed()
        main = change.main
        events = tuple(e.type for e in main.pending) if main else ()
        if record_id is not None and change.refusal is None:
            outcome = Outcome(
                command=command.name,
                stream_id=main.id if main else None,
                version=main.version if main else None,
                events=events,
                permit_number=change.number,
            )
            accepted = CommandAccepted(key=key or "", fingerprint=fingerprint, outcome=outcome)
            streams.append(
                append(
                    None,
                    [accepted],
                    metadata=bench.metadata(command, "idempotency"),
                    at=at_of(command),
                    new_id=self._new_id,
                    stream_id=record_id,
                )
            )
        result = CommandResult(
            command=command.name,
            stream_id=main.id if main else None,
            version=main.version if main else None,
            events=events,
            permit_number=change.number,
        )
        if attach is not None and change.refusal is None:
            streams += attach.streams(bench, command, result)
        return _Decision(streams, change.refusal, result)

    def _check_within(self, command: c.Command, bench: Workbench, project_id: UUID) -> None:
        """TEN-02: the command's scope is the request's project, or that project's organisation."""
        project = bench.project(project_id).state
        if bench.scope_of(command) not in (project_id, project.organisation_id):
            target = next((f for f in _TARGETS if isinstance(getattr(command, f, None), UUID)), "project_id")
            raise NotFound(f"no such {target[:-3]}", facts={"field": target})

    def _replay(self, record_id: UUID, fingerprint: str, key: str) -> CommandResult | None:
        """SEC-09: the same key and command return the original outcome; a different command is refused."""
        record = self._loader.get(record_id)
        if record is None:
            return None
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

    # --- offline sync (SYNC-01..13, ADR 0013) -----------------------------------------------------------------

    def sync(self, batch: SyncBatch, actor: Actor, *, within: UUID) -> SyncReport:
        """Run an offline batch in `within`, command by command, each through `execute`; see ptw_domain.sync."""
        from ptw_domain.sync.engine import run_batch  # the engine drives this service

        return run_batch(self, batch, actor, within)

    # --- reads ----------------------------------------------------------------------------------------------

    def permit(self, permit_id: UUID) -> PermitState:
        """The permit's recorded state now."""
        return self._bench().permit(permit_id).state

    def permit_at_version(self, permit_id: UUID, version: int) -> PermitState:
        """BRD-02/AUD-06: the permit as it was at version N."""
        missing = NotFound("no such permit version", facts={"permit_id": str(permit_id), "version": version})
        try:
            stream: Stream[Any] = self.store.repository.get(permit_id, version=version, projector_func=fold)
        except AggregateNotFoundError:
            raise missing from None
        if stream.kind != "permit" or stream.version != version:
            raise missing
        return stream.state  # type: ignore[no-any-return]

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

    def signatures(self, permit_id: UUID, *, version: int | None = None) -> list[SignatureView]:
        """SIG-11/13: the permit's signatures (now, or as of a version) as valid, invalidated or broken."""
        history = self.history(permit_id)
        if version is not None:
            history = [e for e in history if e.version <= version]
        stream: Stream[Any] | None = None
        states: dict[int, PermitState] = {}
        for recorded in history:
            stream = fold(stream, [recorded])
            assert stream is not None
            states[stream.version] = stream.state
        if stream is None:
            raise NotFound("no such permit version", facts={"permit_id": str(permit_id), "version": version})
        state: PermitState = stream.state
        time_zone = self.project(state.project_id).time_zone
        return signature_views(state, states, time_zone)

    def permit_by_number(self, project_id: UUID, number: str) -> UUID:
        try:
            return self.project(project_id).permits[number]
        except KeyError:
            raise NotFound("no permit with that number", facts={"number": number}) from None

    def worker(self, worker_id: UUID) -> WorkerState:
        """A worker of the registry with their competency records (WRK-01, COMP-01)."""
        stream = self._loader.get(worker_id)
        if stream is None or stream.kind != "worker":
            raise NotFound("no such worker", facts={"worker_id": str(worker_id)})
        return stream.state  # type: ignore[no-any-return]

    def project(self, project_id: UUID) -> ProjectState:
        return self._bench().project(project_id, Freshness.FRESH).state

    def readiness(
        self,
        permit_id: UUID,
        *,
        actor: Actor | None = None,
        at: datetime | None = None,
        version: int | None = None,
        within: UUID | None = None,
        at_least: int | None = None,
        cached_only: bool = False,
    ) -> Readiness:
        """RDY-01/05/09: readiness now, or at a past version or instant, optionally as an actor. `within` is the
        project a request is evaluated in: a permit of another project reads as missing (TEN-02).

        `at_least` (with `within`): a store position the answer must reflect, such as the caller's last write
        (RM-08). A watching service (`watch_other_writers`) then answers from the streams its watch keeps
        current, with no round trip, when the watch has passed that position; without it (the default) the
        permit and the register are read from the store.

        `cached_only`: answer from memory alone or raise NotCached, having read nothing (an API answering in its
        event loop, which must not wait on the store: ADR 0016)."""
        if cached_only and (version is not None or at is not None):
            raise NotCached("a past version is read from the store")
        now = at or self.clock.now()
        bench = self._bench(cached_only=cached_only)
        current = within is not None and version is None and at is None
        if current:
            bench.prefetch([permit_id, register_id(within)], at_least=at_least)  # what the evaluation reads
        state = (
            bench.permit(permit_id).state if within is not None or (version is None and at is None) else None
        )
        if state is not None and within is not None and state.project_id != within:
            raise NotFound("no such permit", facts={"permit_id": str(permit_id)})
        if current:
            assert state is not None
            # and its isolations, which the evaluation reads fresh: together, from the watched cache where it can
            bench.prefetch(state.isolations.isolation_ids(), at_least=at_least)
        if version is not None:
            state = self.permit_at_version(permit_id, version)
        elif at is not None:
            state = self.permit_at(permit_id, at)
        assert state is not None
        ctx = bench.context(state, now, actor)
        return evaluate(ctx, progress(ctx))

    def deisolation_blockers(self, isolation_id: UUID, *, actor: Actor) -> list[Finding]:
        """RDY-04 for de-isolation: what `DeisolatePoint` by `actor` would be refused with now (ISO-11, ISO-12,
        ISO-13), the same findings in the same order; empty when nothing blocks it."""
        return deisolation_blockers(self._bench(), isolation_id, actor.person_id, self.clock.now())

    def permit_streams(self, permit_id: UUID) -> list[UUID]:
        """AUD-04: the streams a permit's record is made of — its own, every isolation it was ever linked to and
        every SIMOPS conflict it was part of (found from the log's `ConflictDetected` events: an on-demand audit,
        not a hot path)."""
        linked = [
            e.payload.isolation_id for e in self.history(permit_id) if e.type == "IsolationPointAssigned"
        ]
        conflicts = []
        for conflict_id in self.store.stream_ids(topics=["ConflictDetected"]):
            detected = next(iter(self.store.events.get(conflict_id, lte=1))).payload  # type: ignore[attr-defined]
            if permit_id in (detected.older, detected.newer):
                conflicts.append(conflict_id)
        return [permit_id, *dict.fromkeys(linked), *conflicts]

    def verify_chain(self, stream_ids: Iterable[UUID] | None = None) -> list[StreamVerdict]:
        """AUD-04: recompute the chain of the given streams (default: every stream in the store)."""
        ids = list(stream_ids) if stream_ids is not None else list(self.store.stream_ids())
        verdicts = []
        for sid in ids:
            records = (
                StoredRecord(r.originator_version, r.topic, r.state) for r in self.store.stored_rows(sid)
            )
            verdicts.append(verify_stream(sid, records))
        return verdicts

    # --- the sweep ------------------------------------------------------------------------------------------

    def run_sweep(self, now: datetime | None = None) -> list[CommandResult]:
        """TIME-03: record every time fact due at `now` (default: the clock); idempotent."""
        now = now or self.clock.now()
        results = []
        for project_id in list(self.store.stream_ids(topics=["ProjectOpened"])):
            for permit_id in self.project(project_id).permits.values():
                result = self._sweep_permit(permit_id, now)
                if result is not None:
                    results.append(result)
        return results

    def _sweep_permit(self, permit_id: UUID, now: datetime) -> CommandResult | None:
        for _attempt in range(MAX_ATTEMPTS):
            bench = self._bench()
            stream = bench.permit(permit_id)
            if stream.state.status in TERMINAL:
                return None
            ctx = bench.context(stream.state, now, None)
            project = bench.project(stream.state.project_id).state
            swept = with_time_facts(bench, stream, ctx, project)
            if not swept.pending:
                return None
            sweep = c.RunSweep(actor=SYSTEM_ACTOR, at=now)  # an expired permit occupies until further notice
            others = simops_streams(bench, sweep, swept.state, ctx, project)
            try:
                recordings = self.store.save(swept, *others)
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


def _without_time(command: c.Command) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(command)
    data.pop("at", None)
    data.pop("context", None)
    data.get("actor", {}).pop("auth_time", None)
    return data
