"""Typed refusals. Every error names its problem code and the rule IDs that refused the command.

The codes and HTTP statuses follow SEC-07 so the API can turn any of these into an RFC 9457 problem without
knowing the domain; the library's embedders catch `DomainError` and read the same fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ptw_domain.findings import Finding


class DomainError(Exception):
    """Base of every refusal: nothing was recorded for the refused command."""

    code: ClassVar[str] = "domain_error"
    status: ClassVar[int] = 409

    def __init__(
        self,
        message: str,
        *,
        rule_ids: Sequence[str] = (),
        facts: dict[str, Any] | None = None,
        blockers: Sequence[Finding] = (),
        current_status: str | None = None,
        current_version: int | None = None,
        allowed_commands: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.rule_ids = tuple(rule_ids) or tuple(dict.fromkeys(b.rule for b in blockers))
        self.facts = dict(facts or {})
        self.blockers = tuple(blockers)
        self.current_status = current_status
        self.current_version = current_version
        self.allowed_commands = tuple(allowed_commands)

    def __str__(self) -> str:
        rules = ", ".join(self.rule_ids)
        return f"{self.code} [{rules}]: {self.message}" if rules else f"{self.code}: {self.message}"


class NotFound(DomainError):
    """Unknown, or not visible from the caller's project (TEN-02): the two are indistinguishable."""

    code = "not_found"
    status = 404


class Forbidden(DomainError):
    """The actor lacks the role or the party position for the command (SEC-03, SEC-05)."""

    code = "forbidden"
    status = 403


class InvalidTransition(DomainError):
    """The command is not allowed from the permit's current status (LIFE-02)."""

    code = "invalid_transition"


class GuardFailed(DomainError):
    """Readiness says not allowed; `blockers` lists every failing guard in order (RDY-04)."""

    code = "guard_failed"


class AlreadyApproved(DomainError):
    """First approver wins (LIFE-11)."""

    code = "already_approved"


class StaleView(DomainError):
    """The signer reviewed a different core hash than the current one (SIG-05)."""

    code = "stale_view"


class StaleVersion(DomainError):
    """The expected stream version differs from the stored one (SEC-10)."""

    code = "stale_version"
    status = 412


class ReauthenticationRequired(DomainError):
    """Signing evidence is missing or older than the allowed age (SIG-04)."""

    code = "reauthentication_required"
    status = 401


class ValidationFailed(DomainError):
    """Malformed or missing fields, out-of-range values, fact times in the future (SEC-12, TIME-02)."""

    code = "validation_failed"
    status = 422


class IdempotencyKeyReused(DomainError):
    """The same idempotency key was used for a different command (SEC-09)."""

    code = "idempotency_key_reused"
    status = 422


class WriteConflict(DomainError):
    """Concurrent writers kept winning; the command was retried and gave up. Nothing was recorded."""

    code = "write_conflict"
