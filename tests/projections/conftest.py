"""Read-side fixtures: the same suite on SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ptw_domain.clock import ManualClock
from ptw_domain.service import PermitService
from ptw_projections.database import ReadDatabase, open_read_database
from ptw_projections.reader import ReadSide
from ptw_projections.registry import projections
from ptw_projections.runner import Runner
from tests.builders import World


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ptw.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def read_db(database_url: str) -> Iterator[ReadDatabase]:
    db = open_read_database(database_url)
    yield db
    db.dispose()


class Projected:
    """Runs every projection up to the store's head on demand, as the serving process's runners would."""

    def __init__(self, service: PermitService, db: ReadDatabase) -> None:
        self.runners = [Runner(service.store, db, p, batch_size=50) for p in projections()]
        self.reads = ReadSide(db)

    def catch_up(self) -> ReadSide:
        for runner in self.runners:
            runner.catch_up(runner.live_generation())
        return self.reads

    def runner(self, name: str) -> Runner:
        return next(r for r in self.runners if r.projection.name == name)


@pytest.fixture
def projected(service: PermitService, read_db: ReadDatabase) -> Projected:
    return Projected(service, read_db)


@pytest.fixture
def world(service: PermitService, clock: ManualClock) -> World:
    return World.create(service, clock)
