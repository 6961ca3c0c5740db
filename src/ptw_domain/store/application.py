"""The event store application: the library's recorders, repository cache and snapshots, our mapper.

Overrides keep two things the library leaves to us: committed streams go back into the repository cache (our
states are immutable, so the library cannot update them in place), and snapshots are taken from the state in
memory rather than by re-reading the stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import Mapper, PersistenceError, Recording, StoredEvent

from ptw_domain.store.ddl import DDL_XACT_LOCK, ddl_lock_key
from ptw_domain.store.mapper import EnvelopeMapper
from ptw_domain.store.postgres import AppendFunctionRecorder
from ptw_domain.store.streams import KINDS, Stream, StreamSnapshot, fold, fold_one

if TYPE_CHECKING:
    from ptw_domain.store.group_commit import GroupCommit

APPLICATION_NAME = "ptw"
log = logging.getLogger("ptw.store")


class PtwStore(Application[UUID]):
    """One application over one store; its `name` prefixes the PostgreSQL tables (`ptw_events`)."""

    name = APPLICATION_NAME

    def construct_mapper(self) -> Mapper[UUID]:
        return EnvelopeMapper()

    def save(self, *streams: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save, for our streams only: it collects their pending events itself, since the library
        checks each object against runtime Protocols, which took more time than the rest of the collection."""
        processing_event = ProcessingEvent[UUID]()
        for stream in streams:
            assert isinstance(stream, Stream), "the store saves streams"
            processing_event.events.extend(stream.pending)
            processing_event.aggregates[stream.id] = stream
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        recordings = self.events.put(
            processing_event.events, tracking=processing_event.tracking, **processing_event.saved_kwargs
        )
        self._cache_committed(list(processing_event.aggregates.values()))
        return recordings

    async def save_together(self, group: GroupCommit, streams: Sequence[Stream[Any]]) -> list[int]:
        """`save` through a GroupCommit (ADR 0017): the same events in the same order, appended with the other
        commands of the moment; returns their notification ids. A snapshot due is written after the append, as
        `save` writes it, in a worker thread (the snapshot store's connection blocks); failing, it is only
        logged, for the command is recorded either way."""
        ids = await group.append([self.mapper.to_stored_event(e) for s in streams for e in s.pending])
        self._cache_committed(streams)
        if self.snapshots is not None and any(_snapshot_due(s) for s in streams):
            try:
                await asyncio.get_running_loop().run_in_executor(None, self._snapshot, streams)
            except PersistenceError:  # the events are recorded; a snapshot only shortens later loads
                log.warning("no snapshot taken after an append", exc_info=True)
        return ids

    def _cache_committed(self, streams: Sequence[Any]) -> None:
        """Streams whose pending events were just recorded: their committed state goes into the cache."""
        cache = self.repository.cache
        if cache is not None:
            for stream in streams:
                assert isinstance(stream, Stream)
                cache.put(stream.id, stream.committed())

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        self._snapshot(list(processing_event.aggregates.values()))

    def _snapshot(self, streams: Sequence[Any]) -> None:
        """Each stream whose pending events reach its kind's snapshot interval is snapshotted as it now is."""
        if self.snapshots is None:
            return
        for stream in streams:
            assert isinstance(stream, Stream)
            if _snapshot_due(stream):
                snapshot = StreamSnapshot(
                    stream_id=stream.id,
                    version=stream.version,
                    kind=stream.kind,
                    head_hash=stream.head_hash,
                    taken_at=stream.pending[-1].occurred_at,
                    state=stream.state,
                )
                self.snapshots.put([snapshot])

    @property
    def loads_in_one_query(self) -> bool:
        """True on PostgreSQL, where `load_stream` reads the latest snapshot and later events together."""
        return self.snapshots is not None and isinstance(self.recorder, AppendFunctionRecorder)

    @property
    def shared_by_processes(self) -> bool:
        """True on PostgreSQL, where other processes may write the same store and it can be followed."""
        return isinstance(self.recorder, AppendFunctionRecorder)

    def load_stream(self, stream_id: UUID) -> Stream[Any] | None:
        """A cold load in one round trip (only where `loads_in_one_query`); no cache involved."""
        assert self.snapshots is not None
        snapshot_row, rows = self.recorder.select_stream(  # type: ignore[attr-defined]
            stream_id,
            self.snapshots.recorder.events_table_name,  # type: ignore[attr-defined]
        )
        items = [self.mapper.to_domain_event(r) for r in ([snapshot_row] if snapshot_row else []) + rows]
        return fold(None, items)  # type: ignore[arg-type]

    def fast_forward(self, cached: Sequence[Stream[Any]]) -> list[Stream[Any]]:
        """Cached streams with any newer events folded in, read in one round trip (only where
        `shared_by_processes`)."""
        rows = self.recorder.select_after({s.id: s.version for s in cached})  # type: ignore[attr-defined]
        newer: dict[UUID, list[Any]] = {}
        for row in rows:
            newer.setdefault(UUID(str(row.originator_id)), []).append(self.mapper.to_domain_event(row))
        current = []
        for stream in cached:
            for recorded in newer.get(stream.id, ()):
                stream = fold_one(stream, recorded)
            current.append(stream)
        return current

    def stored_rows(self, stream_id: UUID) -> Sequence[StoredEvent]:
        """The raw rows of a stream, for chain verification (never through the typed decoder)."""
        return self.recorder.select_events(stream_id)

    def stream_ids(self, topics: Sequence[str] = (), page: int = 1000) -> Iterator[UUID]:
        """Every stream id that has an event of the given topics (all streams when empty), in log order."""
        seen: set[UUID] = set()
        start: int | None = None
        while True:
            rows = self.recorder.select_notifications(
                start=start, limit=page, topics=list(topics), inclusive_of_start=False
            )
            if not rows:
                return
            for row in rows:
                sid = UUID(str(row.originator_id))
                if sid not in seen:
                    seen.add(sid)
                    yield sid
            start = rows[-1].id

    def head_position(self) -> int:
        return self.recorder.max_notification_id() or 0


def install_append_only_guard(store: PtwStore) -> None:
    """AUD-02 in the database too: refuse UPDATE and DELETE on the events table."""
    module = type(store.recorder).__module__
    datastore: Any = getattr(store.recorder, "datastore", None)
    if module.endswith("sqlite"):
        table = store.recorder.events_table_name  # type: ignore[attr-defined]
        with datastore.transaction(commit=True) as cursor:
            for action in ("UPDATE", "DELETE"):
                cursor.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'ptw events are append-only (AUD-02)'); END"
                )
    elif module.endswith("postgres"):
        schema = datastore.schema or "public"
        table = store.recorder.events_table_name  # type: ignore[attr-defined]
        with datastore.transaction(commit=True) as cursor:
            cursor.execute(DDL_XACT_LOCK, (ddl_lock_key(datastore.schema),))  # one process at a time
            cursor.execute(
                f'CREATE OR REPLACE FUNCTION "{schema}".ptw_refuse_change() RETURNS trigger LANGUAGE plpgsql AS '
                "$$ BEGIN RAISE EXCEPTION 'ptw events are append-only (AUD-02)'; END $$"
            )
            cursor.execute(
                f'CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON "{schema}"."{table}" '
                f'FOR EACH ROW EXECUTE FUNCTION "{schema}".ptw_refuse_change()'
            )


def _snapshot_due(stream: Stream[Any]) -> bool:
    interval = KINDS[stream.kind][1]
    return interval is not None and interval > 0 and any(e.version % interval == 0 for e in stream.pending)
