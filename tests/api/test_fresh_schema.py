"""Processes starting together on a fresh PostgreSQL schema all start: API workers (the store and the read side's
catalogue) and processes that keep the read models (the first generation of every projection, its tables and
views) create them one at a time under the schema's DDL lock (ptw_domain/store/ddl.py), where they used to race
on CREATE TABLE/TYPE IF NOT EXISTS (docs/benchmarks.md)."""

from __future__ import annotations

import multiprocessing
import traceback
from multiprocessing.synchronize import Barrier
from typing import Any

import psycopg
import pytest

from ptw_api.http.runtime import Runtime
from ptw_api.http.settings import ApiSettings
from ptw_projections.registry import PROJECTIONS

PROCESSES = 4
pytestmark = pytest.mark.postgres


def start(url: str, run_projections: bool, barrier: Barrier, results: Any) -> None:
    """One process's first start: everything `create_app`'s lifespan makes, then closed again."""
    try:
        settings = ApiSettings(
            database_url=url, jwt_secret="x" * 40, run_projections=run_projections, rate_limits_enabled=False
        )
        barrier.wait(timeout=60)
        Runtime(settings).close()
        results.put("started")
    except Exception:
        results.put(traceback.format_exc())


@pytest.mark.parametrize("attempt", range(3))
def test_processes_starting_together_on_a_fresh_schema_all_start(postgres_url: str, attempt: int) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [
        context.Process(target=start, args=(postgres_url, n % 2 == 0, barrier, results))
        for n in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert outcomes == ["started"] * PROCESSES, "\n".join(o for o in outcomes if o != "started")

    dsn, schema = postgres_url.split("?schema=")
    with psycopg.connect(dsn) as conn:
        live = conn.execute(
            f'SELECT name, count(*) FROM "{schema}_read".projection_generations GROUP BY name'
        ).fetchall()
    assert dict(live) == dict.fromkeys(PROJECTIONS, 1), "one first generation per projection"
