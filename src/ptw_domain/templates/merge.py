"""TPL-04 deep merge of a template definition with a project override."""

from __future__ import annotations

from typing import Any


def _identity(item: Any) -> Any:
    """Object items are matched by `key`, scalars by value."""
    if isinstance(item, dict) and "key" in item:
        return ("key", item["key"])
    if isinstance(item, dict | list):
        return ("json", repr(item))
    return ("value", item)


def _union(base: list[Any], patch: list[Any]) -> list[Any]:
    merged = list(base)
    position = {_identity(item): index for index, item in enumerate(merged)}
    for item in patch:
        ident = _identity(item)
        if ident not in position:
            position[ident] = len(merged)
            merged.append(item)
        elif isinstance(item, dict) and isinstance(merged[position[ident]], dict):
            merged[position[ident]] = deep_merge(merged[position[ident]], item)
    return merged


def _is_replacement(value: Any) -> bool:
    return isinstance(value, dict) and value.get("replace") is True and "items" in value


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; scalars are replaced; lists are unioned in order; `replace` lists replace."""
    merged = dict(base)
    for key, value in patch.items():
        current = merged.get(key)
        if _is_replacement(value):
            merged[key] = list(value["items"])
        elif isinstance(value, dict) and isinstance(current, dict):
            merged[key] = deep_merge(current, value)
        elif isinstance(value, list) and isinstance(current, list):
            merged[key] = _union(current, value)
        else:
            merged[key] = value
    return merged
