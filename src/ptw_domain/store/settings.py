"""One setting picks the store: a database URL (`PTW_DATABASE_URL`), translated to the library's settings."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_URL = "sqlite:///ptw.db"
# Seconds a PostgreSQL call waits for a connection unless the URL's connect_timeout says (the library's default
# is 30 s, and it tries a call 10 times): with the database gone, a request fails in under a minute, as 503.
CONNECT_TIMEOUT = 5


def store_env(url: str, *, pool_size: int = 8) -> dict[str, str]:
    """memory:// (tests), sqlite:///path (embedded default) or
    postgresql://user@host:port/db?schema=s[&connect_timeout=seconds]."""
    parts = urlsplit(url)
    common = {
        "IS_SNAPSHOTTING_ENABLED": "y",
        "AGGREGATE_CACHE_MAXSIZE": "5000",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",  # states are immutable
    }
    if parts.scheme == "memory":
        return {**common, "PERSISTENCE_MODULE": "eventsourcing.popo"}
    if parts.scheme == "sqlite":
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path) or ":memory:"
        if parts.netloc:
            raise ValueError("write sqlite URLs as sqlite:///relative/path or sqlite:////absolute/path")
        return {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    if parts.scheme in ("postgresql", "postgres"):
        query = parse_qs(parts.query)
        env = {
            **common,
            "PERSISTENCE_MODULE": "ptw_domain.store.postgres:PtwPostgresFactory",
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            # Connections kept open and opened on demand up to 2 x pool_size: a store opened for a moment (a
            # CLI command, a test's second service) does not hold a full pool of PostgreSQL's connections.
            "POSTGRES_POOL_SIZE": str(min(2, pool_size)),
            "POSTGRES_MAX_OVERFLOW": str(2 * pool_size - min(2, pool_size)),
            "POSTGRES_LOCK_TIMEOUT": "5",
            "POSTGRES_CONNECT_TIMEOUT": str(connect_timeout(query)),
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    raise ValueError(
        f"unsupported database URL scheme {parts.scheme!r}: use memory://, sqlite:///path or "
        "postgresql://user@host:port/db"
    )


def connect_timeout(query: dict[str, list[str]]) -> int:
    """The seconds to wait for a PostgreSQL connection, from a parsed database URL query (store and read side)."""
    return int(query.get("connect_timeout", [str(CONNECT_TIMEOUT)])[0])
