"""The one table from command type to handler: configuration and permits (`handlers`), and the acts of the
safety areas that write streams of their own (`isolation.handling`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ptw_domain import commands as c
from ptw_domain.handlers import HANDLERS, Change, decide_permit
from ptw_domain.isolation.handling import ISOLATION_ACTS
from ptw_domain.simops.handling import SIMOPS_ACTS
from ptw_domain.workbench import Workbench

_TABLE: dict[type[Any], Callable[[Workbench, Any], Change]] = {**HANDLERS, **ISOLATION_ACTS, **SIMOPS_ACTS}


def decide(bench: Workbench, command: c.Command) -> Change:
    handler = _TABLE.get(type(command))
    if handler is not None:
        return handler(bench, command)
    if isinstance(command, c.PermitCommand):
        return decide_permit(bench, command)
    raise TypeError(f"no handler for {type(command).__name__}")
