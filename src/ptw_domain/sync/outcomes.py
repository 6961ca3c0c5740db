"""Building one offline command's outcome (SYNC-13): applied, conflict (with the server state, SYNC-06) or
rejected (without it when the target is not visible, SYNC-09), and turning a domain refusal into one."""

from __future__ import annotations

from typing import Any

import msgspec

from ptw_domain import commands as c
from ptw_domain.errors import DomainError
from ptw_domain.events.sync import FieldConflict, ServerState, SyncOutcome, SyncOutcomeKind
from ptw_domain.store.streams import Stream
from ptw_domain.sync.batch import SyncItem, is_temporary
from ptw_domain.sync.staleness import signed_hash

# Refusals that say the command itself is wrong, whatever the server holds: rejected. The others (a guard, a
# transition, a first approver, a stale view) say the server moved on from what the device saw: conflicts.
REJECTING = frozenset(
    {"not_found", "forbidden", "validation_failed", "reauthentication_required", "idempotency_key_reused"}
)
NOT_FOUND_RULES = ("SYNC-09", "TEN-02")


def outcome(
    item: SyncItem, kind: SyncOutcomeKind, reason: str | None = None, detail: str = "", **kw: Any
) -> SyncOutcome:
    """An outcome for `item`; a CreatePermit naming a temporary reference reports it (SYNC-13), so a failed
    create marks its reference failed for the commands after it (SYNC-04)."""
    if "ref" not in kw and item.name == c.CreatePermit.__name__ and is_temporary(item.target):
        kw["ref"] = item.target
    return SyncOutcome(
        client_command_id=item.client_command_id,
        command=item.name,
        outcome=kind,
        reason=reason,
        detail=detail,
        target=item.target,
        **kw,
    )


def settled(outcome: SyncOutcome) -> SyncOutcome:
    """The outcome as it reads back from the ledger (tuples become lists in facts), so that the first answer
    and every replay are equal (SYNC-03)."""
    return msgspec.json.decode(msgspec.json.encode(outcome), type=SyncOutcome)


def rejected(item: SyncItem, reason: str, detail: str, *rule_ids: str, **kw: Any) -> SyncOutcome:
    return outcome(item, SyncOutcomeKind.REJECTED, reason, detail, rule_ids=rule_ids, **kw)


def not_found(item: SyncItem, what: str = "target") -> SyncOutcome:
    """SYNC-09/TEN-02: the same answer for a foreign object and a missing one, with no server state."""
    return rejected(item, "not_found", f"no such {what} in this project", *NOT_FOUND_RULES)


def server_state(stream: Stream[Any] | None) -> ServerState | None:
    if stream is None:
        return None
    state = stream.state
    if stream.kind == "permit":
        return ServerState(
            kind="permit",
            id=stream.id,
            status=state.status.value,
            version=stream.version,
            number=state.number,
            core_hash=state.core_hash,
        )
    return ServerState(kind=stream.kind, id=stream.id, status=state.status.value, version=stream.version)


def conflict(
    item: SyncItem, reason: str, detail: str, target: Stream[Any] | None, rule_ids: tuple[str, ...], **kw: Any
) -> SyncOutcome:
    """SYNC-06: a conflict carries the server state of its target; nothing is merged."""
    permit_id = target.id if target is not None and target.kind == "permit" else None
    return outcome(
        item,
        SyncOutcomeKind.CONFLICT,
        reason,
        detail,
        rule_ids=rule_ids,
        server_state=server_state(target),
        permit_id=permit_id,
        **kw,
    )


def refused(
    item: SyncItem, command: c.Command, error: DomainError, target: Stream[Any] | None
) -> SyncOutcome:
    """A refusal of the online path as an offline outcome; a guard failure puts the permit on the sync review
    list (SYNC-07)."""
    field = error.facts.get("field")
    if error.code in REJECTING:
        rules = (*error.rule_ids, *NOT_FOUND_RULES) if error.code == "not_found" else error.rule_ids
        fields = (str(field),) if field else ()
        return rejected(item, error.code, error.message, *rules, invalid_fields=fields)
    if error.code == "stale_view":
        core = FieldConflict(
            field="core_hash",
            device=signed_hash(command),
            server=error.facts.get("current_core_hash"),
            hint="server_state",
        )
        return conflict(item, "stale_version", error.message, target, ("SYNC-05", "SIG-05"), fields=(core,))
    if error.code == "invalid_transition" and "ISO-04" in error.rule_ids:  # moved on since it was compared
        status = target.state.status.value if target is not None else None
        moved = FieldConflict(field="status", device=None, server=status, hint="forward_only")
        return conflict(item, "regression", error.message, target, ("SYNC-08", "ISO-04"), fields=(moved,))
    guard = error.code == "guard_failed"
    return conflict(
        item,
        error.code,
        error.message,
        target,
        (*error.rule_ids, "SYNC-07") if guard else error.rule_ids,
        blockers=error.blockers,
        needs_review=guard,
    )
