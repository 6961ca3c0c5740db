"""RFC 9457 problem details (SEC-07) through Litestar's problem-details plugin.

Every refusal leaves as `application/problem+json` with `type` `urn:ptw:problem:<code>`, the rule IDs that
refused it and, for a domain refusal, its blockers. Domain errors already carry their code and HTTP status
(`ptw_domain.errors`), so this module only translates; a read-side error names the query parameter.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
import psycopg
import sqlalchemy.exc
from eventsourcing import persistence
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)
from litestar.types import ExceptionHandler

from ptw_domain.errors import DomainError
from ptw_projections.errors import InvalidQuery, NotCaughtUp, database_unavailable
from ptw_projections.errors import NotFound as ReadNotFound

log = logging.getLogger("ptw.api")
UNAVAILABLE_RETRY_AFTER = 5  # seconds: about what a restart or a failover of PostgreSQL takes

TITLES = {
    "bad_request": "The request could not be read",
    "unauthenticated": "A valid bearer token is needed",
    "reauthentication_required": "Signing needs fresh re-authentication",
    "forbidden": "Not allowed for this role or party",
    "not_found": "Not found",
    "method_not_allowed": "Method not allowed",
    "invalid_transition": "Not allowed from the current status",
    "guard_failed": "A safety or workflow guard refused the command",
    "already_approved": "The permit was already approved",
    "stale_view": "The signed view is out of date",
    "write_conflict": "Concurrent writers kept winning",
    "stale_version": "The object changed since the version given in If-Match",
    "payload_too_large": "The request body is too large",
    "validation_failed": "The request is not valid",
    "idempotency_key_reused": "The idempotency key was used for a different request",
    "rate_limited": "Too many requests",
    "not_caught_up": "The read models have not reached your last write yet",
    "unavailable": "The database did not answer",
    "internal_error": "Internal error",
}
_CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "guard_failed",
    412: "stale_version",
    413: "payload_too_large",
    422: "validation_failed",
    429: "rate_limited",
    503: "not_caught_up",
}


class Blocker(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    code: str
    message: str
    facts: dict[str, Any] = msgspec.field(default_factory=dict)


class Problem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The body of every error response (RFC 9457 plus the SEC-07 members)."""

    type: str
    title: str
    status: int
    detail: str = ""
    instance: str = ""
    code: str
    rule_ids: tuple[str, ...] = ()
    blockers: tuple[Blocker, ...] = ()
    fields: tuple[str, ...] = ()
    current_status: str | None = None
    current_version: int | None = None
    allowed_commands: tuple[str, ...] = ()
    correlation_id: str = ""


def problem(
    code: str,
    status: int,
    detail: str,
    *,
    rule_ids: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
    **members: Any,
) -> ProblemDetailsException:
    extra = {"code": code, "rule_ids": list(rule_ids), **{k: v for k, v in members.items() if v}}
    return ProblemDetailsException(
        detail=detail,
        status_code=status,
        type_=f"urn:ptw:problem:{code}",
        title=TITLES.get(code, code.replace("_", " ")),
        extra=extra,
        headers=headers,
    )


def from_domain_error(error: DomainError) -> ProblemDetailsException:
    """A typed refusal as a problem. `not_found` keeps only the payload field it names, so an object of another
    project answers exactly like a missing one (TEN-02, TEN-03)."""
    if error.code == "not_found":
        field = error.facts.get("field")
        return problem("not_found", 404, error.message, fields=(field,) if field else ())
    return problem(
        error.code,
        error.status,
        error.message,
        rule_ids=error.rule_ids,
        blockers=[msgspec.to_builtins(b) for b in error.blockers],
        fields=(error.facts["field"],) if "field" in error.facts else (),
        current_status=error.current_status,
        current_version=error.current_version,
        allowed_commands=list(error.allowed_commands),
        facts={k: v for k, v in error.facts.items() if k != "field"},
    )


def from_invalid_query(error: InvalidQuery) -> ProblemDetailsException:
    return problem("validation_failed", 422, str(error), rule_ids=("SEC-12",), fields=(error.parameter,))


def from_read_not_found(error: ReadNotFound) -> ProblemDetailsException:
    return problem("not_found", 404, f"no such {error.kind}")


def from_not_caught_up(error: NotCaughtUp) -> ProblemDetailsException:
    return problem("not_caught_up", 503, str(error), rule_ids=("RM-08",), headers={"Retry-After": "1"})


def from_http_exception(error: HTTPException) -> ProblemDetailsException:
    """Litestar's own refusals (routing, auth, decoding, limits) in the same shape."""
    if isinstance(error, ProblemDetailsException):
        return error
    status = error.status_code
    code = _CODE_BY_STATUS.get(status, "internal_error" if status >= 500 else "bad_request")
    detail = error.detail
    fields: list[str] = []
    if isinstance(error, ValidationException):
        code, status = "validation_failed", 422
        messages = []
        for item in error.extra if isinstance(error.extra, list) else []:
            if isinstance(item, dict):
                message = str(item.get("message", ""))
                messages.append(message)
                fields.append(_field_of(message, str(item.get("key", ""))))
        if messages:
            detail = "; ".join(f"{f}: {m}" for f, m in zip(fields, messages, strict=True))
        if _is_malformed(detail):
            code, status = "bad_request", 400
    if isinstance(error, NotAuthorizedException):
        detail = "a valid bearer token is needed"
    rule_ids = {
        "validation_failed": ("SEC-12",),
        "rate_limited": ("SEC-06",),
        "payload_too_large": ("SEC-11",),
    }
    headers = dict(error.headers or {})
    if code == "rate_limited":  # SEC-06: Retry-After, the seconds until the window frees a request
        headers["Retry-After"] = str(headers.get("RateLimit-Reset", 60))
    return problem(
        code, status, detail, rule_ids=rule_ids.get(code, ()), headers=headers or None, fields=tuple(fields)
    )


_UNKNOWN = re.compile(r"unknown field `([^`]+)`")
_AT = re.compile(r"at `\$\.([^`]+)`")


def _field_of(message: str, key: str) -> str:
    """The field a decoding error names: `content.planned_start` rather than Litestar's `data`."""
    unknown, at = _UNKNOWN.search(message), _AT.search(message)
    where = at.group(1) if at else (key if key != "data" else "")  # Litestar's key is the path in the body
    if unknown:  # an unknown field inside an object names its path: `content.colour`
        return f"{where}.{unknown.group(1)}" if where else unknown.group(1)
    return where or key


def _is_malformed(detail: str) -> bool:
    return "malformed" in detail.lower() or "json is malformed" in detail.lower()


def _respond(request: Request[Any, Any, Any], error: ProblemDetailsException) -> Response[Any]:
    """The plugin's response, completed with `instance` and the correlation id (SEC-07, SEC-13)."""
    error.instance = request.url.path
    state = request.scope.setdefault("state", {})
    # a request refused before any middleware ran (no route, wrong method) still gets an id (SEC-07)
    correlation = state.setdefault("correlation_id", uuid.uuid4().hex)
    if isinstance(error.extra, dict):
        error.extra.setdefault("correlation_id", correlation)
    response = error.to_response(request)
    if correlation:  # also on refusals answered outside the correlation middleware (401, 429)
        response.headers["X-Correlation-ID"] = correlation
    return response


def _database_error(error: Exception) -> ProblemDetailsException:
    return _unavailable(error) if database_unavailable(error) else _internal(error)


def _unavailable(error: Exception) -> ProblemDetailsException:
    """The store or the read database is gone or overloaded (a restart, a failover, no free connection): the
    client should come back, not report a bug. A command cut off while committing may have been recorded; its
    retry with the same Idempotency-Key is recorded at most once (SEC-09)."""
    log.warning("the database did not answer: %s: %s", type(error).__name__, error)
    return problem(
        "unavailable",
        503,
        "the event store or the read database did not answer; try again shortly (a command with the same "
        "Idempotency-Key is recorded at most once)",
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
    )


def _internal(error: Exception) -> ProblemDetailsException:
    log.exception("unhandled error", exc_info=error)
    return problem("internal_error", 500, "an unexpected error; nothing was recorded by this request")


_CONVERSIONS: dict[type[Exception], Callable[[Any], ProblemDetailsException]] = {
    DomainError: from_domain_error,
    InvalidQuery: from_invalid_query,
    ReadNotFound: from_read_not_found,
    NotCaughtUp: from_not_caught_up,
    HTTPException: from_http_exception,
    # the database unreachable, a connection lost or none free in time, a lock not granted in time: 503
    persistence.PersistenceError: _database_error,
    sqlalchemy.exc.SQLAlchemyError: _database_error,
    psycopg.Error: _database_error,
    Exception: _internal,
}


def _handler(convert: Callable[[Any], ProblemDetailsException]) -> ExceptionHandler[Exception]:
    def handle(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
        return _respond(request, convert(error))

    return handle


def exception_handlers() -> dict[type[Exception], ExceptionHandler[Exception]]:
    """Every error type the API can meet, each turned into a problem with `instance` and correlation id."""
    return {kind: _handler(convert) for kind, convert in _CONVERSIONS.items()}


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(ProblemDetailsConfig(exception_handler=_respond))
