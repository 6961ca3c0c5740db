"""Bearer JWT authentication (SEC-01) with Litestar's JWT support, and the actor a request acts as.

The token says who the caller is and, per project, which roles, authority level and company they hold
(ROLE-08). A request acts inside the project named by its path: the caller's membership of that project becomes
the command's `Actor`; a project missing from the token reads as a project that does not exist (SEC-03, TEN-02).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

import jwt
import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import ImproperlyConfiguredException, NotAuthorizedException
from litestar.middleware import AuthenticationResult
from litestar.openapi.spec import Components, SecurityScheme
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token

from ptw_api.http.keys import HMAC_ALGORITHMS, SigningKey, VerificationKeys
from ptw_api.http.settings import ApiSettings
from ptw_api.http.verified import VerifiedTokens
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
    """Litestar's token, decoded with the configured keys and algorithms (Litestar passes one secret and one
    algorithm), the SEC-01 leeway on `exp` and `nbf`, and the configured claim names read as ours.
    `jwt_auth` makes one subclass per app with its `keys` and `claim_names`."""

    keys: ClassVar[VerificationKeys]
    claim_names: ClassVar[dict[str, str]]
    verified: ClassVar[VerifiedTokens[AuthenticationResult]]  # what BearerMiddleware authenticated tokens as

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
        payload = cls.keys.decode(
            encoded_token, issuer=issuer, audience=audience, options=options, leeway=LEEWAY_SECONDS
        )
        return renamed_claims(payload, cls.claim_names)

    def __post_init__(self) -> None:
        """Litestar re-checks `exp` and `iat` here against its own clock without any leeway, which refused a
        token within SEC-01's leeway; PyJWT has checked them, with the leeway, in `decode_payload`."""
        if not self.sub:
            raise ImproperlyConfiguredException("sub must be a string with a length greater than 0")


def renamed_claims(payload: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """The payload with each configured claim under our name; a claim spelled with our name where the
    deployment names it otherwise is dropped, so that it cannot stand in for the identity provider's."""
    moved = {field: payload.pop(name) for field, name in names.items() if name in payload}
    for field in names:
        payload.pop(field, None)
    return payload | moved


def principal_of(token: Token) -> Principal:
    """The caller from a decoded token; malformed claims are an invalid token (401), never a 500."""
    claims = dict(token.extras)
    claims["sub"] = token.sub
    if isinstance(claims.get("auth_time"), int | float):
        claims["auth_time"] = datetime.fromtimestamp(claims["auth_time"], tz=UTC)
    if isinstance(claims.get("scope"), str):
        claims["scopes"] = tuple(claims.pop("scope").split())
    known = Principal.__struct_fields__  # not structs.fields(): that re-resolves annotations per call
    return msgspec.convert({k: v for k, v in claims.items() if k in known}, Principal, strict=False)


async def retrieve_principal(
    token: Token, _connection: ASGIConnection[Any, Any, Any, Any]
) -> Principal | None:
    try:
        return principal_of(token)
    except msgspec.ValidationError:
        return None  # Litestar answers 401


class BearerMiddleware(JWTAuthenticationMiddleware):
    """SEC-01: the token comes as `Authorization: Bearer <jwt>`; Litestar takes whatever follows any scheme
    (`Basic <jwt>` was accepted)."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        scheme, _, token = connection.headers.get(self.auth_header, "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("a bearer token is needed")
        return await self.authenticate_token(encoded_token=token.strip(), connection=connection)

    async def authenticate_token(
        self, encoded_token: str, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        """Litestar's authentication, once per token while it is kept (verified.py)."""
        verified: VerifiedTokens[AuthenticationResult] = self.token_cls.verified  # type: ignore[attr-defined]
        kept = verified.get(encoded_token, LEEWAY_SECONDS)
        if kept is not None:
            return kept
        result = await super().authenticate_token(encoded_token=encoded_token, connection=connection)
        verified.keep(encoded_token, result, result.auth.exp.timestamp())
        return result


class BearerJWTAuth(JWTAuth[Principal, PtwToken]):
    """Litestar's JWT auth, documented as OpenAPI 3.1 allows: an `http` bearer scheme has no `name` (Litestar
    adds one, which makes the document invalid)."""

    @property
    def openapi_components(self) -> Components:
        scheme = SecurityScheme(
            type="http", scheme="Bearer", bearer_format="JWT", description=self.description
        )
        return Components(security_schemes={self.openapi_security_scheme_name: scheme})


def jwt_auth(settings: ApiSettings, *, exclude: list[str]) -> JWTAuth[Principal, PtwToken]:
    configured_keys = VerificationKeys.from_settings(settings)
    configured_names = settings.claim_names()

    class ConfiguredToken(PtwToken):
        keys = configured_keys
        claim_names = configured_names
        verified = VerifiedTokens[AuthenticationResult]()

    return BearerJWTAuth(
        token_secret=settings.jwt_secret,  # unused: ConfiguredToken decodes with `keys`
        algorithm=configured_keys.algorithms[0],
        retrieve_user_handler=retrieve_principal,
        token_cls=ConfiguredToken,
        accepted_issuers=[settings.jwt_issuer],
        accepted_audiences=[settings.jwt_audience],
        require_claims=["exp", settings.jwt_claim_sub, "iss", "aud"],
        exclude=exclude,
        authentication_middleware_class=BearerMiddleware,
        description="Bearer JWT (SEC-01): sub, name, org, auth_time, amr, org_admin, kind (user or service) and "
        "a `projects` map {project_id: {roles, authority_level, company_id, company_kind}}; a service principal "
        "(SEC-02) carries `scope` with ptw:read and/or ptw:write. A deployment may name these claims otherwise.",
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
    scopes: tuple[str, ...] = (),
    lifetime: timedelta = timedelta(hours=8),
    now: datetime | None = None,
    signing_key: SigningKey | None = None,
) -> str:
    """A signed token with the claims of SEC-01 under the configured names (`ptw token` and the tests use it;
    production tokens come from the identity provider). Signed with the shared secret unless `signing_key`
    is given; an API checking public keys needs one."""
    if signing_key is None:
        if not settings.jwt_secret:
            raise ValueError("the API checks tokens with public keys: sign with their private key")
        algorithm = next((a for a in settings.jwt_algorithms if a in HMAC_ALGORITHMS), "HS256")
        signing_key = SigningKey(settings.jwt_secret, algorithm)
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
    if scopes:
        claims["scope"] = " ".join(scopes)
    named = {settings.claim_names().get(claim, claim): value for claim, value in claims.items()}
    headers = {"kid": signing_key.kid} if signing_key.kid else None
    return jwt.encode(named, signing_key.key, algorithm=signing_key.algorithm, headers=headers)
