"""The advisory lock around DDL on a PostgreSQL schema, shared by the store and the read side (this module
imports no driver, so the read side uses it through SQLAlchemy). Processes starting together on a fresh schema
(API workers, projection runners) would otherwise race on CREATE TABLE/TYPE IF NOT EXISTS, which PostgreSQL
answers with unique violations in its catalogues; under the lock they create and replace objects one at a time.
"""

from __future__ import annotations

# Held by a session for a span of several transactions (the store's recorders create their types apart).
DDL_LOCK = "SELECT pg_advisory_lock(hashtext(%s))"
DDL_UNLOCK = "SELECT pg_advisory_unlock(hashtext(%s))"
# Held by one transaction until it commits.
DDL_XACT_LOCK = "SELECT pg_advisory_xact_lock(hashtext(%s))"


def ddl_lock_key(schema: str) -> str:
    return f"ptw-ddl:{schema}"
