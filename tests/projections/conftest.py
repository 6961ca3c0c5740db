"""Read-side fixtures: the same suite on SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

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
def fresh_postgres_url(postgres_dsn: str) -> Iterator[Callable[[], str]]:
    """A store URL on a fresh schema per call (one per hypothesis example), all dropped afterwards."""
    import psycopg

    made: list[str] = []

    def fresh() -> str:
        schema = f"ptw_test_{uuid.uuid4().hex[:12]}"
        made.append(schema)
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        return f"{postgres_dsn}?schema={schema}"

    yield fresh
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        for schema in made:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_read" CASCADE')


def run_machine(factory: Callable[[], Any], *, examples: int, steps: int) -> None:
    """A hypothesis state machine over a database per example: no deadline, and the health checks a slow,
    database-bound example trips are off."""
    run_state_machine_as_test(
        factory,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.filter_too_much,
                HealthCheck.data_too_large,
            ],
        ),
    )


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
