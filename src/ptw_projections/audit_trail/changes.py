"""Before and after of the fields an event changed (RM-11), and a one-line human summary.

The diff walks the folded states, not the payloads, so it shows what the event *did* (a submission changes the
status, the cycle and the submitted time) in the same words as the detail view. Nested records are walked two
levels deep; anything deeper is shown whole.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from ptw_domain.events.base import Recorded

# Bookkeeping that changes with every event and says nothing to an auditor.
NOT_SHOWN = frozenset({"version", "history"})
_WORDS = re.compile(r"(?<!^)(?=[A-Z])")


def changed_fields(before: Any, after: Any, prefix: str = "", depth: int = 2) -> dict[str, Any]:
    """{field path: [before, after]} for every field whose value differs; a list that only grew is shown as
    {"added": [...]} rather than twice in full."""
    if before is None:
        return {}
    out: dict[str, Any] = {}
    for name in after.__struct_fields__:
        if name in NOT_SHOWN:
            continue
        old, new = getattr(before, name, None), getattr(after, name)
        if old is new or old == new:
            continue
        path = f"{prefix}{name}"
        if depth > 0 and isinstance(old, msgspec.Struct) and isinstance(new, msgspec.Struct):
            out.update(changed_fields(old, new, f"{path}.", depth - 1))
        elif isinstance(old, tuple) and isinstance(new, tuple) and old and new[: len(old)] == old:
            out[path] = {"added": msgspec.to_builtins(new[len(old) :])}
        else:
            out[path] = [msgspec.to_builtins(old), msgspec.to_builtins(new)]
    return out


def summary(recorded: Recorded[Any], changes: dict[str, Any]) -> str:
    """E.g. "Permit submitted by alice (status draft → submitted)"."""
    words = _WORDS.sub(" ", recorded.type).lower()
    actor = recorded.metadata.actor
    text = f"{words[:1].upper()}{words[1:]} by {actor.id}"
    if recorded.metadata.on_behalf_of:
        text += f" on behalf of {recorded.metadata.on_behalf_of}"
    if recorded.metadata.rule:
        text += f" ({recorded.metadata.rule})"
    status = changes.get("status")
    if status:
        text += f" (status {status[0]} → {status[1]})"
    return text
