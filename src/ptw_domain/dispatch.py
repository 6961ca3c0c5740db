"""The one table from command type to handler: configuration and permits (`handlers`), and the acts of the
safety areas that write streams of their own (`isolation.handling`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ptw_domain import commands as c
from ptw_domain.errors import Forbidden, InvalidTransition
from ptw_domain.handlers import HANDLERS, Change, decide_permit
from ptw_domain.isolation.handling import ISOLATION_ACTS
from ptw_domain.roles import is_integration
from ptw_domain.simops.handling import SIMOPS_ACTS
from ptw_domain.store.loader import Freshness
from ptw_domain.workbench import Workbench

_TABLE: dict[type[Any], Callable[[Workbench, Any], Change]] = {**HANDLERS, **ISOLATION_ACTS, **SIMOPS_ACTS}


def command_types() -> list[type[c.Command]]:
    """Every command type: the subclasses of `Command`, at any depth (the permit's own are decided by
    `decide_permit`, not listed in the dispatch table)."""
    found: list[type[c.Command]] = []
    todo: list[type[c.Command]] = [c.Command]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


# ROLE-07: the safety facts an integration principal never records, whatever roles its token holds (signing
# acts are refused where they sign, `authority.refuse_integration_signing`).
SAFETY_FACTS = frozenset(
    {
        "RecordGasReading",
        "VoidGasReading",
        "AssignIsolationPoint",
        "UnassignIsolationPoint",
        "IsolatePoint",
        "VerifyIsolation",
        "DeisolatePoint",
        "TransferIsolationToOperations",
        "ApplyPersonalLock",
        "RemovePersonalLock",
        "RecordLockRemovalException",
        "RecordIsolationLockException",
        "ApplyInhibit",
        "RestoreInhibit",
        "ResolveConflict",
        "AddAttachment",  # a permit safety-fact event (domain.md §19)
    }
)


# SEC-08: what an inactive project still accepts — close-out, de-isolation (and its alternative, the transfer
# to operations, and the LOCK-02 facts on the isolation that let another than the absent owner de-isolate),
# annotation, the settings that reactivate it, and linking an incident (a close-out event, §19); and, our choice,
# stopping work, leaving a confined space and removing one's own lock, which a safety system never refuses.
WHILE_INACTIVE = frozenset(
    {
        "CompletePermit",
        "CompleteFireWatch",
        "CheckCloseoutItem",
        "UncheckCloseoutItem",
        "RestoreInhibit",
        "ClosePermit",
        "DeisolatePoint",
        "TransferIsolationToOperations",
        "RecordIsolationLockException",
        "ChangeProjectSettings",
        "SuspendPermit",
        "RecordExit",
        "RemovePersonalLock",
        "AnnotatePermit",
        "LinkIncident",
    }
)


def refuse_while_inactive(bench: Workbench, command: c.Command) -> None:
    """SEC-08: an inactive project (TEN-06) refuses writes but those above; it keeps every read."""
    if command.name in WHILE_INACTIVE or isinstance(
        command, c.OpenProject | c.CreatePermit
    ):  # creation: TEN-06
        return
    scope = bench.scope_of(command)
    stream = bench.stream(scope, Freshness.REFERENCE)
    if stream is not None and stream.kind == "project" and not stream.state.settings.active:
        raise InvalidTransition(
            f"the project is inactive and refuses {command.name}",
            rule_ids=("SEC-08", "TEN-06"),
            allowed_commands=sorted(WHILE_INACTIVE),
        )


def decide(bench: Workbench, command: c.Command) -> Change:
    if command.name in SAFETY_FACTS and is_integration(command.actor):
        raise Forbidden(
            f"an integration principal cannot record safety facts ({command.name})", rule_ids=("ROLE-07",)
        )
    refuse_while_inactive(bench, command)
    handler = _TABLE.get(type(command))
    if handler is not None:
        return handler(bench, command)
    if isinstance(command, c.PermitCommand):
        return decide_permit(bench, command)
    raise TypeError(f"no handler for {type(command).__name__}")
