"""SYNC-05/06/08: what the device saw against what the server holds now.

What later events changed is derived, not tabled: the permit folded at the device's `based_on_version` and the
permit now are compared field by field (content fields, status, core hash). What a command writes: the fields an
edit or amendment gives, the core hash a signing command signs, and — for every command — the status it was
judged on. A command conflicts when any of those changed; the server never merges (SYNC-06).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ptw_domain import commands as c
from ptw_domain.events import isolation as iso_events
from ptw_domain.events.base import Recorded
from ptw_domain.events.sync import FieldConflict
from ptw_domain.isolation import commands as ic
from ptw_domain.isolation.state import IsolationState, IsolationStatus
from ptw_domain.permit.content import diff_content
from ptw_domain.permit.state import PermitState
from ptw_domain.sync.batch import CORE_HASH_PLACEHOLDER

UNION_FIELDS = frozenset({"equipment_tags", "hazards", "controls", "ppe", "related_permits", "contacts"})
TRUE_WINS_FIELDS = frozenset({"checklist_answers"})
SERVER_STATE_FIELDS = frozenset({"status", "core_hash"})
# ISO-04: the order isolation states are reached in; `withdrawn` ends an isolation that never went further.
ISOLATION_RANK = {
    IsolationStatus.ASSIGNED: 0,
    IsolationStatus.ISOLATED: 1,
    IsolationStatus.VERIFIED: 2,
    IsolationStatus.DEISOLATED: 3,
    IsolationStatus.WITHDRAWN: 4,
}


def as_json(value: Any) -> Any:
    """A value as it reads back from the ledger (lists, strings), so a replay equals the first answer."""
    return msgspec.json.decode(msgspec.json.encode(value))


def hint_for(field: str) -> str:
    """SYNC-06: how a person would reconcile the field; the server only suggests it."""
    if field in SERVER_STATE_FIELDS:
        return "server_state"
    if field in UNION_FIELDS:
        return "union"
    if field in TRUE_WINS_FIELDS:
        return "true_wins"
    return "choose"


def permit_changes(before: PermitState, after: PermitState) -> dict[str, tuple[Any, Any]]:
    """What the events between two versions changed: each content field, the status and the core hash."""
    changed = {
        name: (fc.before, fc.after) for name, fc in diff_content(before.content, after.content).items()
    }
    if before.status != after.status:
        changed["status"] = (before.status.value, after.status.value)
    if before.core_hash != after.core_hash:
        changed["core_hash"] = (before.core_hash, after.core_hash)
    return changed


def signed_hash(command: c.Command) -> str | None:
    """The core hash a signing command's signer reviewed (SIG-05), or None for a command that signs nothing."""
    signature = getattr(command, "signature", None)
    return signature.core_hash if signature is not None else None


def writes(command: c.Command, seen: PermitState) -> dict[str, Any]:
    """The fields the command writes, with the device's values (JSON-ready)."""
    written: dict[str, Any] = {}
    if isinstance(command, c.EditPermit | c.AmendPermit):
        written.update(as_json(command.changes.given()))
    signed = signed_hash(command)
    if signed is not None:
        written["core_hash"] = seen.core_hash if signed == CORE_HASH_PLACEHOLDER else signed
    return written


def permit_conflicts(command: c.Command, seen: PermitState, now: PermitState) -> list[FieldConflict]:
    """SYNC-05/06: the fields the command writes (and the status) that changed after the version it was based
    on, each with the device's value, the server's value and a hint; empty when the command may be applied."""
    changed = permit_changes(seen, now)
    conflicts = []
    if "status" in changed:
        device, server = changed["status"]
        conflicts.append(FieldConflict(field="status", device=device, server=server, hint="server_state"))
    for name, device in writes(command, seen).items():
        if name in changed:
            server = as_json(changed[name][1])
            conflicts.append(FieldConflict(field=name, device=device, server=server, hint=hint_for(name)))
    return conflicts


def isolation_target(command: c.Command) -> IsolationStatus | None:
    """The isolation state an act moves to (ISO-04); None for acts that move no state (a transfer)."""
    if isinstance(command, ic.IsolatePoint):
        return IsolationStatus.ISOLATED
    if isinstance(command, ic.VerifyIsolation):
        return IsolationStatus.VERIFIED if command.passed else IsolationStatus.ISOLATED
    if isinstance(command, ic.DeisolatePoint):
        return IsolationStatus.DEISOLATED
    return None


def _facts(command: c.Command) -> tuple[type[Any], dict[str, Any]] | None:
    """The event a repeated act would have recorded, and the facts it must carry to count as the same act."""
    person = command.actor.person_id
    if isinstance(command, ic.IsolatePoint):
        facts = {
            "by": person,
            "lock_ids": command.lock_ids,
            "tag": command.tag,
            "method": command.method,
            "achieved_category": command.achieved_category,
            "isolated_at": command.isolated_at,
        }
        return iso_events.PointIsolated, facts
    if isinstance(command, ic.VerifyIsolation) and command.passed:
        facts = {"by": person, "method": command.method, "verified_at": command.verified_at}
        return iso_events.IsolationVerified, facts
    if isinstance(command, ic.DeisolatePoint):
        return iso_events.PointDeisolated, {"by": person}
    return None


def isolation_conflicts(
    command: c.Command, state: IsolationState, history: list[Recorded[Any]]
) -> tuple[str | None, list[FieldConflict]]:
    """SYNC-08: (`regression`, fields) for a move back; (`no_change`, []) for a state already reached with the
    same facts; (`stale_version`, fields) for a state reached with other facts; (None, []) for a move forward."""
    target = isolation_target(command)
    if target is None:
        return None, []
    status = FieldConflict(
        field="status", device=target.value, server=state.status.value, hint="forward_only"
    )
    reached, wanted = ISOLATION_RANK[state.status], ISOLATION_RANK[target]
    if reached > wanted:
        return "regression", [status]
    expected = _facts(command)
    if reached < wanted or expected is None:
        return None, []
    kind, facts = expected
    recorded = next((r.payload for r in reversed(history) if isinstance(r.payload, kind)), None)
    differing = [
        FieldConflict(
            field=name,
            device=as_json(value),
            server=as_json(getattr(recorded, name, None)),
            hint="forward_only",
        )
        for name, value in facts.items()
        if recorded is None or getattr(recorded, name) != value
    ]
    return ("stale_version", differing) if differing else ("no_change", [])
