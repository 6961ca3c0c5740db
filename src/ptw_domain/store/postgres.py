"""A leaner PostgreSQL recorder (ADR 0006): one server-side statement locks, notifies and inserts; one query
loads a stream's latest snapshot with the events after it.

The library's recorder sends BEGIN, SET LOCAL, LOCK TABLE, NOTIFY, INSERT and COMMIT through a client pipeline:
correct, but several waits per command. Here one function call in autocommit does the same work inside a single
implicit transaction. The EXCLUSIVE table lock is still taken before the insert draws its notification ids and
held until commit, so events become visible in notification-id order, which the library's projection runner
relies on. (The library's own `POSTGRES_ENABLE_DB_FUNCTIONS` function skips the lock, so we do not use it.)
Everything else — reads, subscriptions, tracking — is the library's recorder unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, Notification, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
    PostgresRecorder,
)
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from ptw_domain.store.ddl import DDL_LOCK, DDL_UNLOCK, ddl_lock_key


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class SerialisedDDL(PostgresRecorder):
    """Creates its objects under the schema's DDL lock (store/ddl.py). The library creates a recorder's composite
    type in a transaction of its own before its tables, so the lock is a session's, held across both: processes
    starting together on a fresh schema would each create the type and the tables at once, which PostgreSQL
    refuses (unique violations in pg_type), and replacing the append function at once ("tuple concurrently
    updated")."""

    def create_table(self) -> None:
        key = ddl_lock_key(self.datastore.schema)
        with self.datastore.get_connection() as conn:
            conn.execute(DDL_LOCK, (key,), prepare=False)
            try:
                super().create_table()
            finally:
                conn.execute(DDL_UNLOCK, (key,), prepare=False)


class SnapshotRecorder(SerialisedDDL, PostgresAggregateRecorder):
    """The library's recorder of snapshots, creating its table under the DDL lock."""


class AppendFunctionRecorder(SerialisedDDL, PostgresApplicationRecorder):
    """The library's application recorder with its insert replaced by one call of an append function."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema, table = _quoted(datastore.schema), _quoted(events_table_name)
        id_type = datastore.originator_id_type

        def append_function(suffix: str, parameters: str, rows: str) -> str:
            function = f"{schema}.{_quoted(events_table_name + suffix)}"
            self.sql_create_statements.append(
                SQL(  # type: ignore[arg-type]  # built from quoted identifiers, not user input
                    f"CREATE OR REPLACE FUNCTION {function}({parameters}) "
                    "RETURNS SETOF bigint LANGUAGE plpgsql AS $$ BEGIN "
                    f"SET LOCAL lock_timeout = '{int(datastore.lock_timeout)}s'; "
                    f"LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
                    f"NOTIFY {_quoted(self.channel_name)}; "
                    f"RETURN QUERY INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
                    f"{rows} RETURNING notification_id; "
                    "END $$"
                )
            )
            # binary parameters: the text form of a bytea (array) is escaped and quoted in Python, byte by byte
            return f"SELECT n FROM {function}(%b, %b, %b, %b) AS t(n)"

        self._append_sql = append_function(
            "_append",
            f"ids {id_type}[], versions bigint[], topics text[], states bytea[]",
            "SELECT * FROM unnest(ids, versions, topics, states)",
        )
        # one event (most commands): plain values, which psycopg adapts faster than arrays
        self._append_one_sql = append_function(
            "_append_one",
            f"id {id_type}, version bigint, topic text, state bytea",
            "VALUES (id, version, topic, state)",
        )
        self._schema, self._table = schema, table
        self._since_sql = (
            f"SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{table} "
            "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        )

    @property
    def append_sql(self) -> str:
        """The append function's call for any number of events (four arrays, binary): for `GroupCommit`."""
        return self._append_sql

    def select_stream(
        self, stream_id: UUID, snapshots_table: str
    ) -> tuple[StoredEvent | None, list[StoredEvent]]:
        """One round trip for a cold load: the latest snapshot and every event after it."""
        snapshots = f"{self._schema}.{_quoted(snapshots_table)}"
        sql = (
            f"WITH s AS (SELECT originator_version, topic, state FROM {snapshots} WHERE originator_id = %(id)s "
            "ORDER BY originator_version DESC LIMIT 1) "
            "SELECT true AS snapshot, originator_version, topic, state FROM s UNION ALL "
            f"SELECT false, originator_version, topic, state FROM {self._schema}.{self._table} "
            "WHERE originator_id = %(id)s AND originator_version > COALESCE((SELECT originator_version FROM s), 0) "
            "ORDER BY 1 DESC, 2"
        )
        snapshot: StoredEvent | None = None
        events: list[StoredEvent] = []
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql, {"id": stream_id}, prepare=True)
            for row in curs.fetchall():
                stored = _stored(stream_id, row)
                if row["snapshot"]:
                    snapshot = stored
                else:
                    events.append(stored)
        return snapshot, events

    def select_after(self, versions: Mapping[UUID, int]) -> list[StoredEvent]:
        """One round trip to fast-forward several cached streams: every event of each after the version
        given, by stream then version."""
        one = (
            f"SELECT originator_id, originator_version, topic, state FROM {self._schema}.{self._table} "
            "WHERE originator_id = %s AND originator_version > %s"
        )
        # a plain index range per stream (joined with an unnest, the planner's estimates made it slower than
        # two statements)
        sql = " UNION ALL ".join([one] * len(versions)) + " ORDER BY 1, 2"
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql, [p for pair in versions.items() for p in pair], prepare=True)
            return [_stored(row["originator_id"], row) for row in curs.fetchall()]

    def select_since(self, position: int, limit: int) -> list[Notification]:
        """`select_notifications(position, limit, inclusive_of_start=False)` as one fixed statement: the cache
        watch asks it many times a second, and the library composes its SQL anew on each call."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self._since_sql, (position, limit), prepare=True)
            return [
                Notification(id=n, originator_id=o, originator_version=v, topic=t, state=bytes(state))
                for n, o, v, t, state in curs.fetchall()
            ]

    @contextmanager
    def listening(self) -> Iterator[Callable[[float], bool]]:
        """A pooled connection listening on the store's channel, for as long as the context lasts; the function
        it gives waits up to `timeout` seconds for an append (True when one came) and takes every notice
        already queued with it, so that one wait answers any number of appends."""
        with self.datastore.get_connection() as conn:
            conn.execute(SQL("LISTEN {0}").format(Identifier(self.channel_name)))

            def wait(timeout: float) -> bool:
                came = any(True for _ in conn.notifies(timeout=timeout, stop_after=1))
                if came:
                    for _ in conn.notifies(timeout=0):
                        pass
                return came

            try:
                yield wait
            finally:
                conn.execute("UNLISTEN *")  # it goes back to the pool

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if kwargs.get("tracking") is not None or not stored_events:
            inserted: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return inserted
        params: tuple[Any, ...]
        if len(stored_events) == 1:
            one = stored_events[0]
            sql, params = (
                self._append_one_sql,
                (one.originator_id, one.originator_version, one.topic, one.state),
            )
        else:
            sql, params = (
                self._append_sql,
                (
                    [e.originator_id for e in stored_events],
                    [e.originator_version for e in stored_events],
                    [e.topic for e in stored_events],
                    [e.state for e in stored_events],
                ),
            )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql, params, prepare=True)
            return [int(row["n"]) for row in curs.fetchall()]


class PtwPostgresFactory(PostgresFactory):
    """The library's PostgreSQL persistence with our recorders (`PERSISTENCE_MODULE` names this class)."""

    aggregate_recorder_class = SnapshotRecorder
    application_recorder_class = AppendFunctionRecorder


def _stored(stream_id: UUID, row: dict[str, Any]) -> StoredEvent:
    """A stored event from a row of `select_stream` or `select_after` (the state comes back as a memoryview)."""
    return StoredEvent(
        originator_id=stream_id,
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
    )
