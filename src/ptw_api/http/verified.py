"""Tokens already verified, so that a client's every request does not pay for its authentication again (SEC-01).

A bearer token is sent unchanged with each request; checking its signature, decoding its claims and making the
principal again each time cost a large part of a small request. What a token authenticated as is kept, by the
token's exact text, for at most a minute (so a key withdrawn from the JWKS stops being honoured within a minute)
and never past its `exp` with the SEC-01 leeway. `nbf` and `iat` were checked at the first sight and only
become truer with time.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Generic, TypeVar

KEPT_SECONDS = 60.0
KEPT_TOKENS = 4096

T = TypeVar("T")


class VerifiedTokens(Generic[T]):
    def __init__(self, *, kept_seconds: float = KEPT_SECONDS, capacity: int = KEPT_TOKENS) -> None:
        self.kept_seconds = kept_seconds
        self.capacity = capacity
        self._tokens: OrderedDict[str, tuple[float, float, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str, leeway: float, *, now: float | None = None) -> T | None:
        """What `token` was verified as, or None when it must be verified (again)."""
        now = time.time() if now is None else now
        with self._lock:
            found = self._tokens.get(token)
            if found is None:
                return None
            kept_until, expires, verified = found
            if now >= kept_until or now >= expires + leeway:
                del self._tokens[token]
                return None
            return verified

    def keep(self, token: str, verified: T, expires: float | None, *, now: float | None = None) -> None:
        """Remember what a token was just verified as (immutable: every request gets the same); a token without
        an expiry is not kept."""
        if expires is None:
            return
        now = time.time() if now is None else now
        with self._lock:
            self._tokens[token] = (now + self.kept_seconds, expires, verified)
            while len(self._tokens) > self.capacity:
                self._tokens.popitem(last=False)
