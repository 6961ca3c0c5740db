"""Tokens already verified, so that a client's every request does not pay the signature check again (SEC-01).

A bearer token is sent unchanged with each request; checking its signature and decoding its claims again each
time cost a large part of a small read. A token whose signature, issuer and audience were checked is kept,
by its exact text, for at most a minute (so a key withdrawn from the JWKS stops being honoured within a
minute) and never past its `exp` with the SEC-01 leeway. `nbf` and `iat` were checked at the first sight and
only become truer with time.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

KEPT_SECONDS = 60.0
KEPT_TOKENS = 4096


class VerifiedTokens:
    def __init__(self, *, kept_seconds: float = KEPT_SECONDS, capacity: int = KEPT_TOKENS) -> None:
        self.kept_seconds = kept_seconds
        self.capacity = capacity
        self._tokens: OrderedDict[str, tuple[float, float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def payload(self, token: str, leeway: float, *, now: float | None = None) -> dict[str, Any] | None:
        """A copy of the verified payload of `token`, or None when it must be verified (again)."""
        now = time.time() if now is None else now
        with self._lock:
            found = self._tokens.get(token)
            if found is None:
                return None
            kept_until, expires, payload = found
            if now >= kept_until or now >= expires + leeway:
                del self._tokens[token]
                return None
            return dict(payload)

    def keep(self, token: str, payload: dict[str, Any], *, now: float | None = None) -> None:
        """Remember a payload just verified; a token without a numeric `exp` is not kept."""
        expires = payload.get("exp")
        if not isinstance(expires, int | float):
            return
        now = time.time() if now is None else now
        with self._lock:
            self._tokens[token] = (now + self.kept_seconds, float(expires), dict(payload))
            while len(self._tokens) > self.capacity:
                self._tokens.popitem(last=False)
