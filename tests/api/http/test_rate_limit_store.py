# ruff: noqa: N802
"""SEC-06 behind a load balancer: the counts in a shared Redis, so that a limit holds per user and not per API
process, and what an outage of that store does (it neither stops the API nor lifts the limits)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import msgspec
import pytest
import redis
from litestar.testing import TestClient

from ptw_api.http.app import create_app
from ptw_api.http.rate_limits import RATE_LIMITS, RETRY_SHARED_AFTER_SECONDS, SharedCounts, rate_limit_store
from ptw_api.http.settings import ApiSettings
from ptw_domain.clock import ManualClock
from tests.api.http.conftest import Caller, token_for
from tests.api.http.test_operations import settings_for
from tests.builders import World

WRITES = dict(RATE_LIMITS)["write"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own (concurrent tests and runs share the server), removed afterwards."""
    name = f"ptw-test-{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)


@contextmanager
def processes(
    settings: ApiSettings, clock: ManualClock, count: int
) -> Iterator[tuple[list[Caller], list[Caller]]]:
    """`count` apps on one database, as many API processes behind a load balancer are: each has its own memory.
    Yields the requestor and the verifier as callers of each app."""
    with ExitStack() as stack:
        clients = [
            stack.enter_context(
                TestClient(create_app(settings if i == 0 else _follower(settings), clock=clock))
            )
            for i in range(count)
        ]
        site = World.create(clients[0].app.state.runtime.service, clock)

        def callers(who: str) -> list[Caller]:
            token = token_for(settings, site, who)
            return [Caller(client, site, token, site.project_id) for client in clients]

        yield callers("req"), callers("ver")


def _follower(settings: ApiSettings) -> ApiSettings:
    """The other processes serve the same database; the first one's followers keep its read models."""
    return msgspec.structs.replace(settings, run_projections=False)


def test_SEC_06_a_limit_holds_per_user_across_processes_that_share_redis(
    tmp_path: Path, clock: ManualClock, redis_url: str, namespace: str
) -> None:
    settings = settings_for(
        f"sqlite:///{tmp_path / 'ptw.db'}",
        rate_limits_enabled=True,
        rate_limit_store=redis_url,
        rate_limit_namespace=namespace,
    )
    missing = uuid.uuid4()
    with processes(settings, clock, 2) as (req, ver):
        for i in range(WRITES):  # half through each process: refused writes count too (decoded, nothing run)
            assert req[i % 2].post(f"/permits/{missing}/edit", json={}).status_code == 422
        for process in req:
            refused = process.post(f"/permits/{missing}/edit", json={})
            assert refused.status_code == 429, refused.text
            assert refused.json()["rule_ids"] == ["SEC-06"]
        assert ver[1].post(f"/permits/{missing}/edit", json={}).status_code == 422  # per user
        ready = req[0].client.get("/health/ready").json()
    assert {"name": "rate_limit_store", "ok": True, "detail": "shared"} in ready["checks"]
    assert list(redis.Redis.from_url(redis_url).scan_iter(f"{namespace}:*"))  # the counts are in Redis


def test_SEC_06_without_a_shared_store_each_process_counts_alone(tmp_path: Path, clock: ManualClock) -> None:
    """Why production sets PTW_RATE_LIMIT_STORE: with counts in memory, two processes let twice the limit through."""
    settings = settings_for(f"sqlite:///{tmp_path / 'ptw.db'}", rate_limits_enabled=True)
    missing = uuid.uuid4()
    with processes(settings, clock, 2) as (req, _):
        for i in range(WRITES):
            assert req[i % 2].post(f"/permits/{missing}/edit", json={}).status_code == 422
        assert [p.post(f"/permits/{missing}/edit", json={}).status_code for p in req] == [422, 422]


def test_SEC_06_an_unreachable_rate_limit_store_neither_stops_the_api_nor_lifts_the_limits(
    tmp_path: Path, clock: ManualClock
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings = settings_for(
        f"sqlite:///{tmp_path / 'ptw.db'}", rate_limits_enabled=True, rate_limit_store=nowhere
    )
    missing = uuid.uuid4()
    with processes(settings, clock, 1) as ([req], [ver]):
        assert req.get("/permits").status_code == 200  # no 500: the request is counted in the process
        for _ in range(WRITES):
            assert req.post(f"/permits/{missing}/edit", json={}).status_code == 422
        refused = req.post(f"/permits/{missing}/edit", json={})
        assert refused.status_code == 429, refused.text
        assert ver.post(f"/permits/{missing}/edit", json={}).status_code == 422
        ready = req.client.get("/health/ready")
    assert ready.status_code == 200  # every process falls back alike: taking them all out would stop the site
    [check] = [c for c in ready.json()["checks"] if c["name"] == "rate_limit_store"]
    assert check["ok"] and check["detail"].startswith("in this process since ")
    assert check["detail"].endswith("(ConnectionError)")


def test_SEC_06_counts_go_back_to_redis_once_it_answers_again(redis_url: str, namespace: str) -> None:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    settings = ApiSettings(rate_limit_store=f"redis://127.0.0.1:{port}/0", rate_limit_namespace=namespace)
    counts = rate_limit_store(settings)
    assert isinstance(counts, SharedCounts)
    now = [0.0]
    counts.monotonic = lambda: now[0]
    started: list[subprocess.Popen[bytes]] = []

    async def scenario() -> None:
        await counts.set("write:req", b"local", 60)
        assert counts.state().startswith("in this process since ")
        assert await counts.get("write:req") == b"local"

        started.append(
            subprocess.Popen(
                [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
            )
        )
        direct = redis.Redis(port=port)
        for _ in range(100):
            try:
                direct.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        assert await counts.get("write:req") == b"local"  # not tried again before its time
        now[0] += RETRY_SHARED_AFTER_SECONDS
        assert await counts.get("write:req") is None  # the shared store again: it has no count yet
        assert counts.state() == "shared"
        await counts.set("write:req", b"shared", 60)
        assert direct.get(f"{namespace}:write:req") == b"shared"
        assert 0 < (direct.ttl(f"{namespace}:write:req")) <= 60
        async with counts:  # the app's lifespan closes the store's client with it
            pass

    try:
        asyncio.run(scenario())
    finally:
        for process in started:
            process.terminate()
            process.wait(timeout=10)
