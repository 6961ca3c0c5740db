"""AUD-07: rebuild a projection into scratch tables and compare them with the live ones.

The scratch generation is built up to exactly the live generation's position and the comparison reads both in
one snapshot, so a runner that keeps applying events meanwhile cannot cause a false difference.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import Connection, Table, select

from ptw_projections.catalogue import Stage
from ptw_projections.runner import Runner

MAX_ATTEMPTS = 5


class Difference(msgspec.Struct, frozen=True, kw_only=True):
    table: str
    key: list[Any]
    kind: str  # missing_in_live | missing_in_rebuild | values_differ
    columns: list[str] = []


class Verification(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    position: int
    rows_compared: int
    differences: list[Difference]
    truncated: bool

    @property
    def ok(self) -> bool:
        return not self.differences


def verify(runner: Runner, *, max_differences: int = 50) -> Verification:
    layout = runner.layout
    live = layout.ensure_active()
    scratch = layout.create_generation(Stage.SCRATCH, indexed=False)  # read whole, never searched
    try:
        for _ in range(MAX_ATTEMPTS):
            target = runner.catalogue.position_of(live)
            runner.catch_up(scratch, until=target)
            with _snapshot(runner) as conn:
                if runner.catalogue.position(conn, live) != target:
                    continue  # the live runner moved on; build the scratch copy further and look again
                rows, differences = 0, []
                live_tables = layout.tables(live.generation)
                for base, table in layout.tables(scratch.generation).items():
                    count, found = _compare(conn, base, live_tables[base], table)
                    rows += count
                    differences += found
                return Verification(
                    name=runner.projection.name,
                    position=target,
                    rows_compared=rows,
                    differences=differences[:max_differences],
                    truncated=len(differences) > max_differences,
                )
        raise RuntimeError(f"{runner.projection.name}: the live projection kept moving; try again")
    finally:
        layout.drop(scratch)


def _snapshot(runner: Runner) -> Any:
    conn = runner.db.engine.connect()
    if runner.db.is_postgres:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return _Snapshot(conn)


class _Snapshot:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def __enter__(self) -> Connection:
        self.conn.begin()
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.rollback()
        self.conn.close()


def _compare(conn: Connection, base: str, live: Table, rebuilt: Table) -> tuple[int, list[Difference]]:
    keys = [c.name for c in live.primary_key.columns]
    names = [c.name for c in live.columns]

    def rows(table: Table) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        result = conn.execute(select(*(table.c[n] for n in names)))
        return {tuple(r[names.index(k)] for k in keys): tuple(r) for r in result}

    a, b = rows(live), rows(rebuilt)
    found = []
    for key in sorted(a.keys() | b.keys(), key=repr):
        if key not in b:
            found.append(Difference(table=base, key=list(key), kind="missing_in_rebuild"))
        elif key not in a:
            found.append(Difference(table=base, key=list(key), kind="missing_in_live"))
        elif a[key] != b[key]:
            columns = [n for n, x, y in zip(names, a[key], b[key], strict=True) if x != y]
            found.append(Difference(table=base, key=list(key), kind="values_differ", columns=columns))
    return len(a | b), found
