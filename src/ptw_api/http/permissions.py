"""SEC-04 as Litestar guards: membership of the path's project for every project route, and the read
permissions the domain does not see (audit trail, chain verification, reports). Command permissions — roles,
parties (SEC-05), authority levels — are the domain's, one place for the API and for embedders."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar.connection import ASGIConnection
from litestar.handlers import HTTPRouteHandler
from litestar.handlers.base import BaseRouteHandler

from ptw_domain.errors import Forbidden
from ptw_domain.roles import ActorKind, Role

AUDIT_READERS = frozenset({Role.AREA_AUTHORITY, Role.SAFETY_OFFICER, Role.PROJECT_ADMIN, Role.AUDITOR})
REPORT_READERS = frozenset(
    {Role.APPROVER, Role.AREA_AUTHORITY, Role.SAFETY_OFFICER, Role.PROJECT_ADMIN, Role.AUDITOR}
)


READ_SCOPE, WRITE_SCOPE = "ptw:read", "ptw:write"


class GuardedRoute(HTTPRouteHandler):
    """Litestar's HTTP route handler, but its guards are given the handler itself: Litestar gives each guard a
    copy of it (`copy(self)`, so that a guard cannot change the route), which cost a command about 3 % of its
    API time; `project_member` only reads the handler's `opt` (ADR 0016)."""

    async def authorize_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> None:
        for guard in self.resolve_guards():
            await guard(connection, self)  # type: ignore[misc]


async def project_member(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """TEN-02/SEC-03: the caller must be a member of the path's project (else 404, as if it did not exist);
    a route that names `roles` needs one of them (else 403); a service principal needs the scope of the act,
    `ptw:read` for reads and `ptw:write` for commands (SEC-02). A coroutine although it awaits nothing: it reads
    only the token's claims, and Litestar runs a plain-function guard in its thread pool, a hand-off there and
    back on every request (ADR 0016)."""
    principal = connection.user
    if principal.kind is ActorKind.SERVICE:
        needed = READ_SCOPE if connection.scope.get("method") in ("GET", "HEAD") else WRITE_SCOPE
        if needed not in principal.scopes:
            raise Forbidden(f"the client credentials lack the scope {needed}", rule_ids=("SEC-02",))
    project_id = connection.path_params.get("project_id")
    if not isinstance(project_id, UUID):
        return
    actor = principal.actor_in(project_id)
    roles = handler.opt.get("roles")
    if roles and not roles & actor.member.roles:
        raise Forbidden(
            "this read needs one of the roles " + ", ".join(sorted(roles)),
            rule_ids=("SEC-04",),
        )
