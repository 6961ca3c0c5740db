"""Fixtures shared by every test: one suite, every storage backend (memory, SQLite, PostgreSQL).

PostgreSQL and Redis tests are mandatory where PTW_REQUIRE_POSTGRES=1 and PTW_REQUIRE_REDIS=1 (CI): a missing
server fails them instead of skipping. Each PostgreSQL test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ptw_domain.clock import ManualClock
from ptw_domain.service import PermitService
from tests.builders import START, World

PG_DSN = os.environ.get("PTW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("PTW_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis server for the shared rate-limit counts; mandatory where PTW_REQUIRE_REDIS=1 (CI)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError:
        if os.environ.get("PTW_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis is required here (PTW_REQUIRE_REDIS=1) but {REDIS_URL} is unreachable")
        pytest.skip("Redis not reachable; set PTW_REQUIRE_REDIS=1 to make this a failure")
    return REDIS_URL


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    if not _postgres_available():
        if os.environ.get("PTW_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here (PTW_REQUIRE_POSTGRES=1) but {PG_DSN} is unreachable")
        pytest.skip("PostgreSQL not reachable; set PTW_REQUIRE_POSTGRES=1 to make this a failure")
    return PG_DSN


@pytest.fixture
def postgres_url(postgres_dsn: str) -> Iterator[str]:
    """A fresh schema per test, so tests never see each other's events."""
    import psycopg

    schema = f"ptw_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{postgres_dsn}?schema={schema}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_read" CASCADE')  # the read models' schema


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ptw.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def service(database_url: str, clock: ManualClock) -> Iterator[PermitService]:
    svc = PermitService(database_url, clock=clock)
    yield svc
    svc.close()


@pytest.fixture
def world(service: PermitService, clock: ManualClock) -> World:
    """An opened project with templates and people, on the parametrised backend."""
    return World.create(service, clock)


@pytest.fixture
def two_services(postgres_url: str) -> Iterator[tuple[World, PermitService]]:
    """A world on one PostgreSQL store and a second service on the same store, as two processes would be."""
    clock = ManualClock(START)
    first, second = PermitService(postgres_url, clock=clock), PermitService(postgres_url, clock=clock)
    yield World.create(first, clock), second
    first.close()
    second.close()
