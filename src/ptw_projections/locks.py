"""One runner per projection: a PostgreSQL advisory lock, a file lock beside a SQLite file, a process lock in
memory. A second runner for the same projection is refused at once rather than left to fight over positions
(the compare-and-set on the position would keep it correct, but not useful)."""

from __future__ import annotations

import fcntl
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, text

from ptw_projections.database import ALONE, ReadDatabase

_IN_PROCESS: dict[tuple[str, str], threading.Lock] = {}
_GUARD = threading.Lock()


class ProjectionBusy(Exception):
    """Another runner holds this projection."""


@contextmanager
def hold_projection(db: ReadDatabase, name: str, writer: Connection) -> Iterator[None]:
    """Held for as long as the block runs. On PostgreSQL the lock is a session's, taken on the connection the
    runner writes its batches on (`ReadDatabase.writer`), so a follower holds one connection, not two."""
    if db.is_postgres:
        key = zlib.crc32(f"ptw-projection:{db.schema}:{name}".encode())
        if not _alone(writer, "SELECT pg_try_advisory_lock(:k)", key):
            raise ProjectionBusy(f"another runner holds projection {name!r}")
        try:
            yield
        finally:
            _alone(writer, "SELECT pg_advisory_unlock(:k)", key)
        return
    database = db.engine.url.database
    if database and database != ":memory:":
        path = Path(f"{database}.{name}.lock")
        with path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ProjectionBusy(f"another runner holds projection {name!r}") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with _GUARD:
        lock = _IN_PROCESS.setdefault((str(id(db.engine)), name), threading.Lock())
    if not lock.acquire(blocking=False):
        raise ProjectionBusy(f"another runner holds projection {name!r}")
    try:
        yield
    finally:
        lock.release()


def _alone(writer: Connection, sql: str, key: int) -> bool:
    """A statement outside any transaction: the writer runs in autocommit and must not send a BEGIN with it."""
    result = bool(writer.execute(text(sql), {"k": key}, execution_options=ALONE).scalar())
    writer.commit()  # ends SQLAlchemy's own record of the statement; the server holds no transaction
    return result
