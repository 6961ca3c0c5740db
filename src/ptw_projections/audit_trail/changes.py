"""Before and after of the fields an event changed (RM-11), and a one-line human summary.

The diff walks the folded states, not the payloads, so it shows what the event *did* (a submission changes the
status, the cycle and the submitted time) in the same words as the detail view. Nested records are walked two
levels deep; anything deeper is shown whole.
"""

from __future__ import annotations

import re
from functools import cache
from itertools import compress, islice
from operator import is_not
from typing import Any

import msgspec
from msgspec.structs import astuple

from ptw_domain.events.base import Recorded

# Bookkeeping that changes with every event and says nothing to an auditor.
NOT_SHOWN = frozenset({"version", "history"})
_WORDS = re.compile(r"(?<!^)(?=[A-Z])")
# Values `to_builtins` returns as they are (exact types: a str enum is not one of them).
_PLAIN = frozenset({str, int, float, bool, type(None)})


def changed_fields(before: Any, after: Any, prefix: str = "", depth: int = 2) -> dict[str, Any]:
    """{field path: [before, after]} for every field whose value differs; a list or map that only grew is shown
    as {"added": ...} rather than twice in full (a project's map of permit numbers would otherwise make each
    allocation's row as long as the project's history)."""
    if before is None:
        return {}
    names = after.__struct_fields__
    if type(before) is type(after):
        # A fold replaces few fields and keeps the others' objects: find those by identity in C, not per field.
        olds, news = astuple(before), astuple(after)
        pairs = [(names[i], olds[i], news[i]) for i in compress(range(len(names)), map(is_not, olds, news))]
    else:
        pairs = [(name, getattr(before, name, None), getattr(after, name)) for name in names]
    out: dict[str, Any] = {}
    for name, old, new in pairs:
        if name in NOT_SHOWN or old is new or old == new:
            continue
        path = f"{prefix}{name}"
        if depth > 0 and isinstance(old, msgspec.Struct) and isinstance(new, msgspec.Struct):
            out.update(changed_fields(old, new, f"{path}.", depth - 1))
        elif isinstance(old, tuple) and isinstance(new, tuple) and old and new[: len(old)] == old:
            out[path] = {"added": msgspec.to_builtins(new[len(old) :])}
        elif isinstance(old, dict) and isinstance(new, dict) and old and old.items() < new.items():
            out[path] = {"added": msgspec.to_builtins(_added(old, new))}
        else:
            out[path] = [_builtins(old), _builtins(new)]
    return out


def _added(old: dict[Any, Any], new: dict[Any, Any]) -> dict[Any, Any]:
    """The entries of `new` (a superset of `old`) that `old` lacks, in `new`'s order. A fold adds them last, so
    only the last ones are looked at unless that fails."""
    tail = list(islice(reversed(new.items()), len(new) - len(old)))
    if any(key in old for key, _ in tail):
        return {key: value for key, value in new.items() if key not in old}
    return dict(reversed(tail))


def _builtins(value: Any) -> Any:
    return value if type(value) in _PLAIN else msgspec.to_builtins(value)


def summary(recorded: Recorded[Any], changes: dict[str, Any]) -> str:
    """E.g. "Permit submitted by alice (status draft → submitted)"."""
    text = f"{_words(recorded.type)} by {recorded.metadata.actor.id}"
    if recorded.metadata.on_behalf_of:
        text += f" on behalf of {recorded.metadata.on_behalf_of}"
    if recorded.metadata.rule:
        text += f" ({recorded.metadata.rule})"
    status = changes.get("status")
    if status:
        text += f" (status {status[0]} → {status[1]})"
    return text


@cache
def _words(type_name: str) -> str:
    """E.g. PermitSubmitted -> "Permit submitted"."""
    words = _WORDS.sub(" ", type_name).lower()
    return f"{words[:1].upper()}{words[1:]}"
