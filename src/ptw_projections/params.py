"""Parsing of query parameters shared by the read models: instants, day bounds, paging, sort keys (RM-02..04)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import msgspec

from ptw_projections.errors import InvalidQuery

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


def instant(parameter: str, value: str) -> datetime:
    """An ISO 8601 instant with its offset (`Z` or ±hh:mm); a naive time is ambiguous and refused."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidQuery(parameter, f"{value!r} is not an ISO 8601 instant") from None
    if parsed.tzinfo is None:
        raise InvalidQuery(parameter, f"{value!r} has no UTC offset; write e.g. 2026-11-25T14:32:00Z")
    return parsed


def bound(parameter: str, value: str, zone: ZoneInfo, *, upper: bool) -> tuple[datetime, bool]:
    """RM-02: an inclusive range bound. A date-only bound covers the whole day in the project's time zone, so
    an upper date bound becomes "before the next day's start". Returns (instant, inclusive)."""
    if len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise InvalidQuery(parameter, f"{value!r} is not a date (YYYY-MM-DD)") from None
        if upper:
            return datetime.combine(day + timedelta(days=1), time(), zone), False
        return datetime.combine(day, time(), zone), True
    return instant(parameter, value), True


def paging(page: int | None, page_size: int | None) -> tuple[int, int]:
    """RM-04: pages from 1, default size 20, at most 100."""
    number = 1 if page is None else page
    size = DEFAULT_PAGE_SIZE if page_size is None else page_size
    if number < 1:
        raise InvalidQuery("page", "pages are numbered from 1")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidQuery("page_size", f"must be between 1 and {MAX_PAGE_SIZE}")
    return number, size


def sort_key(value: str, allowed: Mapping[str, object]) -> tuple[str, bool]:
    """`key` ascending or `-key` descending, from the allowed keys."""
    descending = value.startswith("-")
    key = value[1:] if descending else value
    if key not in allowed:
        raise InvalidQuery("sort", f"unknown sort key {key!r}; use one of {', '.join(sorted(allowed))}")
    return key, descending


def terms(q: str) -> list[str]:
    """RM-01: search terms split on spaces and commas, lower-cased."""
    return [t for t in q.replace(",", " ").lower().split() if t]


Q = TypeVar("Q", bound=msgspec.Struct)
_UNKNOWN = re.compile(r"Object contains unknown field `([^`]+)`")
_AT = re.compile(r" - at `\$\.([A-Za-z_][A-Za-z0-9_]*)")


def parse_query(values: Mapping[str, Any], kind: type[Q]) -> Q:
    """A query struct from request parameters, query-string text coerced ("2" -> 2, "true" -> True); an unknown
    or malformed parameter is an InvalidQuery naming it (the structs forbid unknown fields)."""
    try:
        return msgspec.convert(dict(values), kind, strict=False)
    except msgspec.ValidationError as error:
        message = str(error)
        named = _UNKNOWN.fullmatch(message) or _AT.search(message)
        raise InvalidQuery(named.group(1) if named else "query", message) from None
