"""Writing a batch of rows fast: COPY on PostgreSQL for large batches, executemany otherwise (ADR 0010).

Rebuild speed is dominated by how rows reach the database. On PostgreSQL, `COPY … FROM STDIN` through psycopg
moves a batch in one round trip with no per-row statement; an upsert copies into a temporary table and merges
with one `INSERT … SELECT … ON CONFLICT DO UPDATE`. SQLite's executemany is already a tight C loop.
Values must be in the form the driver takes (aware datetimes, UUIDs, bytes): no SQLAlchemy type processing
happens on the COPY path, so the read tables use only plain column types for the values written here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table

from ptw_projections.database import upsert

# Below this many rows a plain statement is cheaper than COPY (which costs a few extra round trips): the
# caught-up runner applies events one by one, and its lag is what counts then.
COPY_FROM = 64


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name != "postgresql" or len(rows) < COPY_FROM:
        conn.execute(table.insert(), list(rows))
        return
    _copy(conn, table, _name(table), _values(table, rows))


def insert_values(conn: Connection, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """`insert_rows` for rows given as tuples in the table's column order: a batch of thousands of rows then
    goes to COPY without a dict built and taken apart again per row."""
    if not rows:
        return
    if conn.dialect.name != "postgresql" or len(rows) < COPY_FROM:
        columns = table.c.keys()
        conn.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    _copy(conn, table, _name(table), rows)


def upsert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], key: Sequence[str]) -> None:
    if not rows:
        return
    if conn.dialect.name != "postgresql" or len(rows) < COPY_FROM:
        conn.execute(upsert(conn, table, key), list(rows))
        return
    columns = [c.name for c in table.columns]
    staging = f'"ptw_staging_{table.name}"'
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} (LIKE {_name(table)}) ON COMMIT DELETE ROWS"
    )
    _copy(conn, table, staging, _values(table, rows))
    quoted = ", ".join(f'"{c}"' for c in columns)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in key)
    keys = ", ".join(f'"{k}"' for k in key)
    cursor.execute(
        f"INSERT INTO {_name(table)} ({quoted}) SELECT {quoted} FROM {staging} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
    )
    cursor.execute(f"DELETE FROM {staging}")


def _values(table: Table, rows: Sequence[dict[str, Any]]) -> Iterable[list[Any]]:
    columns = [c.name for c in table.columns]
    return ([*map(row.get, columns)] for row in rows)  # map over the bound method: no comprehension per row


def _copy(conn: Connection, table: Table, target: str, rows: Iterable[Sequence[Any]]) -> None:
    """Binary COPY of rows given in column order: the driver's C dumpers write each value without formatting it
    as text first."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    quoted = ", ".join(f'"{c.name}"' for c in table.columns)
    with cursor.copy(f"COPY {target} ({quoted}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([_pg_type(c.type) for c in table.columns])
        for row in rows:
            copy.write_row(row)


def _pg_type(column_type: Any) -> str:
    """The PostgreSQL type a column's values are sent as (binary COPY needs it named)."""
    name = type(column_type).__name__
    if name == "UtcDateTime":
        return "timestamptz"
    return {
        "Uuid": "uuid",
        "Integer": "int4",
        "BigInteger": "int8",
        "Boolean": "bool",
        "LargeBinary": "bytea",
        "String": "varchar",
        "Text": "text",
    }[name]


def _name(table: Table) -> str:
    return f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'
