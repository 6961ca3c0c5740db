"""Typed errors of the read side."""

from __future__ import annotations

import sqlite3

import psycopg
import sqlalchemy.exc
from eventsourcing import persistence


class InvalidQuery(ValueError):
    """A query parameter the read models cannot take; names the parameter (the API answers 400/422 with it)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


class NotCaughtUp(TimeoutError):
    """A read-your-writes wait (RM-08) ran out before the projection passed the position."""

    def __init__(self, name: str, position: int, reached: int) -> None:
        super().__init__(f"projection {name!r} is at {reached}, not yet at {position}")
        self.name = name
        self.position = position
        self.reached = reached


class NotFound(LookupError):
    """No such object in this project (an object of another project reads the same way: TEN-02)."""

    def __init__(self, kind: str, identifier: object) -> None:
        super().__init__(f"no {kind} {identifier}")
        self.kind = kind
        self.identifier = identifier


def database_unavailable(error: BaseException) -> bool:
    """The database gone or busy for a while (a restart, a failover, a cut connection, no free connection, a
    lock not granted in time): worth waiting out, and never the fault of an event or of a request. PostgreSQL
    says so by its error classes (psycopg's OperationalError: connection, resources, operator intervention,
    rollbacks); SQLite's OperationalError also covers mistakes in SQL, so of its errors only a busy or locked
    database counts."""
    if isinstance(error, sqlalchemy.exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig if error.orig is not None else error
    if isinstance(error, persistence.OperationalError | persistence.InterfaceError):
        cause = error.__cause__  # the store's recorders raise the library's errors from the driver's
        return _sqlite_busy(cause) if isinstance(cause, sqlite3.Error) else True
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    return isinstance(error, sqlite3.Error) and _sqlite_busy(error)


def _sqlite_busy(error: sqlite3.Error) -> bool:
    return isinstance(error, sqlite3.OperationalError) and ("locked" in str(error) or "busy" in str(error))
