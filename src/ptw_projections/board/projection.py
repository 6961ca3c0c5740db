"""The board projection: folds permits, isolations and conflicts and records when each was on the board."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

import msgspec
from sqlalchemy import Connection, Table, and_, delete

from ptw_domain.events.base import Recorded
from ptw_domain.isolation.state import IsolationState
from ptw_domain.permit.expiry import expiry_due
from ptw_domain.permit.state import PermitState
from ptw_domain.simops.streams import ConflictState
from ptw_projections.board import cards
from ptw_projections.board.tables import DEFINITIONS, OPEN_DAY
from ptw_projections.bulk import insert_rows, upsert_rows
from ptw_projections.folding import Folder, Kept
from ptw_projections.projection import Positioned, Projection, TableDefinition
from ptw_projections.reference import STREAMS as REFERENCE_STREAMS
from ptw_projections.reference import ReferenceData
from ptw_projections.types import day_of

_json = msgspec.json.Encoder()

# kind -> interval table
TABLES = {"permit": "board_permits", "isolation": "board_isolations", "conflict": "board_conflicts"}


ON_BOARD: dict[str, Callable[[Any], bool]] = {
    "permit": cards.permit_on_board,
    "isolation": cards.isolation_on_board,
    "conflict": cards.conflict_on_board,
}


class _Open(msgspec.Struct, frozen=True, kw_only=True):
    """A stream's folded state and its open interval, as the tables hold them after a batch (and the memory kept
    between batches: frozen, since the next batch starts from it)."""

    kind: str
    state: Any
    version: int
    recorded_from: datetime
    row: dict[str, Any] | None  # the open interval's row, when on the board


class Board(Projection):
    name: ClassVar[str] = "board"
    version: ClassVar[int] = 2  # 2: projects keep their organisation
    definitions: ClassVar[Mapping[str, TableDefinition]] = DEFINITIONS
    streams: ClassVar[frozenset[str] | None] = frozenset(TABLES) | REFERENCE_STREAMS

    def __init__(self) -> None:
        self.folders: dict[str, Folder[Any]] = {
            "permit": Folder("permit", PermitState),
            "isolation": Folder("isolation", IsolationState),
            "conflict": Folder("conflict", ConflictState),
        }
        # What board_streams and the open intervals hold for each stream, kept between batches (see `Kept`)
        self.kept: Kept[_Open] = Kept(keeps_every_write=True)
        self.reference = ReferenceData()

    def apply(self, conn: Connection, tables: Mapping[str, Table], events: Sequence[Positioned]) -> None:
        streams = tables["board_streams"]
        touched = list(dict.fromkeys(r.stream_id for _, r in events if type(r.payload).stream in TABLES))
        current = self._load(conn, tables, touched)
        stored_open = {sid for sid, o in current.items() if o.row is not None}
        closed: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES.values()}
        for _, recorded in events:
            kind = type(recorded.payload).stream
            if kind in REFERENCE_STREAMS:
                self.reference.record(conn, tables, recorded)
            elif kind in TABLES:
                self._step(conn, tables, current, recorded, closed[TABLES[kind]])
        for kind, name in TABLES.items():
            stale = [sid for sid, o in current.items() if o.kind == kind and sid in stored_open]
            t = tables[name]
            if stale:
                conn.execute(delete(t).where(and_(t.c.stream_id.in_(stale), t.c.day == OPEN_DAY)))
            insert_rows(conn, t, closed[name] + [o.row for o in current.values() if o.kind == kind and o.row])
        upsert_rows(
            conn,
            streams,
            [
                {
                    "stream_id": sid,
                    "kind": o.kind,
                    "version": o.version,
                    "recorded_from": o.recorded_from,
                    "on_board": 1 if o.row else 0,
                    "state": self.folders[o.kind].encode(o.state),
                }
                for sid, o in current.items()
            ],
            ["stream_id"],
        )
        self.kept.keep(current)

    def _load(self, conn: Connection, tables: Mapping[str, Table], ids: list[UUID]) -> dict[UUID, _Open]:
        """The touched streams' states and open intervals as the tables hold them: those kept from the batches
        before, the others read."""
        found, missing = self.kept.recall(ids)
        streams = tables["board_streams"]
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            stored = conn.execute(streams.select().where(streams.c.stream_id.in_(chunk))).all()
            on_board: dict[str, list[UUID]] = {}
            for row in stored:
                if row.on_board:
                    on_board.setdefault(TABLES[row.kind], []).append(row.stream_id)
            open_rows: dict[UUID, dict[str, Any]] = {}
            for name, open_ids in on_board.items():  # open intervals exist only for what is on the board
                t = tables[name]
                query = t.select().where(and_(t.c.stream_id.in_(open_ids), t.c.day == OPEN_DAY))
                for row in conn.execute(query):
                    open_rows[row.stream_id] = {str(k): v for k, v in row._asdict().items()}
            for row in stored:
                found[row.stream_id] = _Open(
                    kind=row.kind,
                    state=self.folders[row.kind].decode(row.state),
                    version=row.version,
                    recorded_from=row.recorded_from,
                    row=open_rows.get(row.stream_id),
                )
        return found

    def _step(
        self,
        conn: Connection,
        tables: Mapping[str, Table],
        current: dict[UUID, _Open],
        recorded: Recorded[Any],
        closed: list[dict[str, Any]],
    ) -> None:
        kind = type(recorded.payload).stream
        previous = current.get(recorded.stream_id)
        state = self.folders[kind].evolve(previous.state if previous else None, recorded)
        at = recorded.occurred_at
        if previous is not None and previous.row is not None:
            closed.extend(_closed_rows(previous.row, at))
        entry = _Open(kind=kind, state=state, version=recorded.version, recorded_from=at, row=None)
        if self._on_board(kind, state):
            entry = msgspec.structs.replace(
                entry, row=self._open_row(conn, tables, entry, recorded.stream_id)
            )
        current[recorded.stream_id] = entry

    def _on_board(self, kind: str, state: Any) -> bool:
        return ON_BOARD[kind](state)

    def _card(self, conn: Connection, tables: Mapping[str, Table], kind: str, state: Any) -> tuple[str, Any]:
        """(card JSON, expiry instant) of a version."""
        if kind == "permit":
            template = self.reference.template(conn, tables, state.project_id, state.template)
            due = expiry_due(state, template)
            return _json.encode(cards.permit_card(state, template)).decode(), due[0] if due else None
        if kind == "isolation":
            return _json.encode(cards.isolation_card(state)).decode(), None
        return _json.encode(cards.conflict_card(state)).decode(), None

    def _open_row(
        self, conn: Connection, tables: Mapping[str, Table], entry: _Open, stream_id: UUID
    ) -> dict[str, Any]:
        text, expires_at = self._card(conn, tables, entry.kind, entry.state)
        status = getattr(entry.state, "status", None)
        return {
            "stream_id": stream_id,
            "version": entry.version,
            "day": OPEN_DAY,
            "project_id": entry.state.project_id,
            "recorded_from": entry.recorded_from,
            "recorded_to": None,
            "status": status.value if status is not None else "open",
            "expires_at": expires_at,
            "card": text,
        }


def _closed_rows(open_row: dict[str, Any], until: datetime) -> list[dict[str, Any]]:
    """The interval `[recorded_from, until)` once per UTC day it overlaps; nothing when it is empty."""
    start = open_row["recorded_from"]
    if until <= start:
        return []
    last = day_of(until - timedelta(microseconds=1))
    return [{**open_row, "day": day, "recorded_to": until} for day in range(day_of(start), last + 1)]
