"""The read database: where the projections' tables live, apart from the events.

On PostgreSQL the read tables get their own schema (`ptw_read`, or `<store schema>_read` when the store itself
lives in a schema); on SQLite they share the store's file; the in-memory store gets a private temporary SQLite
file.
One URL (the store's) decides all three, so an embedding application configures one thing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.sql.dml import Insert

from ptw_domain.store.ddl import DDL_XACT_LOCK, ddl_lock_key
from ptw_domain.store.settings import connect_timeout

DEFAULT_READ_SCHEMA = "ptw_read"
_BEGIN_WITH_FIRST = "ptw_begin_with_first_statement"  # execution option: see `_begin_with_first_statement`
# Execution options for a statement on a writer connection that must run on its own, outside any transaction.
ALONE = {_BEGIN_WITH_FIRST: False}


@dataclass(frozen=True)
class ReadDatabase:
    """An engine and the schema (None on SQLite) that every read table and view is created in."""

    engine: Engine
    schema: str | None
    url: str
    temporary: str | None = None  # a file to remove on dispose (the read side of an in-memory store)
    # PostgreSQL: an engine of its own for queries, its connections in autocommit from the moment they are made
    queries: Engine | None = None
    # PostgreSQL: the same for reports, whose connections also keep generic plans (`report`)
    reports: Engine | None = None

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def metadata(self) -> MetaData:
        return MetaData(schema=self.schema)

    def qualified(self, name: str) -> str:
        """A table or view name as raw DDL must spell it."""
        return f'"{self.schema}"."{name}"' if self.schema else f'"{name}"'

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction (see `writer`)."""
        with self.writer() as conn, conn.begin():
            yield conn

    def writer(self) -> Connection:
        """A connection for write transactions (`conn.begin()`): on SQLite each takes the write lock at BEGIN; on
        PostgreSQL each sends its BEGIN with its first statement, which must therefore be sent through
        SQLAlchemy (see `_begin_with_first_statement`)."""
        options: dict[str, Any] = {"writing": True}
        if self.is_postgres:
            options.update({"isolation_level": "AUTOCOMMIT", _BEGIN_WITH_FIRST: True})
        return self.engine.connect().execution_options(**options)

    @contextmanager
    def ddl(self) -> Iterator[Connection]:
        """A write transaction that creates, replaces or drops objects: on PostgreSQL it first takes the schema's
        DDL lock (ptw_domain/store/ddl.py), so that processes starting together on a fresh schema do it one at a
        time; on SQLite the write lock taken at BEGIN already does."""
        with self.writing() as conn:
            if self.schema is not None:
                _lock_ddl(conn, self.schema)
            yield conn

    def reader(self) -> Connection:
        """A connection for queries, in autocommit: each statement is its own snapshot, as it is under
        PostgreSQL's READ COMMITTED inside a transaction too, and the BEGIN and ROLLBACK round trips are spared.
        On PostgreSQL from an engine whose connections are made in autocommit: switching a pooled connection to
        it and back (SQLAlchemy's `isolation_level` execution option) cost a detail read 16 % of its statement's
        time (ADR 0016)."""
        if self.queries is not None:
            return self.queries.connect()
        return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def report(self) -> Iterator[Connection]:
        """A connection for a report's few fixed statements, run again and again with other instants: on PostgreSQL
        in autocommit with `REPORT_SETTINGS` set when the connection is made, so that a report costs only its own
        statements' round trips (not BEGIN, the settings and COMMIT around them: 3 of 6, ADR 0016). Elsewhere a
        transaction of the main engine."""
        if self.reports is not None:
            with self.reports.connect() as conn:
                yield conn
            return
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()
        for pool in (self.queries, self.reports):
            if pool is not None:
                pool.dispose()
        if self.temporary:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self.temporary + suffix)


# A report's connections (`ReadDatabase.report`): a statement psycopg has prepared keeps one generic plan instead of
# being planned anew for every instant, which cost more than running it; a generic plan estimates ranges coarsely,
# which must not turn a few index ranges into a parallel plan.
REPORT_SETTINGS = "-c plan_cache_mode=force_generic_plan -c max_parallel_workers_per_gather=0"
REPORT_CONNECTIONS = 2  # kept open; up to the pool size more on demand (`open_read_database`)

# A following runner holds one connection for as long as it follows: the one its batches are written on, which
# also holds its projection's advisory lock (runner.py, locks.py).
CONNECTIONS_PER_FOLLOWER = 1


def open_read_database(store_url: str, *, pool_size: int = 5, followers: int = 0) -> ReadDatabase:
    """The read database that belongs to a store URL (see module docstring); the pool holds `pool_size`
    connections for batches and transactions besides those of `followers` runners following the store, and on
    PostgreSQL the queries' own pool (`ReadDatabase.reader`) `pool_size` more; each opens up to as many again
    on demand."""
    parts = urlsplit(store_url)
    if parts.scheme == "memory":
        # A private temporary file rather than SQLite's :memory:, which is one connection: the runner threads
        # and the readers each need their own transaction.
        handle, path = tempfile.mkstemp(prefix="ptw-read-", suffix=".db")
        os.close(handle)
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30, "check_same_thread": False})
        _sqlite_pragmas(engine)
        return ReadDatabase(engine, None, store_url, temporary=path)
    if parts.scheme == "sqlite":
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30, "check_same_thread": False})
        _sqlite_pragmas(engine)
        return ReadDatabase(engine, None, store_url)
    if parts.scheme in ("postgresql", "postgres"):
        query = parse_qs(parts.query)
        store_schema = query.get("schema", [None])[0]
        synchronous_commit = query.get("read_synchronous_commit", ["off"])[0]
        if synchronous_commit not in ("on", "off"):
            raise ValueError("read_synchronous_commit takes on or off")
        schema = f"{store_schema}_read" if store_schema else DEFAULT_READ_SCHEMA
        netloc = parts.netloc or "postgres@127.0.0.1:5432"
        address = f"postgresql+psycopg://{netloc}{parts.path or '/postgres'}"
        # Folded states are stored as JSON of a few KB: lz4 compresses them several times faster than the
        # default pglz, which is most of what a batch costs the server. Read-side commits do not wait for the
        # WAL flush unless the URL asks (read_synchronous_commit=on): everything here is rebuilt from the
        # events, and a commit lost in a server crash loses its rows and position together (ADR 0015).
        options = f"-c default_toast_compression=lz4 -c synchronous_commit={synchronous_commit}"
        timeout = connect_timeout(query)  # a host that does not answer fails a request in seconds (503)

        def pooled(size: int, settings: str = "", **more: Any) -> Engine:
            return create_engine(
                address,
                pool_size=size,
                max_overflow=pool_size,
                pool_recycle=1800,  # no pre-ping: it would cost every query a round trip
                connect_args={"options": f"{options} {settings}".rstrip(), "connect_timeout": timeout},
                **more,
            )

        engine = pooled(pool_size + CONNECTIONS_PER_FOLLOWER * followers)
        queries = pooled(pool_size, isolation_level="AUTOCOMMIT")
        reports = pooled(REPORT_CONNECTIONS, REPORT_SETTINGS, isolation_level="AUTOCOMMIT")
        # Batches of rows go out as multi-row INSERT … VALUES pages (as with psycopg2) instead of one statement
        # per row in a pipeline: several times faster for the projections' bulk writes.
        engine.dialect.use_insertmanyvalues_wo_returning = True
        _begin_with_first_statement(engine)
        with engine.begin() as conn:
            _lock_ddl(conn, schema)
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        _ensure_trigram_extension(engine)
        return ReadDatabase(engine, schema, store_url, queries=queries, reports=reports)
    raise ValueError(f"no read database for URL scheme {parts.scheme!r}")


def _lock_ddl(conn: Connection, schema: str) -> None:
    conn.exec_driver_sql(DDL_XACT_LOCK, (ddl_lock_key(schema),))


def _ensure_trigram_extension(engine: Engine) -> None:
    """pg_trgm serves the permit search's index. Two processes starting together may both try to create it;
    the loser's error is harmless, as the extension then exists."""
    with engine.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first():
            return
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except (IntegrityError, ProgrammingError):
        with engine.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first():
                raise


def _begin_with_first_statement(engine: Engine) -> None:
    """Write transactions send BEGIN in the same round trip as their first statement.

    psycopg sends a transaction's BEGIN alone and waits for its answer before the first statement (in pipeline
    mode too): one round trip of the four or five in a caught-up runner's batch. So `writing()` runs its
    connection in SQLAlchemy's AUTOCOMMIT isolation level (the driver then sends no BEGIN of its own; the pool
    resets the level when the connection comes back), and its first statement is sent here in one pipeline
    behind an explicit BEGIN. The transaction ends as any other: psycopg sends COMMIT or ROLLBACK whenever the
    server is in a transaction, autocommit or not. A statement sent with the driver's own cursor (COPY in
    bulk.py) bypasses this, so it must never come first.
    """

    def begun(cursor: Any, context: Any, send: Callable[[], object]) -> bool:
        """Sends the statement (`send`) behind a BEGIN if it is the first of a write transaction; False when
        SQLAlchemy is to send it as usual."""
        driver = cursor.connection
        if not context.execution_options.get(_BEGIN_WITH_FIRST) or (
            driver.info.transaction_status != TransactionStatus.IDLE
        ):
            return False
        with driver.pipeline():
            driver.execute("BEGIN")
            send()
        return True

    @event.listens_for(engine, "do_execute")
    def _execute(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        return begun(cursor, context, lambda: cursor.execute(statement, parameters))

    @event.listens_for(engine, "do_execute_no_params")
    def _execute_no_params(cursor: Any, statement: str, context: Any) -> bool:
        return begun(cursor, context, lambda: cursor.execute(statement))

    @event.listens_for(engine, "do_executemany")
    def _executemany(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        return begun(cursor, context, lambda: cursor.executemany(statement, parameters))


def _sqlite_pragmas(engine: Engine) -> None:
    """WAL so the store's writer and the projections' writer do not block readers; transactions that take the
    write lock up front (BEGIN IMMEDIATE) so a batch never fails half-way on a lock upgrade."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("writing", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def upsert(conn: Connection, table: Table, key: Sequence[str]) -> Insert:
    """INSERT … ON CONFLICT (key) DO UPDATE for the connection's dialect; execute it with a list of rows."""
    return _upsert(conn.dialect.name, table, tuple(key))


@functools.lru_cache(maxsize=1024)
def _upsert(dialect_name: str, table: Table, key: tuple[str, ...]) -> Insert:
    """Built once per table and key: building it copies every column for `excluded`, which cost a caught-up
    runner more than the statement's own execution."""
    dialect: Any = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=list(key),
        set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in key},
    )
