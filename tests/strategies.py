"""Hypothesis strategies shared by the property tests (the one module for strategies).

`from_msgspec(tp)` derives a strategy from msgspec's own type introspection, so every length, range and
pattern constraint (`Annotated[..., Meta(...)]`) the decoder enforces is honoured by the generated values:
a value drawn here is one the typed decoder accepts. Instants are timezone-aware UTC (canonical JSON,
SIG-06), floats are finite (JSON has no NaN) and `Any` means JSON values.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import msgspec
import msgspec.inspect as mi
from hypothesis import strategies as st

from ptw_domain.events.base import ActorRecord, DomainEvent, EventMetadata

MIN_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(2100, 1, 1)

instants = st.datetimes(
    min_value=MIN_INSTANT.replace(tzinfo=None), max_value=MAX_INSTANT, timezones=st.just(UTC)
)
uuids = st.uuids()
finite_floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
safe_ints = st.integers(min_value=-(2**53), max_value=2**53)
short_text = st.text(max_size=20)

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | safe_ints | finite_floats | short_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(short_text, inner, max_size=4),
    max_leaves=10,
)


def _bounded_int(t: mi.IntType) -> st.SearchStrategy[int]:
    lo = t.ge if t.ge is not None else (t.gt + 1 if t.gt is not None else -(2**31))
    hi = t.le if t.le is not None else (t.lt - 1 if t.lt is not None else 2**31)
    return st.integers(min_value=lo, max_value=hi)


def _string(t: mi.StrType) -> st.SearchStrategy[str]:
    if t.pattern is not None:
        strat = st.from_regex(re.compile(t.pattern), fullmatch=True)
        lo, hi = t.min_length or 0, t.max_length
        return strat.filter(lambda s: len(s) >= lo and (hi is None or len(s) <= hi))
    return st.text(min_size=t.min_length or 0, max_size=min(t.max_length or 30, 30))


def _sized(t: Any, default_max: int = 3) -> dict[str, int]:
    lo = getattr(t, "min_length", None) or 0
    hi = getattr(t, "max_length", None)
    return {"min_size": lo, "max_size": max(lo, min(hi if hi is not None else default_max, default_max))}


def from_type_info(t: mi.Type) -> st.SearchStrategy[Any]:
    """A strategy for values of one msgspec type description."""
    if isinstance(t, mi.AnyType):
        return json_values
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.IntType):
        return _bounded_int(t)
    if isinstance(t, mi.FloatType):
        return finite_floats
    if isinstance(t, mi.StrType):
        return _string(t)
    if isinstance(t, mi.UUIDType):
        return uuids
    if isinstance(t, mi.DateTimeType):
        if t.tz is False:
            return instants.map(lambda d: d.replace(tzinfo=None))
        return instants
    if isinstance(t, mi.EnumType):
        return st.sampled_from(list(t.cls))
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(list(t.values))
    if isinstance(t, mi.UnionType):
        return st.one_of(*(from_type_info(member) for member in t.types))
    if isinstance(t, mi.VarTupleType):
        return st.lists(from_type_info(t.item_type), **_sized(t)).map(tuple)
    if isinstance(t, mi.TupleType):
        return st.tuples(*(from_type_info(item) for item in t.item_types))
    if isinstance(t, mi.ListType):
        return st.lists(from_type_info(t.item_type), **_sized(t))
    if isinstance(t, mi.FrozenSetType):
        return st.frozensets(from_type_info(t.item_type), **_sized(t))
    if isinstance(t, mi.SetType):
        return st.sets(from_type_info(t.item_type), **_sized(t))
    if isinstance(t, mi.DictType):
        return st.dictionaries(from_type_info(t.key_type), from_type_info(t.value_type), **_sized(t))
    if isinstance(t, mi.StructType):
        return _struct(t.cls)
    raise NotImplementedError(f"no strategy for {t!r}")


@cache
def _struct(cls: type[msgspec.Struct]) -> st.SearchStrategy[Any]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    fields = {f.name: from_type_info(f.type) for f in info.fields}
    return st.builds(cls, **fields)


def from_msgspec(tp: Any) -> st.SearchStrategy[Any]:
    """A strategy for any msgspec-describable type (Structs, annotated scalars, containers)."""
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return st.deferred(lambda: _struct(tp))
    return from_type_info(mi.type_info(tp))


def event_payloads(cls: type[DomainEvent]) -> st.SearchStrategy[DomainEvent]:
    """A valid instance of one registered event type."""
    return from_msgspec(cls)


actor_records: st.SearchStrategy[ActorRecord] = from_msgspec(ActorRecord)
event_metadata: st.SearchStrategy[EventMetadata] = from_msgspec(EventMetadata)
hash_hex = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)

# Command-level draws for the lifecycle state machine.
clock_steps = st.one_of(
    st.integers(min_value=1, max_value=120).map(lambda m: timedelta(minutes=m)),
    st.integers(min_value=1, max_value=30).map(lambda h: timedelta(hours=h)),
    st.integers(min_value=1, max_value=3).map(lambda d: timedelta(days=d)),
)
reasons = st.sampled_from(["", "  ", "not safe yet", "missing controls", "x" * 50])
nonempty_reasons = st.sampled_from(["not safe yet", "missing controls", "wrong area", "gas alarm"])
