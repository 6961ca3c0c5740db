"""The Litestar application factory: `create_app(settings)` builds the whole API from settings.

Long-lived objects (the PermitService, the read side and, on the embedded default, the projection followers)
are made in the lifespan and closed with it; handlers that touch the database run in Litestar's thread pool,
but for the reads of one permit (detail, readiness) that have no write to wait for, which the event loop answers
itself (ADR 0016).
"""

from __future__ import annotations

import faulthandler
import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from litestar import Litestar, Router
from litestar.config.app import AppConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, ScalarRenderPlugin, SwaggerRenderPlugin

from ptw_api.http.auth import jwt_auth
from ptw_api.http.command_routes import command_handlers
from ptw_api.http.observability import HealthController, correlation_middleware, metrics
from ptw_api.http.openapi import ClosedStructSchemaPlugin
from ptw_api.http.permissions import project_member
from ptw_api.http.problems import exception_handlers, problem_details_plugin
from ptw_api.http.query_routes import query_handlers
from ptw_api.http.rate_limits import RATE_LIMITS, rate_limit_middleware, rate_limit_store
from ptw_api.http.runtime import Runtime
from ptw_api.http.settings import ApiSettings
from ptw_api.http.sync_routes import sync_handlers
from ptw_domain.clock import Clock

API_VERSION = "1.0.0"
# Seconds a thread holds the GIL while another waits for it (Python's default: 0.005). The reads of one permit are
# answered in the event loop (ADR 0016) while a list or KPI query may be running in a pool thread; a request
# arriving then could wait the whole default interval for the loop to get the GIL back (ADR 0016, late update).
# Set for the process while the app is served.
GIL_SWITCH_INTERVAL = 0.001
BODY_LIMIT = 1024 * 1024  # SEC-11


def create_app(settings: ApiSettings | None = None, *, clock: Clock | None = None) -> Litestar:
    settings = settings or ApiSettings.from_env()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # a crash in native code (a driver, the JSON library) leaves every thread's Python stack in the log
        with suppress(
            AttributeError, ValueError, OSError
        ):  # no stderr with a file behind it: nowhere to write
            faulthandler.enable()
        runtime = Runtime(settings, clock=clock)
        app.state.runtime = runtime
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        _freeze_what_lives_for_the_process()
        try:
            yield
        finally:
            gc.unfreeze()
            sys.setswitchinterval(switch_interval)
            if runtime.group is not None:
                await runtime.group.close()
            runtime.close()

    auth = jwt_auth(settings, exclude=["^/schema", "^/health", "^/metrics"])
    api = Router(
        "/api/v1",
        route_handlers=[*command_handlers(), *query_handlers(), *sync_handlers()],
        guards=[project_member],
    )
    return Litestar(
        route_handlers=[api, HealthController, metrics],
        lifespan=[lifespan],
        on_app_init=[auth.on_app_init, _correlation_first],
        plugins=[problem_details_plugin(), ClosedStructSchemaPlugin()],
        exception_handlers=exception_handlers(),  # type: ignore[arg-type]
        middleware=[
            rate_limit_middleware(category, limit)
            for category, limit in RATE_LIMITS
            if settings.rate_limits_enabled
        ],
        stores={"rate_limit": rate_limit_store(settings)},
        request_max_body_size=BODY_LIMIT,
        openapi_config=OpenAPIConfig(
            title="ptw — Permit-to-Work API",
            version=API_VERSION,
            description="Commands and queries of the ptw permit-to-work engine. Every error is an RFC 9457 "
            "problem (application/problem+json) naming the rule IDs that refused the request.",
            path="/schema",
            # without a UI only the JSON document is served (an empty list would give Litestar's default UIs)
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")]
            if settings.openapi_ui
            else [JsonRenderPlugin()],
        ),
    )


def _freeze_what_lives_for_the_process() -> None:
    """Move everything made so far (modules, classes, the app, the runtime: about 150,000 objects) out of the
    cycle collector's reach (`gc.freeze`). Left in, every full collection walked them all, 130-160 ms on a slow
    machine, in the event loop, holding up every request in flight (ADR 0016, GC update); collections now walk
    only what requests made since. Reference counting still frees frozen objects; the app's shutdown unfreezes
    them, so a process that serves one app after another (the tests) leaks no reference cycle of an old app. No
    collection first: it would cost every start that same walk, and what garbage the start left is given back
    at shutdown."""
    gc.freeze()


def _correlation_first(config: AppConfig) -> AppConfig:
    """The correlation id and request log wrap everything, authentication included, so that a 401 is logged
    and answered with its correlation id too (SEC-13)."""
    config.middleware.insert(0, correlation_middleware)
    return config


__all__ = ["create_app"]
