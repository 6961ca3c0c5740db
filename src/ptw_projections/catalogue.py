"""The catalogue of projection generations: which generation is live, how far each has read, what stopped it.

The tracked position lives in the same database as the view rows and is advanced in the same transaction as
the rows it accounts for (exactly once). The advance is a compare-and-set on the previous position, so two
writers on one generation can never both apply a batch: the second one's transaction rolls back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import msgspec
from sqlalchemy import (
    BindParameter,
    Column,
    ColumnElement,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    func,
    select,
    update,
)

from ptw_projections.database import ReadDatabase
from ptw_projections.types import UtcDateTime


class Stage(StrEnum):
    BUILDING = "building"  # a rebuild fills it beside the live one
    ACTIVE = "active"  # the views point here
    SCRATCH = "scratch"  # a verification's private rebuild, dropped afterwards


class Generation(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    generation: int
    version: int
    stage: Stage
    position: int
    error: str | None
    error_position: int | None
    updated_at: datetime | None


class PositionMoved(Exception):
    """Another writer advanced this generation first; the batch was rolled back and can be re-read."""


def catalogue_table(metadata: MetaData) -> Table:
    return Table(
        "projection_generations",
        metadata,
        Column("name", String(64), primary_key=True),
        Column("generation", Integer, primary_key=True),
        Column("version", Integer, nullable=False),
        Column("stage", String(16), nullable=False),
        Column("position", Integer, nullable=False),
        Column("error", Text),
        Column("error_position", Integer),
        Column("updated_at", UtcDateTime),
    )


class Catalogue:
    def __init__(self, db: ReadDatabase) -> None:
        self.db = db
        self.metadata = db.metadata()
        self.table = catalogue_table(self.metadata)
        t = self.table
        self._advance = (
            update(t)
            .where(
                and_(
                    t.c.name == bindparam("g_name"),
                    t.c.generation == bindparam("g_generation"),
                    t.c.position == bindparam("old"),
                )
            )
            .values(position=bindparam("new"), error=None, error_position=None, updated_at=bindparam("at"))
        )
        self._live = select(self.live_position(bindparam("live_name")))

    def create(self) -> None:
        with self.db.ddl() as conn:
            self.metadata.create_all(conn, checkfirst=True)

    def generations(self, conn: Connection, name: str | None = None) -> list[Generation]:
        t = self.table
        query = select(t).order_by(t.c.name, t.c.generation)
        if name is not None:
            query = query.where(t.c.name == name)
        return [
            msgspec.convert({str(k): v for k, v in r._asdict().items()}, Generation)
            for r in conn.execute(query)
        ]

    def live_position(self, name: str | BindParameter[str]) -> ColumnElement[int]:
        """The live generation's position as a scalar subquery, so a query reads it in its own statement and
        snapshot (0 before the projection has a live generation)."""
        t = self.table
        live = select(t.c.position).where(t.c.name == name, t.c.stage == Stage.ACTIVE.value).scalar_subquery()
        return func.coalesce(live, 0)

    def live(self, conn: Connection, name: str) -> int:
        """The live generation's position (0 before there is one): one prebuilt statement, since every query
        of the read side asks it."""
        return int(conn.execute(self._live, {"live_name": name}).scalar_one())

    def active(self, conn: Connection, name: str) -> Generation | None:
        return next((g for g in self.generations(conn, name) if g.stage is Stage.ACTIVE), None)

    def get(self, conn: Connection, name: str, generation: int) -> Generation | None:
        return next((g for g in self.generations(conn, name) if g.generation == generation), None)

    def add(self, conn: Connection, name: str, version: int, stage: Stage) -> Generation:
        existing = self.generations(conn, name)
        number = max((g.generation for g in existing), default=0) + 1
        conn.execute(
            self.table.insert().values(
                name=name,
                generation=number,
                version=version,
                stage=stage.value,
                position=0,
                updated_at=_now(),
            )
        )
        generation = self.get(conn, name, number)
        assert generation is not None
        return generation

    def advance(self, conn: Connection, g: Generation, old: int, new: int) -> None:
        if not self.try_advance(conn, g, old, new):
            raise PositionMoved(f"{g.name} generation {g.generation} is no longer at position {old}")

    def try_advance(self, conn: Connection, g: Generation, old: int, new: int) -> bool:
        """The compare-and-set: moves the position from `old` to `new` and keeps the row locked until the
        transaction ends; False (nothing changed or locked) when the position is not `old`. The statement is
        built once: the caught-up runner sends one per transaction, and building it cost more than running it."""
        values = {"g_name": g.name, "g_generation": g.generation, "old": old, "new": new, "at": _now()}
        return conn.execute(self._advance, values).rowcount == 1

    def position(self, conn: Connection, g: Generation, *, for_update: bool = False) -> int:
        """The generation's tracked position; `for_update` locks it until the transaction ends (PostgreSQL), so
        a concurrent writer waits and then sees the moved position. A generation that a switch has dropped
        meanwhile raises PositionMoved: its writer carries on with the live one."""
        t = self.table
        query = select(t.c.position).where(and_(t.c.name == g.name, t.c.generation == g.generation))
        value = conn.execute(query.with_for_update() if for_update else query).scalar_one_or_none()
        if value is None:
            raise PositionMoved(f"{g.name} generation {g.generation} no longer exists")
        return int(value)

    def position_of(self, g: Generation) -> int:
        with self.db.engine.connect() as conn:
            return self.position(conn, g)

    def fail(self, conn: Connection, g: Generation, position: int, error: str) -> None:
        t = self.table
        conn.execute(
            update(t)
            .where(and_(t.c.name == g.name, t.c.generation == g.generation))
            .values(error=error, error_position=position, updated_at=_now())
        )

    def set_stage(self, conn: Connection, g: Generation, stage: Stage) -> None:
        t = self.table
        conn.execute(
            update(t)
            .where(and_(t.c.name == g.name, t.c.generation == g.generation))
            .values(stage=stage.value, updated_at=_now())
        )

    def remove(self, conn: Connection, g: Generation) -> None:
        t = self.table
        conn.execute(t.delete().where(and_(t.c.name == g.name, t.c.generation == g.generation)))


def _now() -> datetime:
    """Bookkeeping time of the read side (never an input to a read model's content)."""
    return datetime.now(UTC)
