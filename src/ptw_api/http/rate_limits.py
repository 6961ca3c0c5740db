"""Rate limits per user (SEC-06) on Litestar's rate-limit middleware, and where their counts are kept.

Counts are kept in the process by default. Behind a load balancer they go to a shared Redis, so that a limit
holds per user and not per process; while Redis does not answer they fall back to the process's memory
(`SharedCounts`): an outage of the counter store must neither stop the API (a worker must still be able to
stop work, a failed gas test still suspends the permit) nor lift the limits (ADR 0012, rate limits).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

from litestar import Request
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore

from ptw_api.http.settings import ApiSettings

# SEC-06, per user and minute: (category, requests). Bulk exports join with their issue.
RATE_LIMITS = (("read", 600), ("write", 120), ("kpis", 120), ("sync", 60))
STORE_TIMEOUT_SECONDS = 0.5  # a request waits at most this long for the shared store before counting locally
RETRY_SHARED_AFTER_SECONDS = (
    5.0  # after a failure, how long counts stay local before the shared store is tried
)

log = logging.getLogger("ptw.api.rate_limits")
T = TypeVar("T")


def rate_limit_middleware(category: str, per_minute: int) -> DefineMiddleware:
    """One limiter per category, keyed by the caller (the token's subject, known once authenticated)."""

    def caller(request: Request[Any, Any, Any]) -> str:
        user = request.scope.get("user")
        address = request.client.host if request.client else "-"  # the subject first, always (per user)
        return f"{category}:{getattr(user, 'sub', None) or address}"

    def applies(request: Request[Any, Any, Any]) -> bool:
        return bool(request.route_handler.opt.get("rate") == category)

    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        identifier_for_request=caller,
        check_throttle_handler=applies,
        exclude=["^/schema", "^/health", "^/metrics"],
    ).middleware


def rate_limit_store(settings: ApiSettings) -> Store:
    """The process's memory, or Redis shared by every API process (with the process's memory to fall back on)."""
    if not settings.rate_limit_store.startswith("redis://"):
        return MemoryStore()
    from litestar.stores.redis import RedisStore
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(
        settings.rate_limit_store,
        socket_connect_timeout=STORE_TIMEOUT_SECONDS,
        socket_timeout=STORE_TIMEOUT_SECONDS,
    )
    shared = RedisStore(client, namespace=settings.rate_limit_namespace, handle_client_shutdown=True)
    return SharedCounts(shared, failures=(RedisError, OSError))


class SharedCounts(Store):
    """A shared store that falls back to this process's memory while it fails, and is tried again
    `RETRY_SHARED_AFTER_SECONDS` after a failure: while it fails, a limit holds per process, as it does when
    one process serves."""

    def __init__(
        self,
        shared: Store,
        *,
        failures: tuple[type[BaseException], ...],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shared = shared
        self.local = MemoryStore()
        self.failures = failures
        self.monotonic = monotonic
        self.failing_since: datetime | None = None  # wall time, for the readiness probe's detail
        self.failure = ""
        self._retry_at = 0.0

    def state(self) -> str:
        """For the readiness probe: where the counts go now."""
        if self.failing_since is None:
            return "shared"
        return f"in this process since {self.failing_since.isoformat(timespec='seconds')} ({self.failure})"

    async def _either(self, shared: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]) -> T:
        if self.monotonic() >= self._retry_at:
            try:
                result = await shared()
            except self.failures as error:
                self._retry_at = self.monotonic() + RETRY_SHARED_AFTER_SECONDS
                if self.failing_since is None:
                    self.failing_since = datetime.now().astimezone()
                    self.failure = type(error).__name__
                    log.warning("rate-limit store unreachable (%s): counting in this process", self.failure)
            else:
                if self.failing_since is not None:
                    log.warning("rate-limit store answers again: counting there")
                    self.failing_since = None
                return result
        return await local()

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        await self._either(
            lambda: self.shared.set(key, value, expires_in), lambda: self.local.set(key, value, expires_in)
        )

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        return await self._either(
            lambda: self.shared.get(key, renew_for), lambda: self.local.get(key, renew_for)
        )

    async def delete(self, key: str) -> None:
        await self._either(lambda: self.shared.delete(key), lambda: self.local.delete(key))

    async def delete_all(self) -> None:
        await self._either(self.shared.delete_all, self.local.delete_all)

    async def exists(self, key: str) -> bool:
        return await self._either(lambda: self.shared.exists(key), lambda: self.local.exists(key))

    async def expires_in(self, key: str) -> int | None:
        return await self._either(lambda: self.shared.expires_in(key), lambda: self.local.expires_in(key))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.shared.__aexit__(exc_type, exc_val, exc_tb)  # the app's lifespan closes the Redis client
