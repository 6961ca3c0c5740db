"""The read side as queries see it: the stable views, the tracked positions, read-your-writes (RM-08), lag."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import Connection, Table, select

from ptw_projections.catalogue import Catalogue
from ptw_projections.database import ReadDatabase
from ptw_projections.errors import NotCaughtUp
from ptw_projections.registry import PROJECTIONS

T = TypeVar("T")


class Lag(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    position: int
    head: int
    lag: int


class ReadSide:
    def __init__(self, db: ReadDatabase) -> None:
        self.db = db
        self.catalogue = Catalogue(db)
        self.catalogue.create()
        metadata = db.metadata()
        self._views = {name: factory().views(metadata) for name, factory in PROJECTIONS.items()}
        self._zones: dict[UUID, ZoneInfo] = {}
        self._prepared: dict[str, Any] = {}

    def prepared(self, key: str, build: Callable[[], T]) -> T:
        """Statements built once per read side and reused by every call: SQLAlchemy's construction and cache-key
        walk of a statement cost more than running a small one. A race builds it twice, harmlessly."""
        found = self._prepared.get(key)
        if found is None:
            found = self._prepared[key] = build()
        return found

    def views(self, projection: str) -> dict[str, Table]:
        return self._views[projection]

    def connect(self) -> Connection:
        """A connection for queries, in autocommit (`ReadDatabase.reader`). A query reads the position before (or
        in the same statement as) the rows, so the rows reflect at least the position it reports (RM-08)."""
        return self.db.reader()

    def position(self, projection: str, conn: Connection | None = None) -> int:
        """The store position the live generation has applied (0 before it exists)."""
        if conn is None:
            with self.connect() as own:
                return self.position(projection, own)
        return self.catalogue.live(conn, projection)

    def time_zone(self, project_id: UUID, conn: Connection) -> ZoneInfo:
        """The project's time zone (RM-02: a date-only bound is a whole project day). Set when the project is
        opened and never changed, so it is cached once found; read from the permit list's small projects table
        rather than from the project's folded state, which grows with every permit number."""
        zone = self._zones.get(project_id)
        if zone is None:
            projects = self._views["permit_list"]["projects"]
            name = conn.execute(
                select(projects.c.time_zone).where(projects.c.project_id == project_id)
            ).scalar()
            if name is None:
                return ZoneInfo("UTC")  # not projected yet: nothing of it can match a filter anyway
            zone = self._zones[project_id] = ZoneInfo(name)
        return zone

    def wait_for(self, position: int, projections: list[str], *, timeout: float = 2.0) -> None:
        """RM-08: return once every named projection has applied `position`, or raise NotCaughtUp."""
        deadline = time.monotonic() + timeout
        delay = 0.002
        for name in projections:
            while (reached := self.position(name)) < position:
                if time.monotonic() >= deadline:
                    raise NotCaughtUp(name, position, reached)
                time.sleep(delay)
                delay = min(delay * 2, 0.05)

    def lag(self, head: int) -> list[Lag]:
        """Head position minus tracked position, per projection, for monitoring."""
        out = []
        for name in PROJECTIONS:
            position = self.position(name)
            out.append(Lag(name=name, position=position, head=head, lag=max(head - position, 0)))
        return out
