"""API settings, read once from the environment (`PTW_*`) so that every process of a deployment is configured
the same way; `ptw serve` options override them."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import msgspec

from ptw_api.http.keys import VerificationKeys
from ptw_domain.store.settings import DEFAULT_URL

DEV_SECRET_FILE = ".ptw/dev-jwt-secret"
LIST = tuple[str, ...]  # a comma-separated setting
CLAIMS = ("sub", "name", "org", "auth_time", "amr", "org_admin", "kind", "scope", "projects")
REGISTERED_CLAIMS = frozenset({"iss", "aud", "exp", "nbf", "iat", "jti"})


class ApiSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything `create_app` needs. Defaults give the embedded development setup (SQLite, in-process
    projections, a development signing key kept in `.ptw/`)."""

    database_url: str = DEFAULT_URL
    # Followers inside the serving process (the embedded default); production runs `ptw projections run`.
    run_projections: bool = True
    # SEC-01: one source of keys (see http/keys.py): a shared secret, or public keys from one of the three below
    jwt_secret: str = ""
    jwt_public_key_file: str = ""
    jwt_jwks_file: str = ""
    jwt_jwks_url: str = ""
    jwt_algorithms: tuple[str, ...] = ()  # empty: HS256 with a secret, RS256 and ES256 with public keys
    jwt_issuer: str = "ptw-dev"
    jwt_audience: str = "ptw"
    # SEC-01 "names configurable": the claim each fact is read from (PTW_JWT_CLAIM_SUB=oid, …)
    jwt_claim_sub: str = "sub"
    jwt_claim_name: str = "name"
    jwt_claim_org: str = "org"
    jwt_claim_auth_time: str = "auth_time"
    jwt_claim_amr: str = "amr"
    jwt_claim_org_admin: str = "org_admin"
    jwt_claim_kind: str = "kind"
    jwt_claim_scope: str = "scope"
    jwt_claim_projects: str = "projects"
    # RM-08: how long a read waits for the projections to reach the caller's last write.
    read_wait_seconds: float = 2.0
    # SEC-06: a shared store when several API processes serve (e.g. redis://127.0.0.1:6379/0); memory otherwise.
    rate_limit_store: str = "memory"
    # the key prefix in that store: deployments that share one Redis set their own
    rate_limit_namespace: str = "ptw-rate"
    rate_limits_enabled: bool = True
    openapi_ui: bool = True

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> ApiSettings:
        env = os.environ if environ is None else environ
        known = {f"PTW_{field.name.upper()}" for field in msgspec.structs.fields(cls)}
        unknown = sorted(k for k in env if k.startswith("PTW_JWT_") and k not in known)
        if unknown:  # a mistyped or renamed key setting must not leave the default keys in force unnoticed
            raise ValueError(f"{unknown[0]} is not a setting (PTW_JWT_ALGORITHM is now PTW_JWT_ALGORITHMS)")
        values: dict[str, object] = {}
        for field in msgspec.structs.fields(cls):
            raw = env.get(f"PTW_{field.name.upper()}")
            if raw is not None:
                values[field.name] = (
                    [v.strip() for v in raw.split(",") if v.strip()] if field.type == LIST else raw
                )
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            settings = msgspec.convert(values, cls, strict=False)
        except msgspec.ValidationError as error:
            raise ValueError(f"a PTW_* setting is not valid: {error}") from None
        public_keys = settings.jwt_public_key_file or settings.jwt_jwks_file or settings.jwt_jwks_url
        if not settings.jwt_secret and not public_keys:
            settings = msgspec.structs.replace(settings, jwt_secret=development_secret())
        # a bad claim name or key setting stops the start here, naming the setting
        settings.claim_names()
        VerificationKeys.from_settings(settings)
        return settings

    def claim_names(self) -> dict[str, str]:
        """{fact: the claim it is read from}; names must be distinct and not a registered claim of RFC 7519."""
        names = {field: getattr(self, f"jwt_claim_{field}") for field in CLAIMS}
        for field, name in names.items():
            setting = f"PTW_JWT_CLAIM_{field.upper()}"
            if not name or name in REGISTERED_CLAIMS:
                raise ValueError(f"{setting}: {name!r} cannot name a claim")
            if list(names.values()).count(name) > 1:
                raise ValueError(f"{setting}: {name!r} names another claim too")
        return names


def development_secret(path: str = DEV_SECRET_FILE) -> str:
    """A signing key for development, made once and kept beside the working directory (mode 0600), so that
    `ptw token` and `ptw serve` agree without configuration. Production sets PTW_JWT_SECRET or public keys."""
    file = Path(path)
    if file.exists():
        return file.read_text().strip()
    file.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    file.touch(mode=0o600)
    file.write_text(secret)
    return secret
