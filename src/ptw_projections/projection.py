"""What a projection is: a name, a code version, tables defined once, and `apply` for a batch of events.

A projection's tables exist per *generation* (`<table>_g<n>`) so that a rebuild can fill a new generation beside
the live one (blue/green); queries read stable views (`<table>`) that point at the active generation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

from sqlalchemy import Connection, MetaData, Table

from ptw_domain.events.base import Recorded
from ptw_projections.folding import History, Kept

TableDefinition = Callable[[MetaData, str], Table]


class Positioned(NamedTuple):
    """An event and its global position in the store (the notification id)."""

    position: int
    event: Recorded[Any]


class Projection(ABC):
    """A read model built from the events. `apply` must be deterministic: a rebuild must equal the live tables
    (AUD-07), so it reads nothing but the events, the store's past (`history`) and its own tables."""

    name: ClassVar[str]
    version: ClassVar[int]
    definitions: ClassVar[Mapping[str, TableDefinition]]
    # The kinds of stream whose events `apply` reads (None: all). Others are not decoded, only counted past.
    streams: ClassVar[frozenset[str] | None] = None
    # The store's past, for states a projection does not hold; the runner sets it.
    history: History | None = None

    def tables(self, metadata: MetaData, generation: int) -> dict[str, Table]:
        """The generation's real tables (`<projection>__<table>_g<n>`), keyed by table name."""
        return {
            base: define(metadata, f"{self.name}__{base}_g{generation}")
            for base, define in self.definitions.items()
        }

    def views(self, metadata: MetaData) -> dict[str, Table]:
        """The stable views queries read (`<projection>__<table>`); the same columns as the tables. The prefix
        keeps two projections' tables of the same name (each has its own `templates`) apart."""
        return {base: define(metadata, f"{self.name}__{base}") for base, define in self.definitions.items()}

    def forget(self, *, empty: bool = False) -> None:
        """Drop everything kept in memory between batches (see `Kept`); `empty`: the tables hold no row."""
        for value in vars(self).values():
            for kept in value.values() if isinstance(value, dict) else (value,):
                if isinstance(kept, Kept):
                    kept.forget(empty=empty)

    @abstractmethod
    def apply(self, conn: Connection, tables: Mapping[str, Table], events: Sequence[Positioned]) -> None:
        """Write the effect of a batch of events (in position order) inside the caller's transaction."""
