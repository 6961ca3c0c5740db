"""TPL-06: the one checklist normaliser used by guards, readiness, exports and read models."""

from __future__ import annotations

import re
from typing import Any

import msgspec


class ChecklistItem(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    label: str
    required: bool = True


def slug(label: str) -> str:
    """Lower-case words joined by underscores: a stable key for a bare-string item."""
    return re.sub(r"[^a-z0-9]+", "_", label.strip().lower()).strip("_")


def normalise_item(item: Any) -> ChecklistItem:
    """A bare string becomes a required item keyed by its slug; a mapping keeps its key, label and flag."""
    if isinstance(item, ChecklistItem):
        return item
    if isinstance(item, str):
        return ChecklistItem(key=slug(item), label=item.strip(), required=True)
    if isinstance(item, dict):
        label = str(item.get("label") or item.get("key") or "")
        key = str(item.get("key") or slug(label))
        return ChecklistItem(key=key, label=label, required=bool(item.get("required", True)))
    raise TypeError(f"a checklist item is a string or a mapping, not {type(item).__name__}")


def normalise_checklist(items: Any) -> tuple[ChecklistItem, ...]:
    """Normalise a list (or a TPL-04 `{"replace": true, "items": [...]}` wrapper) of checklist items."""
    if isinstance(items, dict) and "items" in items:
        items = items["items"]
    return tuple(normalise_item(item) for item in (items or ()))
