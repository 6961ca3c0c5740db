# ruff: noqa: N802
"""Operations (issue 5): health probes, Prometheus metrics, the JSON request log (SEC-13) and rate limits
(SEC-06), against the real app on SQLite."""

from __future__ import annotations

import gc
import json
import logging
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from ptw_api.http.app import create_app
from ptw_api.http.rate_limits import RATE_LIMITS
from ptw_api.http.settings import ApiSettings
from ptw_domain.clock import ManualClock
from tests.api.http.conftest import SECRET, Caller, token_for
from tests.builders import World

PROJECTIONS = (
    "permit_list",
    "tasks",
    "registers",
    "kpis",
    "board",
    "audit_trail",
    "sync_ledger",
    "readiness",
)
LIMITS = dict(RATE_LIMITS)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ptw.db'}"


def settings_for(database_url: str, **changes: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "jwt_secret": SECRET,
        "rate_limits_enabled": False,
        "openapi_ui": False,
        "read_wait_seconds": 60.0,
        **changes,
    }
    return ApiSettings(**values)


def checks(response: Any) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in response.json()["checks"]}


# --- health ----------------------------------------------------------------------------------------------------


def test_liveness_answers_200_without_a_token(client: TestClient[Any]) -> None:
    response = client.get("/health/live")
    assert (response.status_code, response.json()) == (200, {"ok": True, "checks": []})


def test_readiness_reports_the_store_the_read_database_and_every_projection(
    site: World, client: TestClient[Any]
) -> None:
    head = client.app.state.runtime.head()
    client.app.state.runtime.reads.wait_for(head, list(PROJECTIONS), timeout=60)
    response = client.get("/health/ready", params={"max_lag": 0})
    assert response.status_code == 200, response.text
    found = checks(response)
    assert found["store"] == {"name": "store", "ok": True, "detail": f"head {head}"}
    assert found["read_database"]["ok"] is True
    for name in PROJECTIONS:
        assert found[f"projection:{name}"] == {"name": f"projection:{name}", "ok": True, "detail": "lag 0"}


@pytest.fixture
def followers_down(database_url: str, clock: ManualClock) -> Iterator[tuple[TestClient[Any], World]]:
    """The read models were built once, then the app serves with its followers not running (as when the
    `ptw projections run` processes are down) and the site is recorded through its service."""
    with TestClient(create_app(settings_for(database_url), clock=clock)):
        pass  # creates the read database and catches every projection up to the empty store
    with TestClient(create_app(settings_for(database_url, run_projections=False), clock=clock)) as client:
        yield client, World.create(client.app.state.runtime.service, clock)


def test_readiness_is_503_when_projections_lag_beyond_max_lag(
    followers_down: tuple[TestClient[Any], World],
) -> None:
    client, _site = followers_down
    head = client.app.state.runtime.head()
    assert head > 10
    lagging = client.get("/health/ready", params={"max_lag": 10})
    assert lagging.status_code == 503, lagging.text
    assert lagging.json()["ok"] is False
    found = checks(lagging)
    assert found["store"]["ok"] is True
    for name in PROJECTIONS:
        assert found[f"projection:{name}"] == {
            "name": f"projection:{name}",
            "ok": False,
            "detail": f"lag {head}",
        }
    tolerant = client.get("/health/ready", params={"max_lag": head})
    assert tolerant.status_code == 200, tolerant.text


def test_readiness_is_503_when_a_projection_stopped(site: World, client: TestClient[Any]) -> None:
    """A projection that fails is stopped (the others go on) and the probe names it."""
    runtime = client.app.state.runtime
    runtime.reads.wait_for(runtime.head(), list(PROJECTIONS), timeout=60)
    # BEGIN IMMEDIATE: a read transaction that later writes fails at once (database is locked) if a follower
    # committed since it began; this one waits for the write lock first
    with runtime.reads.db.writing() as conn:
        tables = conn.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'board%'")
        )
        for (table,) in list(tables):
            conn.execute(text(f'DROP TABLE "{table}"'))
    site.draft()  # the board follower fails on this event
    [follower] = [t for t in threading.enumerate() if t.name == "ptw-projection-board"]
    follower.join(timeout=60)
    assert not follower.is_alive()
    response = client.get("/health/ready", params={"max_lag": 1000})
    assert response.status_code == 503, response.text
    found = checks(response)
    assert found["projection:board"]["ok"] is False
    assert "stopped" in found["projection:board"]["detail"]
    assert found["projection:permit_list"]["ok"] is True


# --- metrics ---------------------------------------------------------------------------------------------------


def test_metrics_expose_request_counters_and_projection_lag(
    site: World, client: TestClient[Any], as_person: Any
) -> None:
    as_person("req").get("/permits")
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    assert re.search(r'^ptw_projection_lag\{projection="permit_list"\} \d+(\.\d+)?$', body, re.MULTILINE)
    requests = [
        line
        for line in body.splitlines()
        if line.startswith("ptw_requests_total{") and 'method="GET"' in line and 'status_code="200"' in line
    ]
    assert requests, body[:2000]
    assert any("/permits" in line for line in requests)
    assert not any(str(site.project_id) in line for line in requests)  # per route template, not per path
    assert re.search(
        r'^ptw_request_duration_seconds_count\{method="GET",path="[^"]*/permits"', body, re.MULTILINE
    )


def test_metrics_need_no_token_and_are_not_in_the_api_document(client: TestClient[Any]) -> None:
    assert client.get("/metrics").status_code == 200
    assert "/metrics" not in client.get("/schema/openapi.json").json()["paths"]


# --- the request log -------------------------------------------------------------------------------------------


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "ptw.api.access"]


def test_SEC_13_each_request_logs_one_json_line_with_its_correlation_id(
    site: World, as_person: Any, caplog: pytest.LogCaptureFixture
) -> None:
    req = as_person("req")
    caplog.set_level(logging.INFO, logger="ptw.api.access")
    response = req.get("/permits", headers={"X-Correlation-ID": "trace-42"})
    assert response.headers["X-Correlation-ID"] == "trace-42"
    [line] = [entry for entry in access_lines(caplog) if entry["correlation_id"] == "trace-42"]
    assert {k: line[k] for k in ("method", "path", "status", "sub")} == {
        "method": "GET",
        "path": f"/api/v1/projects/{site.project_id}/permits",
        "status": 200,
        "sub": "req",
    }


def test_SEC_13_a_correlation_id_that_is_not_a_plain_token_is_replaced(
    site: World, as_person: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ptw.api.access")
    response = as_person("req").get("/permits", headers={"X-Correlation-ID": "<script>alert(1)</script>"})
    given = response.headers["X-Correlation-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", given)
    assert [entry["correlation_id"] for entry in access_lines(caplog)] == [given]


def test_SEC_13_logs_never_carry_the_token_even_when_it_is_refused(
    site: World, client: TestClient[Any], api_settings: ApiSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = token_for(api_settings, site, "req")
    forged = token[:-6] + "AAAAAA"
    base = f"/api/v1/projects/{site.project_id}"
    ok = client.get(base + "/permits", headers={"Authorization": f"Bearer {token}"})
    refused = client.get(base + "/permits", headers={"Authorization": f"Bearer {forged}"})
    posted = client.post(
        base + "/permits", json={"template_key": "nope"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert (ok.status_code, refused.status_code, posted.status_code) == (200, 401, 422)
    assert refused.json()["correlation_id"] == refused.headers["X-Correlation-ID"]
    statuses = sorted(entry["status"] for entry in access_lines(caplog))
    assert statuses == [200, 401, 422]
    everything = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    for secret in (token, forged, token.split(".")[1], token.split(".")[2], SECRET):
        assert secret not in everything
    assert "authorization" not in everything.lower()
    assert "bearer" not in everything.lower()


# --- rate limits -----------------------------------------------------------------------------------------------


@pytest.fixture
def limited(database_url: str, clock: ManualClock) -> Iterator[tuple[TestClient[Any], World, ApiSettings]]:
    settings = settings_for(database_url, rate_limits_enabled=True)
    with TestClient(create_app(settings, clock=clock)) as client:
        yield client, World.create(client.app.state.runtime.service, clock), settings


def caller(limited: tuple[TestClient[Any], World, ApiSettings], who: str) -> Caller:
    client, site, settings = limited
    return Caller(client, site, token_for(settings, site, who), site.project_id)


def test_SEC_06_the_limits_are_the_specified_figures() -> None:
    assert (LIMITS["write"], LIMITS["read"], LIMITS["kpis"]) == (120, 600, 120)


def test_SEC_06_the_121st_write_in_a_minute_is_rate_limited_per_user(
    limited: tuple[TestClient[Any], World, ApiSettings],
) -> None:
    req, app = caller(limited, "req"), caller(limited, "app")
    missing = uuid.uuid4()
    for _ in range(LIMITS["write"]):  # refused writes count too: cheap ones, decoded before anything runs
        assert req.post(f"/permits/{missing}/edit", json={}).status_code == 422
    limited_response = req.post(f"/permits/{missing}/edit", json={})
    assert limited_response.status_code == 429, limited_response.text
    assert int(limited_response.headers["Retry-After"]) > 0
    assert limited_response.headers["content-type"].startswith("application/problem+json")
    problem = limited_response.json()
    assert (problem["code"], problem["rule_ids"]) == ("rate_limited", ["SEC-06"])
    assert app.post(f"/permits/{missing}/edit", json={}).status_code == 422  # another user is not affected
    assert req.get("/permits").status_code == 200  # nor are the same user's reads


def test_SEC_06_the_601st_read_in_a_minute_is_rate_limited_per_user(
    limited: tuple[TestClient[Any], World, ApiSettings],
) -> None:
    req, ver = caller(limited, "req"), caller(limited, "ver")
    for _ in range(LIMITS["read"]):
        assert req.get("/permits", params={"colour": "red"}).status_code == 422
    refused = req.get("/permits", params={"colour": "red"})
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "rate_limited" and "Retry-After" in refused.headers
    assert ver.get("/permits").status_code == 200


def test_SEC_06_probes_and_metrics_are_not_rate_limited(
    limited: tuple[TestClient[Any], World, ApiSettings],
) -> None:
    client = limited[0]
    for _ in range(LIMITS["write"] + 5):
        assert client.get("/health/live").status_code == 200


def test_SEC_06_the_kpis_limit_is_its_own(limited: tuple[TestClient[Any], World, ApiSettings]) -> None:
    req = caller(limited, "req")
    for _ in range(LIMITS["kpis"]):
        assert req.get("/kpis", params={"colour": "red"}).status_code == 422
    assert req.get("/kpis", params={"colour": "red"}).status_code == 429
    assert req.get("/permits").status_code == 200  # other reads have their own 600


async def post_without_client_address(app: Any, path: str, token: str) -> int:
    """One POST through the ASGI app as a server gives it when it knows no client address (a Unix socket
    behind a proxy): the scope's `client` is None."""
    body = b"{}"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": None,
        "server": ("testserver", 80),
        "state": {},
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def test_SEC_06_limits_stay_per_user_when_the_server_knows_no_client_address(
    limited: tuple[TestClient[Any], World, ApiSettings],
) -> None:
    client, site, settings = limited
    path = f"/api/v1/projects/{site.project_id}/permits/{uuid.uuid4()}/edit"
    req, app = token_for(settings, site, "req"), token_for(settings, site, "app")
    for _ in range(LIMITS["write"]):
        assert client.blocking_portal.call(post_without_client_address, client.app, path, req) == 422
    assert client.blocking_portal.call(post_without_client_address, client.app, path, req) == 429
    assert client.blocking_portal.call(post_without_client_address, client.app, path, app) == 422


# --- process settings while serving --------------------------------------------------------------------------------


def test_serving_freezes_what_lives_for_the_process_and_shutdown_gives_it_back(database_url: str) -> None:
    """The app's startup takes what exists (modules, classes, the runtime) out of the cycle collector's walks
    (ADR 0016, GC update); its shutdown gives it back, so that a process serving one app after another (as the
    tests do) keeps no old app's reference cycles."""

    def walked(thing: object) -> bool:
        """Whether the collector walks `thing` (its generations hold it; the frozen objects are not listed)."""
        return any(o is thing for o in gc.get_objects())

    made_before = [object()]
    app = create_app(settings_for(database_url))
    with TestClient(app):
        assert gc.get_freeze_count() > 10_000  # the interpreter's modules and classes alone are that many
        assert not walked(made_before) and not walked(app.state.runtime)
        made_while_serving = [object()]
        assert walked(made_while_serving)
    assert gc.get_freeze_count() == 0
    assert walked(made_before)
