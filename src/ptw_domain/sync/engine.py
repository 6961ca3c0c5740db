"""Running an offline batch (SYNC-01..13): each command in order, each through `PermitService.execute`.

Per command: a stored outcome answers a repeat (SYNC-03); the payload, device time and fact times are checked
(SEC-12, SYNC-02); the target is resolved (a temporary reference, SYNC-04) and must be the project's (SYNC-09);
what the device saw is compared with what the server holds (SYNC-05, SYNC-08, SYNC-10); then the command runs at
server time with `expected_version` = the version just compared, so a write in between is compared again. An
applied command's ledger event is saved with its events; other outcomes are recorded alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import IntegrityError

from ptw_domain import commands as c
from ptw_domain.errors import DomainError, Forbidden, StaleVersion, ValidationFailed, WriteConflict
from ptw_domain.events.base import Recorded
from ptw_domain.events.sync import FieldConflict, SyncCommandRecorded, SyncOutcome, SyncOutcomeKind
from ptw_domain.handlers import at_of
from ptw_domain.permit.content import Origin
from ptw_domain.project import ProjectState
from ptw_domain.roles import Actor, ActorKind, Role
from ptw_domain.store.loader import Freshness
from ptw_domain.store.streams import Stream, append, fold
from ptw_domain.sync import ledger
from ptw_domain.sync import outcomes as out
from ptw_domain.sync.batch import MAX_COMMANDS, SyncBatch, SyncItem, SyncReport, SyncResult, is_temporary
from ptw_domain.sync.checks import bind_core_hash, has_placeholder, precheck, target_field
from ptw_domain.sync.duplicates import suspected_duplicate
from ptw_domain.sync.staleness import isolation_conflicts, permit_conflicts
from ptw_domain.workbench import Workbench

if TYPE_CHECKING:
    from ptw_domain.service import CommandResult, PermitService

APPLIED = SyncOutcomeKind.APPLIED
NOT_SYNCING = frozenset({Role.AUDITOR, Role.INTEGRATION})  # SEC-04: every other role may sync
MAX_RECHECKS = 8


def run_batch(service: PermitService, batch: SyncBatch, actor: Actor, within: UUID) -> SyncReport:
    """SYNC-01/04: the batch's commands in order, each atomically; an outcome never undoes an earlier one."""
    if actor.kind is not ActorKind.USER or not actor.member.roles - NOT_SYNCING:
        raise Forbidden("offline sync is for project members acting in person", rule_ids=("SEC-04",))
    if len(batch.commands) > MAX_COMMANDS:
        raise ValidationFailed(
            f"a batch carries at most {MAX_COMMANDS} commands",
            rule_ids=("SYNC-01", "SEC-11"),
            facts={"field": "commands"},
        )
    project = service._bench().project(within, Freshness.FRESH).state
    run = _Run(service, batch, actor, project)
    results = tuple(run.one(item) for item in batch.commands)
    positions = [r.position for r in results if r.position is not None]
    return SyncReport(
        device_id=batch.device_id,
        batch_id=batch.batch_id,
        results=results,
        position=max(positions, default=None),
    )


@dataclass
class _Ref:
    """A temporary reference: the permit its CreatePermit made (None: the create failed) and its last version
    written by this batch."""

    permit_id: UUID | None
    version: int = 0


class _Moved(Exception):
    """The target changed between the comparison and the write: compare again."""


class _Ledger:
    """The attachment that saves an applied command's ledger event in the command's own save (SYNC-03)."""

    def __init__(self, run: _Run, item: SyncItem, fingerprint: str, template: SyncOutcome) -> None:
        self.run, self.item, self.fingerprint = run, item, fingerprint
        self.id = run.ledger_id(item)
        self.outcome = template
        self.found: SyncCommandRecorded | None = None

    def recorded(self, bench: Workbench) -> CommandResult | None:
        from ptw_domain.service import CommandResult

        stream = bench.stream(self.id)
        if stream is None:
            return None
        self.found = stream.state
        return CommandResult(command=self.item.name, stream_id=None, version=None, events=(), replayed=True)

    def streams(self, bench: Workbench, command: c.Command, result: CommandResult) -> list[Stream[Any]]:
        self.outcome = out.settled(
            msgspec.structs.replace(
                self.outcome,
                stream_id=result.stream_id,
                version=result.version,
                events=result.events,
                permit_number=result.permit_number,
                no_change=not result.events,
            )
        )
        return [self.run.ledger_stream(self.item, self.fingerprint, self.outcome, bench, at_of(command))]


class _Run:
    def __init__(self, service: PermitService, batch: SyncBatch, actor: Actor, project: ProjectState) -> None:
        self.service, self.batch, self.actor, self.project = service, batch, actor, project
        self.refs: dict[str, _Ref] = {}

    # --- one command ----------------------------------------------------------------------------------------

    def one(self, item: SyncItem) -> SyncResult:
        fingerprint = ledger.fingerprint(item, self.actor.person_id)
        stored = self._stored(item)
        if stored is not None:
            result = self._replay(item, stored, fingerprint)
        else:
            try:
                result = self._run(item, fingerprint)
            except WriteConflict as error:  # transient: not recorded, so a resend is run again
                result = SyncResult(outcome=out.rejected(item, "write_conflict", error.message))
        self._track(item, result.outcome)
        return result

    def _run(self, item: SyncItem, fingerprint: str) -> SyncResult:
        refusal = precheck(item, self.service.clock.now(), self.project.settings)
        if refusal is not None:
            return self._record(item, fingerprint, refusal)
        assert item.command is not None
        if isinstance(item.command, c.CreatePermit):
            return self._create(item, item.command, fingerprint)
        for _attempt in range(MAX_RECHECKS):
            try:
                return self._targeted(item, item.command, fingerprint)
            except _Moved:
                continue
        raise WriteConflict("the target kept changing while the command was compared; nothing was recorded")

    def _create(self, item: SyncItem, command: c.CreatePermit, fingerprint: str) -> SyncResult:
        """SYNC-04/10: a create names the temporary reference it makes (or none) and may be a duplicate."""
        if item.target is not None and not is_temporary(item.target):
            detail = "a CreatePermit names the temporary reference it creates (tmp:<name>), or none"
            return self._record(item, fingerprint, out.rejected(item, "validation_failed", detail, "SYNC-01"))
        if item.target in self.refs:
            detail = f"{item.target} was already created earlier in this batch"
            refusal = out.rejected(item, "validation_failed", detail, "SYNC-04", ref=None)
            return self._record(item, fingerprint, refusal)
        command = msgspec.structs.replace(command, origin=Origin.OFFLINE_DEVICE)
        if not item.confirm_not_duplicate:
            bench = self.service._bench()
            twin = suspected_duplicate(bench, bench.project(self.project.project_id).state, command)
            if twin is not None:
                detail = (
                    f"permit {twin.number} ({twin.permit_id}) has the same work order and category and an "
                    "overlapping planned window; resend under a new id with confirm_not_duplicate to create it"
                )
                stream = bench.stream(twin.permit_id)
                refusal = out.conflict(item, "duplicate_suspected", detail, stream, ("SYNC-10",))
                return self._record(item, fingerprint, refusal)
        created = {"permit_id": command.permit_id, **item.created}
        return self._apply(item, command, fingerprint, None, created=created, permit_id=command.permit_id)

    def _targeted(self, item: SyncItem, command: c.Command, fingerprint: str) -> SyncResult:
        base: int | None = item.based_on_version
        if is_temporary(item.target):
            ref = self.refs.get(str(item.target))
            if target_field(command) != "permit_id" or ref is None:
                detail = f"{item.target} names no permit created earlier in this batch"
                return self._record(item, fingerprint, out.rejected(item, "not_found", detail, "SYNC-04"))
            if ref.permit_id is None:
                detail = f"the CreatePermit of {item.target} was not applied"
                refusal = out.rejected(item, "dependency_failed", detail, "SYNC-04")
                return self._record(item, fingerprint, refusal)
            command = msgspec.structs.replace(command, permit_id=ref.permit_id)
            base = ref.version  # SYNC-11: the device cannot know the server's versions of its new permit
        elif has_placeholder(command):
            detail = "the core hash placeholder binds only to a permit created earlier in the batch"
            refusal = out.rejected(
                item, "validation_failed", detail, "SYNC-11", invalid_fields=("signature.core_hash",)
            )
            return self._record(item, fingerprint, refusal)
        target = self._target(command)
        if target is None:
            return self._record(item, fingerprint, out.not_found(item))
        if base is None:
            detail = "based_on_version is required for a command on an existing object"
            refusal = out.conflict(item, "missing_base_version", detail, target, ("SYNC-05",))
            return self._record(item, fingerprint, refusal)
        if base > target.version or base < 1:
            detail = f"based_on_version {base} is not a version of this object"
            refusal = out.conflict(item, "stale_version", detail, target, ("SYNC-05",))
            return self._record(item, fingerprint, refusal)
        if target.kind == "permit":
            return self._on_permit(item, command, fingerprint, target, base)
        return self._on_isolation(item, command, fingerprint, target, base)

    def _on_permit(
        self, item: SyncItem, command: c.Command, fingerprint: str, target: Stream[Any], base: int
    ) -> SyncResult:
        """SYNC-05: applied over later events unless they changed what the command writes or the status."""
        rebased: tuple[str, ...] = ()
        if base < target.version:
            seen = self.service.permit_at_version(target.id, base)
            fields = permit_conflicts(command, seen, target.state)
            if fields:
                detail = f"the permit changed after version {base}: {', '.join(f.field for f in fields)}"
                refusal = out.conflict(
                    item, "stale_version", detail, target, ("SYNC-05",), fields=tuple(fields)
                )
                return self._record(item, fingerprint, refusal)
            rebased = self._types_after(target.id, base, target.version)
        command = bind_core_hash(command, target.state.core_hash)  # SYNC-11: compared unchanged just above
        command = msgspec.structs.replace(command, expected_version=target.version)
        return self._apply(item, command, fingerprint, target, rebased_over=rebased, permit_id=target.id)

    def _on_isolation(
        self, item: SyncItem, command: c.Command, fingerprint: str, target: Stream[Any], base: int
    ) -> SyncResult:
        """SYNC-08: forward only; a state reached with the same facts is applied with no change."""
        history: list[Recorded[Any]] = list(self.service.store.events.get(target.id))  # type: ignore[arg-type]
        verdict, fields = isolation_conflicts(command, target.state, history)
        if verdict == "no_change":
            applied = out.outcome(item, APPLIED, stream_id=target.id, version=target.version, no_change=True)
            return self._record(item, fingerprint, applied)
        if verdict is not None:
            rules = ("SYNC-08", "ISO-04") if verdict == "regression" else ("SYNC-05", "SYNC-08")
            detail = f"the isolation is {target.state.status}" + (
                "; the command would move it back" if verdict == "regression" else " with other facts"
            )
            refusal = out.conflict(item, verdict, detail, target, rules, fields=tuple(fields))
            return self._record(item, fingerprint, refusal)
        rebased: tuple[str, ...] = ()
        if base < target.version:
            seen = fold(None, history[:base])
            assert seen is not None
            if seen.state.status != target.state.status:
                moved = FieldConflict(
                    field="status",
                    device=seen.state.status.value,
                    server=target.state.status.value,
                    hint="forward_only",
                )
                detail = f"the isolation moved to {target.state.status} after version {base}"
                refusal = out.conflict(item, "stale_version", detail, target, ("SYNC-05",), fields=(moved,))
                return self._record(item, fingerprint, refusal)
            rebased = tuple(r.type for r in history[base : target.version])
        return self._apply(item, command, fingerprint, target, rebased_over=rebased)

    def _apply(
        self,
        item: SyncItem,
        command: c.Command,
        fingerprint: str,
        target: Stream[Any] | None,
        *,
        rebased_over: tuple[str, ...] = (),
        created: dict[str, UUID] | None = None,
        permit_id: UUID | None = None,
    ) -> SyncResult:
        """SYNC-02/03: the online path at server time, the ledger event in the same save."""
        context = msgspec.structs.replace(
            command.context,
            device_id=self.batch.device_id,
            device_time=item.device_time,
            client_command_id=item.client_command_id,
        )
        command = msgspec.structs.replace(command, context=context)
        template = out.outcome(
            item,
            APPLIED,
            created=created or dict(item.created),
            rebased_over=rebased_over,
            permit_id=permit_id,
        )
        attach = _Ledger(self, item, fingerprint, template)
        try:
            result = self.service.execute(command, within=self.project.project_id, attach=attach)
        except StaleVersion:
            raise _Moved from None
        except WriteConflict:
            raise
        except DomainError as error:
            fresh = self._target(command) if target is not None else None
            return self._record(item, fingerprint, out.refused(item, command, error, fresh))
        if attach.found is not None:
            return self._replay(item, attach.found, fingerprint)
        return SyncResult(outcome=attach.outcome, position=result.position)

    # --- the ledger -----------------------------------------------------------------------------------------

    def ledger_id(self, item: SyncItem) -> UUID:
        return ledger.ledger_id(self.project.project_id, self.batch.device_id, item.client_command_id)

    def ledger_stream(
        self, item: SyncItem, fingerprint: str, outcome: SyncOutcome, bench: Workbench, at: Any
    ) -> Stream[Any]:
        event = ledger.recorded_event(self.project, self.batch, item, self.actor, fingerprint, outcome)
        correlation = item.command.context.correlation_id if item.command is not None else None
        meta = ledger.metadata(self.actor, self.project, self.batch, item, correlation)
        return append(
            None, [event], metadata=meta, at=at, new_id=bench.new_id, stream_id=self.ledger_id(item)
        )

    def _record(self, item: SyncItem, fingerprint: str, outcome: SyncOutcome) -> SyncResult:
        """SYNC-12: an outcome without events of its own, recorded alone (a concurrent repeat that recorded
        first is answered as a replay)."""
        outcome = out.settled(outcome)
        bench = self.service._bench()
        stream = self.ledger_stream(item, fingerprint, outcome, bench, self.service.clock.now())
        try:
            recordings = self.service.store.save(stream)
        except IntegrityError:
            stored = self._stored(item)
            assert stored is not None, "the ledger stream exists: the store refused its first version"
            return self._replay(item, stored, fingerprint)
        return SyncResult(outcome=outcome, position=max(r.notification.id for r in recordings))

    def _stored(self, item: SyncItem) -> SyncCommandRecorded | None:
        stream = self.service._bench().stream(self.ledger_id(item))
        return stream.state if stream is not None and stream.kind == "sync_ledger" else None

    def _replay(self, item: SyncItem, stored: SyncCommandRecorded, fingerprint: str) -> SyncResult:
        """SYNC-03: the stored outcome, appending nothing; another command under the same id is not a repeat."""
        if stored.fingerprint != fingerprint:
            detail = "this client_command_id was used for a different command from this device"
            return SyncResult(outcome=out.rejected(item, "client_command_id_reused", detail, "SYNC-03"))
        return SyncResult(outcome=stored.outcome, replayed=True)

    # --- targets and temporary references --------------------------------------------------------------------

    def _target(self, command: c.Command) -> Stream[Any] | None:
        """The command's target as the server holds it now, if it is this project's (SYNC-09)."""
        field = target_field(command)
        if field is None:
            return None
        stream = self.service._bench().stream(getattr(command, field))
        kind = "permit" if field == "permit_id" else "isolation"
        if stream is None or stream.kind != kind or stream.state.project_id != self.project.project_id:
            return None
        return stream

    def _types_after(self, stream_id: UUID, base: int, version: int) -> tuple[str, ...]:
        """SYNC-05 `rebased_over`: the types of the events recorded after the base version."""
        events = self.service.store.events.get(stream_id, gt=base, lte=version)
        return tuple(r.type for r in events)  # type: ignore[attr-defined]

    def _track(self, item: SyncItem, outcome: SyncOutcome) -> None:
        """SYNC-04: a create's reference names its permit (or fails); an applied command on a reference moves
        its version on."""
        applied = outcome.outcome is APPLIED
        if outcome.ref is not None:
            self.refs[outcome.ref] = _Ref(outcome.stream_id if applied else None, outcome.version or 0)
        elif is_temporary(item.target) and applied and str(item.target) in self.refs:
            self.refs[str(item.target)] = _Ref(outcome.stream_id, outcome.version or 0)
