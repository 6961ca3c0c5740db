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

from sqlalchemy import text

from ptw_projections.database import ReadDatabase

_IN_PROCESS: dict[tuple[str, str], threading.Lock] = {}
_GUARD = threading.Lock()


class ProjectionBusy(Exception):
    """Another runner holds this projection."""


@contextmanager
def hold_projection(db: ReadDatabase, name: str) -> Iterator[None]:
    if db.is_postgres:
        key = zlib.crc32(f"ptw-projection:{db.schema}:{name}".encode())
        with db.engine.connect() as conn:
            if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                raise ProjectionBusy(f"another runner holds projection {name!r}")
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
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
