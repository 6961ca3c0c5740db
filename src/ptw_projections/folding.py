"""Stream states a projection folds itself: kept in its own table as msgspec JSON beside the row they explain.

A projection that needs a stream's state (a permit's status after an event, a conflict's openness) folds the
events with the domain's own `evolve` — never a second copy of the rules — and keeps the state in the same
transaction as its rows, so a restart continues from exactly what the rows say.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar
from uuid import UUID

import msgspec
from sqlalchemy import Column, Connection, LargeBinary, Table, select

from ptw_domain.events.base import Recorded
from ptw_domain.store.application import PtwStore
from ptw_domain.store.streams import KINDS, fold

S = TypeVar("S")
V = TypeVar("V")


def state_column() -> Column[bytes]:
    return Column("state", LargeBinary, nullable=False)


CACHE_SIZE = 20_000  # states kept in memory between batches, most recently used first
KNOWN_SIZE = 200_000  # stream ids remembered as written since the table was empty (about 20 MB at most)


class Kept(Generic[V]):
    """What a projection knows of each stream, kept in memory between batches (most recently used first).

    A runner that is the only writer then does not read and decode what it wrote itself. The runner calls
    `forget` (through `Projection.forget`) whenever it cannot be sure of that (another writer moved the position,
    a batch failed, a generation changed). When the runner knows the table was empty (a generation at position 0:
    rows and position commit together), it also remembers every stream written since, so a stream it has never
    seen is known to have no row and a rebuild does not look up each new stream in a table that cannot hold it.
    That needs `keeps_every_write`: the projection hands everything it writes for a stream back with `keep`.
    """

    def __init__(self, *, keeps_every_write: bool = False) -> None:
        self.keeps_every_write = keeps_every_write
        self._kept: OrderedDict[UUID, V] = OrderedDict()
        self._written: set[UUID] | None = None  # every stream with a row, while that is known

    def recall(self, ids: Iterable[UUID]) -> tuple[dict[UUID, V], list[UUID]]:
        """The values kept for `ids`, and the rest of `ids` that may have a row (to be read from the table)."""
        kept: dict[UUID, V] = {}
        missing = []
        for stream_id in ids:
            value = self._kept.get(stream_id)
            if value is None:
                missing.append(stream_id)
            else:
                kept[stream_id] = value
        if self._written is not None:
            missing = [stream_id for stream_id in missing if stream_id in self._written]
        return kept, missing

    def keep(self, values: Mapping[UUID, V]) -> None:
        """Values the batch wrote; they must not be changed afterwards (the next batch starts from them)."""
        for stream_id, value in values.items():
            self._kept[stream_id] = value
            self._kept.move_to_end(stream_id)
        while len(self._kept) > CACHE_SIZE:
            self._kept.popitem(last=False)
        if self._written is not None:
            self._written.update(values)
            if len(self._written) > KNOWN_SIZE:
                self._written = None  # too many to remember: look rows up again

    def forget(self, *, empty: bool = False) -> None:
        """`empty`: the table is known to hold no row (its generation has applied nothing yet)."""
        self._kept.clear()
        self._written = set() if empty and self.keeps_every_write else None


class Folder(Kept[S]):
    """Folds the events of one kind of stream; states are read from and written to a table's `state` column,
    and those handed back with `keep` stay in memory for the next batch."""

    def __init__(self, kind: str, state_type: type[S], *, keeps_every_write: bool = False) -> None:
        super().__init__(keeps_every_write=keeps_every_write)
        self.evolve = KINDS[kind][0]
        self._decoder = msgspec.json.Decoder(state_type)
        self._encoder = msgspec.json.Encoder()

    def load(self, conn: Connection, table: Table, key: str, ids: Iterable[UUID]) -> dict[UUID, S]:
        states, missing = self.recall(ids)
        column = table.c[key]
        for chunk in _chunks(missing, 500):
            for row in conn.execute(select(column, table.c.state).where(column.in_(chunk))):
                states[row[0]] = self.decode(row[1])
        return states

    def decode(self, data: bytes) -> S:
        return self._decoder.decode(data)

    def fold(self, states: dict[UUID, S], events: Sequence[Recorded[Any]]) -> None:
        for recorded in events:
            states[recorded.stream_id] = self.evolve(states.get(recorded.stream_id), recorded)

    def encode(self, state: S) -> bytes:
        return self._encoder.encode(state)


class History:
    """Any stream's state after any of its versions, read from the event store: its newest snapshot at or before
    that version, then the events up to it (the same fold the service loads with).

    The store's past never changes, so a state read here is right whatever the projection's own tables hold; a
    projection that needs states only to compare before and after can keep them in memory and ask here for the
    few it lacks (after a restart, or when its memory is full) instead of writing every state beside its rows.
    """

    def __init__(self, store: PtwStore) -> None:
        self._store = store

    def state_after(self, stream_id: UUID, version: int) -> Any:
        stream = self._store.repository.get(stream_id, version=version, projector_func=fold)
        return stream.state


class Versions(Kept[tuple[int, S]]):
    """States of one kind of stream, each kept with the version it is the state after; the state before an event
    is the kept one when it is one version behind, else read from `History`. Every value kept is a fact of the
    store, so nothing here can go stale: `forget` only frees memory."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.evolve = KINDS[kind][0]

    def before(self, recorded: Recorded[Any], history: History) -> S | None:
        if recorded.version == 1:
            return None
        held = self._kept.get(recorded.stream_id)
        if held is not None and held[0] == recorded.version - 1:
            return held[1]
        state: S = history.state_after(recorded.stream_id, recorded.version - 1)
        return state

    def after(self, recorded: Recorded[Any], before: S | None) -> S:
        state: S = self.evolve(before, recorded)
        self.keep({recorded.stream_id: (recorded.version, state)})
        return state


def _chunks(items: list[UUID], size: int) -> Iterable[list[UUID]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
