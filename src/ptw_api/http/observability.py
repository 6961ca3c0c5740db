"""Correlation ids, structured request logs (SEC-13), health and Prometheus metrics."""

from __future__ import annotations

import functools
import itertools
import logging
import re
import time
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import text

from ptw_api.http.openapi import PROBLEM_RESPONSES
from ptw_api.http.rate_limits import SharedCounts
from ptw_api.http.runtime import Runtime

log = logging.getLogger("ptw.api.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
PROJECTION_LAG = Gauge("ptw_projection_lag", "Store head minus the projection's position", ["projection"])
# Request figures per method, route template and status (ADR 0016: counted here, where each request is already
# timed for its log line, rather than by a second middleware building its own request objects).
REQUESTS = Counter("ptw_requests", "HTTP requests answered", ["method", "path", "status_code"])
REQUEST_TIME = Histogram(
    "ptw_request_duration_seconds", "Time to answer an HTTP request", ["method", "path", "status_code"]
)
IN_PROGRESS = Gauge("ptw_requests_in_progress", "HTTP requests being answered", ["method", "path"])


# A server-made correlation id: this process's random half and a count (32 hex digits, as a UUID's), unique without
# asking the operating system for randomness on every request.
_PROCESS_PART = uuid.uuid4().hex[:16]
_COUNT = itertools.count()
_LINE = msgspec.json.Encoder()


def new_correlation_id() -> str:
    return f"{_PROCESS_PART}{next(_COUNT) % 16**16:016x}"


def correlation_middleware(app: ASGIApp) -> ASGIApp:
    """Give every request a correlation id (the caller's `X-Correlation-ID` when it is a plain token, else a
    new one), return it, log one JSON line per request (no headers, no body, no token: SEC-13) and count it in
    the request figures."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-correlation-id"), b"").decode("latin-1")
        correlation = given if _SAFE_ID.match(given) else new_correlation_id()
        scope.setdefault("state", {})["correlation_id"] = correlation
        method, path = scope["method"], scope.get("path_template", "unrouted")
        progress = _in_progress(method, path)
        progress.inc()
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)["X-Correlation-ID"] = correlation
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        except Exception as error:  # answered by the app's exception handler, outside this middleware
            status = getattr(error, "status_code", 500)
            raise
        finally:
            took = time.perf_counter() - started
            progress.dec()
            answered, timed = _figures(method, path, status)
            answered.inc()
            timed.observe(took)
            if log.isEnabledFor(logging.INFO):
                log.info(request_line(scope, correlation, status, took))

    return middleware


# The labelled figures of each (method, route, status), looked up once: `labels()` takes the metric's lock and
# formats its values on every call, and the combinations are few (routes are templates).
@functools.cache
def _in_progress(method: str, path: str) -> Gauge:
    return IN_PROGRESS.labels(method, path)


@functools.cache
def _figures(method: str, path: str, status: int) -> tuple[Counter, Histogram]:
    return REQUESTS.labels(method, path, status), REQUEST_TIME.labels(method, path, status)


def request_line(scope: Scope, correlation: str, status: int, took: float) -> str:
    """The request log's JSON line (SEC-13): what was asked, by whom, the answer's status and the time taken."""
    user = scope.get("user")
    return _LINE.encode(
        {
            "event": "request",
            "correlation_id": correlation,
            "method": scope.get("method"),
            "path": scope["path"],
            "status": status,
            "ms": round(took * 1000, 2),
            "sub": getattr(user, "sub", None),
        }
    ).decode()


class Check(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    ok: bool
    detail: str = ""


class Health(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    checks: list[Check] = msgspec.field(default_factory=list)


class HealthController(Controller):
    path = "/health"
    tags = ["operations"]  # noqa: RUF012
    security = [{}]  # noqa: RUF012 - documented as open: probes carry no token (excluded from auth)

    @get("/live", operation_id="liveness", description="The process is up.", exclude_from_auth=True)
    async def live(self) -> Health:
        return Health(ok=True)

    @get(
        "/ready",
        operation_id="readinessProbe",
        description="Ready to serve: the store and read databases answer and every projection is within "
        "`max_lag` events of the head and not stopped.",
        exclude_from_auth=True,
        sync_to_thread=True,
        responses={
            400: PROBLEM_RESPONSES[400],
            422: PROBLEM_RESPONSES[422],
            503: ResponseSpec(data_container=Health, description="Not ready: the checks say which part"),
        },
    )
    def ready(
        self, request: Request[Any, Any, Any], max_lag: Annotated[int, Parameter(ge=0)] = 1000
    ) -> Response[Health]:
        runtime: Runtime = request.app.state.runtime
        checks: list[Check] = []
        try:
            head = runtime.head()
            checks.append(Check(name="store", ok=True, detail=f"head {head}"))
        except Exception as error:  # the probe reports any failure of the dependency as not ready
            checks.append(Check(name="store", ok=False, detail=type(error).__name__))
            head = None
        try:
            with runtime.reads.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks.append(Check(name="read_database", ok=True))
        except Exception as error:
            checks.append(Check(name="read_database", ok=False, detail=type(error).__name__))
        counts = request.app.stores.get("rate_limit")
        if isinstance(counts, SharedCounts):  # informative: every process falls back alike, so never unready
            checks.append(Check(name="rate_limit_store", ok=True, detail=counts.state()))
        stopped = dict(runtime.read_models.errors) if runtime.read_models else {}
        if head is not None:
            try:
                lags = runtime.reads.lag(head)
            except Exception as error:  # the positions are in the read database
                checks.append(Check(name="projections", ok=False, detail=type(error).__name__))
                lags = []
            for lag in lags:
                failure = stopped.get(lag.name)
                ok = lag.lag <= max_lag and failure is None
                detail = f"lag {lag.lag}" + (f"; stopped: {failure}" if failure else "")
                checks.append(Check(name=f"projection:{lag.name}", ok=ok, detail=detail))
        ok = all(c.ok for c in checks)
        return Response(Health(ok=ok, checks=checks), status_code=200 if ok else 503)


@get(
    "/metrics",
    exclude_from_auth=True,
    include_in_schema=False,
    sync_to_thread=True,
    opt={"rate": None},
)
def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus figures: the request figures (correlation_middleware) and each projection's lag."""
    runtime: Runtime = request.app.state.runtime
    for lag in runtime.reads.lag(runtime.head()):
        PROJECTION_LAG.labels(lag.name).set(lag.lag)
    return Response(generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})
