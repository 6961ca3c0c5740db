"""A finding is one evaluated rule: why an action is blocked, or what to watch (RDY-02)."""

from __future__ import annotations

from typing import Any

import msgspec


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """A blocker or warning: the rule that fired, a stable code, a sentence and the facts used (RDY-03)."""

    rule: str
    code: str
    message: str
    facts: dict[str, Any] = msgspec.field(default_factory=dict)


def found(rule: str, code: str, message: str, facts: dict[str, Any] | None = None) -> list[Finding]:
    """A guard's result when its one rule fires: a list of that single finding, as readiness collects them."""
    return [Finding(rule=rule, code=code, message=message, facts=facts or {})]
