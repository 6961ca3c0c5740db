"""Bearer JWT authentication (SEC-01) with Litestar's JWT support, and the actor a request acts as.

The token says who the caller is and, per project, which roles, authority level and company they hold
(ROLE-08). A request acts inside the project named by its path: the caller's membership of that project becomes
the command's `Actor`; a project missing from the token reads as a project that does not exist (SEC-03, TEN-02).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt
import msgspec
from litestar.connection import ASGIConnection
from litestar.security.jwt import JWTAuth, Token

from ptw_api.http.settings import ApiSettings
from ptw_domain.errors import NotFound
from ptw_domain.roles import Actor, ActorKind, CompanyKind, Member, Role

LEEWAY_SECONDS = 60  # SEC-01: exp and nbf are checked with this leeway


class ProjectGrant(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The caller's membership of one project, as the identity provider states it (ROLE-02, ROLE-03)."""

    roles: frozenset[Role]
    authority_level: int = 1
    company_id: str = ""
    company_kind: CompanyKind = CompanyKind.CONTRACTOR


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated caller, built from the token's claims (SEC-01)."""

    sub: str
    name: str = ""
    org: UUID | None = None
    auth_time: datetime | None = None
    amr: tuple[str, ...] = ()
    org_admin: bool = False
    kind: ActorKind = ActorKind.USER
    scopes: tuple[str, ...] = ()  # SEC-02: an integration principal's explicit scopes
    projects: dict[UUID, ProjectGrant] = msgspec.field(default_factory=dict)

    def actor_in(self, project_id: UUID) -> Actor:
        """The actor for a request inside `project_id`; not a member -> the project does not exist (TEN-02)."""
        grant = self.projects.get(project_id)
        if grant is None:
            raise NotFound("no such project", facts={"project_id": str(project_id)})
        return Actor(
            member=Member(
                person_id=self.sub,
                name=self.name,
                roles=grant.roles,
                authority_level=grant.authority_level,
                company_id=grant.company_id,
                company_kind=grant.company_kind,
            ),
            kind=self.kind,
            auth_time=self.auth_time,
            auth_method=",".join(self.amr) or "token",
            org_admin=self.org_admin,
        )

    def organisation_actor(self) -> Actor:
        """The actor for organisation-level settings (templates, role policy, gas profiles): no project roles,
        only the `org_admin` claim counts (SEC-04)."""
        return Actor(
            member=Member(person_id=self.sub, name=self.name),
            kind=self.kind,
            auth_time=self.auth_time,
            auth_method=",".join(self.amr) or "token",
            org_admin=self.org_admin,
        )


class PtwToken(Token):
    """Litestar's token, decoded with the SEC-01 leeway on `exp` and `nbf`."""

    @classmethod
    def decode_payload(
        cls,
        encoded_token: str,
        secret: str,
        algorithms: list[str],
        issuer: str | Sequence[str] | None = None,
        audience: str | Sequence[str] | None = None,
        options: Any = None,
    ) -> Any:
        return jwt.decode(
            jwt=encoded_token,
            key=secret,
            algorithms=algorithms,
            issuer=issuer,
            audience=audience,
            options=options,
            leeway=LEEWAY_SECONDS,
        )


def principal_of(token: Token) -> Principal:
    """The caller from a decoded token; malformed claims are an invalid token (401), never a 500."""
    claims = dict(token.extras)
    claims["sub"] = token.sub
    if isinstance(claims.get("auth_time"), int | float):
        claims["auth_time"] = datetime.fromtimestamp(claims["auth_time"], tz=UTC)
    if isinstance(claims.get("scope"), str):
        claims["scopes"] = tuple(claims.pop("scope").split())
    known = {f.name for f in msgspec.structs.fields(Principal)}
    return msgspec.convert({k: v for k, v in claims.items() if k in known}, Principal, strict=False)


async def retrieve_principal(
    token: Token, _connection: ASGIConnection[Any, Any, Any, Any]
) -> Principal | None:
    try:
        return principal_of(token)
    except msgspec.ValidationError:
        return None  # Litestar answers 401


def jwt_auth(settings: ApiSettings, *, exclude: list[str]) -> JWTAuth[Principal, PtwToken]:
    return JWTAuth[Principal, PtwToken](
        token_secret=settings.jwt_secret,
        algorithm=settings.jwt_algorithm,
        retrieve_user_handler=retrieve_principal,
        token_cls=PtwToken,
        accepted_issuers=[settings.jwt_issuer],
        accepted_audiences=[settings.jwt_audience],
        require_claims=["exp", "sub", "iss", "aud"],
        exclude=exclude,
        description="Bearer JWT (SEC-01): sub, name, org, auth_time, amr, org_admin and a `projects` map "
        "{project_id: {roles, authority_level, company_id, company_kind}}.",
    )


def mint_token(
    settings: ApiSettings,
    *,
    subject: str,
    projects: dict[UUID, ProjectGrant],
    name: str = "",
    organisation: UUID | None = None,
    org_admin: bool = False,
    kind: ActorKind = ActorKind.USER,
    lifetime: timedelta = timedelta(hours=8),
    now: datetime | None = None,
) -> str:
    """A signed token with the claims of SEC-01 (`ptw token` and the tests use it; production tokens come from
    the identity provider)."""
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "name": name,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int((issued + lifetime).timestamp()),
        "auth_time": int(issued.timestamp()),
        "amr": ["pwd"],
        "org_admin": org_admin,
        "kind": kind.value,
        "projects": msgspec.to_builtins({str(k): v for k, v in projects.items()}),
    }
    if organisation is not None:
        claims["org"] = str(organisation)
    return jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)
