"""API settings, read once from the environment (`PTW_*`) so that every process of a deployment is configured
the same way; `ptw serve` options override them."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import msgspec

from ptw_domain.store.settings import DEFAULT_URL

DEV_SECRET_FILE = ".ptw/dev-jwt-secret"


class ApiSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything `create_app` needs. Defaults give the embedded development setup (SQLite, in-process
    projections, a development signing key kept in `.ptw/`)."""

    database_url: str = DEFAULT_URL
    # Followers inside the serving process (the embedded default); production runs `ptw projections run`.
    run_projections: bool = True
    jwt_secret: str = ""
    jwt_algorithm: str = "HS256"
    jwt_issuer: str = "ptw-dev"
    jwt_audience: str = "ptw"
    # RM-08: how long a read waits for the projections to reach the caller's last write.
    read_wait_seconds: float = 2.0
    # SEC-06: a shared store when several API processes serve (e.g. redis://127.0.0.1:6379/0); memory otherwise.
    rate_limit_store: str = "memory"
    rate_limits_enabled: bool = True
    openapi_ui: bool = True

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> ApiSettings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in msgspec.structs.fields(cls):
            raw = env.get(f"PTW_{field.name.upper()}")
            if raw is not None:
                values[field.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            settings = msgspec.convert(values, cls, strict=False)
        except msgspec.ValidationError as error:
            raise ValueError(f"a PTW_* setting is not valid: {error}") from None
        if not settings.jwt_secret:
            settings = msgspec.structs.replace(settings, jwt_secret=development_secret())
        return settings


def development_secret(path: str = DEV_SECRET_FILE) -> str:
    """A signing key for development, made once and kept beside the working directory (mode 0600), so that
    `ptw token` and `ptw serve` agree without configuration. Production sets PTW_JWT_SECRET."""
    file = Path(path)
    if file.exists():
        return file.read_text().strip()
    file.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    file.touch(mode=0o600)
    file.write_text(secret)
    return secret
