"""The OpenAPI document's shared parts: the problem responses every operation may give (SEC-07)."""

from __future__ import annotations

from litestar.openapi import ResponseSpec

from ptw_api.http.problems import Problem

_MEDIA = "application/problem+json"


def _spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, description=description, media_type=_MEDIA)


PROBLEM_RESPONSES: dict[int, ResponseSpec] = {
    400: _spec("Malformed request (unreadable JSON)"),
    401: _spec("Missing, invalid or expired token; or signing needs fresh re-authentication (SIG-04)"),
    403: _spec("The role or party position does not allow this (SEC-04, SEC-05)"),
    404: _spec("Unknown, or not visible from this project (TEN-02)"),
    409: _spec("Refused by a lifecycle rule or guard; `rule_ids` and `blockers` say which (RDY-04)"),
    412: _spec("If-Match names another version (SEC-10)"),
    413: _spec("Body over the limit (SEC-11)"),
    422: _spec("Invalid field, unknown or derived field, wrong type, bad parameter (SEC-12)"),
    429: _spec("Rate limited (SEC-06); see Retry-After"),
}
QUERY_RESPONSES: dict[int, ResponseSpec] = {
    k: v for k, v in PROBLEM_RESPONSES.items() if k in (401, 403, 404, 422, 429)
} | {503: _spec("The read models did not reach the caller's last write in time (RM-08); see Retry-After")}
