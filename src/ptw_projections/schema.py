"""The physical layout of a projection: tables per generation, stable views, and the switch between them.

Read tables follow the projection's code version, never migrations (ADR 0011): a new version is a new
generation, built beside the live one from the events, and the views switch to it in one transaction.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, text
from sqlalchemy.schema import CreateTable

from ptw_projections.catalogue import Catalogue, Generation, Stage
from ptw_projections.database import ReadDatabase
from ptw_projections.projection import Projection


class Layout:
    def __init__(self, db: ReadDatabase, projection: Projection) -> None:
        self.db = db
        self.projection = projection
        self.catalogue = Catalogue(db)
        self.catalogue.create()  # once here: `active()` is on the followers' polling path
        self._tables: dict[int, dict[str, Table]] = {}

    def tables(self, generation: int) -> dict[str, Table]:
        if generation not in self._tables:
            self._tables[generation] = self.projection.tables(self.db.metadata(), generation)
        return self._tables[generation]

    def active(self) -> Generation | None:
        with self.db.engine.connect() as conn:
            return self.catalogue.active(conn, self.projection.name)

    def create_generation(self, stage: Stage, *, indexed: bool = True) -> Generation:
        """A new, empty generation with its tables (one transaction). A bulk build (rebuild, verification)
        creates them without their secondary indexes, which are cheaper to build once at the end than to keep
        up row by row."""
        with self.db.ddl() as conn:
            return self._create_generation(conn, stage, indexed=indexed)

    def _create_generation(self, conn: Connection, stage: Stage, *, indexed: bool = True) -> Generation:
        generation = self.catalogue.add(conn, self.projection.name, self.projection.version, stage)
        for table in self.tables(generation.generation).values():
            if indexed:
                table.create(conn)
            else:
                conn.execute(CreateTable(table))
        return generation

    def add_indexes(self, generation: Generation) -> None:
        """The secondary indexes a bulk build left out (idempotent: a resumed rebuild may have some)."""
        with self.db.ddl() as conn:
            for table in self.tables(generation.generation).values():
                for index in table.indexes:
                    index.create(conn, checkfirst=True)

    def ensure_active(self) -> Generation:
        """The live generation; the first one is created empty and live at once (there is nothing to hide),
        by the first of the processes starting together (the others find it under the DDL lock)."""
        active = self.active()
        if active is not None:
            return active
        with self.db.ddl() as conn:
            if self.catalogue.active(conn, self.projection.name) is None:
                generation = self._create_generation(conn, Stage.BUILDING)
                self._point_views(conn, generation)
                self.catalogue.set_stage(conn, generation, Stage.ACTIVE)
        active = self.active()
        assert active is not None
        return active

    def activate(self, generation: Generation) -> None:
        """Switch the views to `generation` and drop the previous live one, atomically."""
        with self.db.ddl() as conn:
            previous = self.catalogue.active(conn, self.projection.name)
            self._point_views(conn, generation)
            self.catalogue.set_stage(conn, generation, Stage.ACTIVE)
            if previous is not None and previous.generation != generation.generation:
                self._drop(conn, previous)

    def drop(self, generation: Generation) -> None:
        with self.db.ddl() as conn:
            self._drop(conn, generation)

    def _drop(self, conn: Connection, generation: Generation) -> None:
        # The catalogue row first: a runner writing to this generation holds it (Runner locks it before its
        # tables), so this waits for that batch instead of deadlocking with it; later batches find it gone.
        self.catalogue.remove(conn, generation)
        for table in self.tables(generation.generation).values():
            table.drop(conn, checkfirst=True)
        self._tables.pop(generation.generation, None)

    def _point_views(self, conn: Connection, generation: Generation) -> None:
        views = self.projection.views(self.db.metadata())
        for base, table in self.tables(generation.generation).items():
            view = self.db.qualified(views[base].name)
            conn.execute(text(f"DROP VIEW IF EXISTS {view}"))
            conn.execute(text(f"CREATE VIEW {view} AS SELECT * FROM {self.db.qualified(table.name)}"))
