"""The API when PostgreSQL goes away and comes back (a restart, a failover, a cut network path): requests get
503 `unavailable` with Retry-After, never a 500; nothing is half-written; once the database answers again the
same process serves as before, and a command retried with its Idempotency-Key is recorded once (SEC-09)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from ptw_api.http.app import create_app
from ptw_domain.clock import ManualClock
from tests.api.http.conftest import Caller, token_for
from tests.api.http.test_command_endpoints import draft_body
from tests.api.http.test_operations import settings_for
from tests.builders import World
from tests.cuttable_proxy import CuttableProxy, proxied


@pytest.fixture
def through_proxy(postgres_url: str) -> Iterator[tuple[str, CuttableProxy]]:
    url, proxy = proxied(postgres_url)
    yield url, proxy
    proxy.cut()


@pytest.fixture
def served(
    through_proxy: tuple[str, CuttableProxy], clock: ManualClock
) -> Iterator[tuple[Caller, CuttableProxy, TestClient[Any]]]:
    url, proxy = through_proxy
    settings = settings_for(url)
    with TestClient(create_app(settings, clock=clock)) as client:
        site = World.create(client.app.state.runtime.service, clock)
        yield Caller(client, site, token_for(settings, site, "req"), site.project_id), proxy, client


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["Retry-After"] == "5"
    problem = response.json()
    assert problem["code"] == "unavailable" and problem["correlation_id"]


def test_reads_answer_503_while_the_database_is_gone_and_200_once_it_is_back(
    served: tuple[Caller, CuttableProxy, TestClient[Any]],
) -> None:
    req, proxy, client = served
    assert req.get("/permits").status_code == 200
    proxy.cut()
    assert_unavailable(req.get("/permits"))
    started = time.monotonic()
    ready = client.get("/health/ready")
    assert ready.status_code == 503  # the probe says which part, as a health body
    failing = {c["name"] for c in ready.json()["checks"] if not c["ok"]}
    assert {"store", "read_database"} <= failing, ready.json()
    assert time.monotonic() - started < 30  # connections are waited for 1 s a try, not the library's 30 s
    proxy.restore()
    assert req.get("/permits").status_code == 200
    deadline = (
        time.monotonic() + 20
    )  # the in-process followers wait out the outage, backing off to a few seconds
    while (ready := client.get("/health/ready")).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ready.status_code == 200, ready.json()  # every projection followed again: none stopped
    assert client.app.state.runtime.read_models.errors == []


def test_a_command_cut_off_from_the_store_answers_503_records_nothing_and_is_recorded_once_on_retry(
    served: tuple[Caller, CuttableProxy, TestClient[Any]],
) -> None:
    req, proxy, client = served
    created = req.post("/permits", json=draft_body(req.world))
    assert created.status_code == 201, created.text
    permit, version = created.json()["stream_id"], created.json()["version"]
    edit = {"changes": {"description": "Weld a bracket on pipe rack 4"}}
    key = {"Idempotency-Key": str(uuid.uuid4())}

    proxy.cut()
    assert_unavailable(req.post(f"/permits/{permit}/edit", json=edit, headers=key))
    proxy.restore()

    service = client.app.state.runtime.service
    assert service.permit(uuid.UUID(permit)).version == version  # nothing half-written
    retried = req.post(f"/permits/{permit}/edit", json=edit, headers=key)
    assert retried.status_code == 200, retried.text
    first, again = retried.json(), req.post(f"/permits/{permit}/edit", json=edit, headers=key).json()
    assert (first.pop("replayed"), again.pop("replayed")) == (False, True)  # SEC-09: answered from the record
    assert again == first
    assert service.permit(uuid.UUID(permit)).version == version + 1
