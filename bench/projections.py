"""Read-side benchmarks (issue 4): rebuild speed of the projections against raw batched upserts, on PostgreSQL.

The events are real: permits taken through their lifecycles by the public service (in memory, for speed of
set-up), then copied into a fresh PostgreSQL store with the store's own recorder. Each projection is then
rebuilt from scratch (blue/green, as `ptw projections rebuild` does) and timed; the baseline reads the same
events in the same batches and writes one upserted row per event plus the tracking position, per transaction,
with raw psycopg (no decoding, no domain fold): the floor any batched projection pays.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent
from sqlalchemy import func, select
from tests.builders import START, World

from bench import report
from ptw_domain.clock import ManualClock
from ptw_domain.service import PermitService
from ptw_domain.store.application import PtwStore
from ptw_domain.store.settings import store_env
from ptw_projections.board.query import board_at
from ptw_projections.board.tables import OPEN_DAY
from ptw_projections.bulk import insert_rows
from ptw_projections.catalogue import Catalogue
from ptw_projections.database import open_read_database
from ptw_projections.kpis.query import kpis
from ptw_projections.permit_list.query import PermitQuery, list_permits
from ptw_projections.reader import ReadSide
from ptw_projections.registry import projections
from ptw_projections.runner import Runner
from ptw_projections.schema import Layout
from ptw_projections.types import day_of

DSN = os.environ.get("PTW_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
SECTION = "## Read side (issue 4)"
BATCH = 2000
REBUILD_BAR = 20_000  # events/s


def generate(permits: int) -> list[StoredEvent]:
    """Stored events of `permits` permits in a realistic mix of lifecycle stages."""
    clock = ManualClock(START)
    service = PermitService("memory://", clock=clock)
    world = World.create(service, clock)
    stages = (world.closed, world.active, world.approved, world.under_review, world.submitted, world.draft)
    for i in range(permits):
        # Spread over 40 areas, so SIMOPS conflicts are as sparse as on a real site.
        stages[i % len(stages)](area=f"AREA-{i % 40:02d}")
    rows = service.store.recorder.select_notifications(start=0, limit=10**9)
    events = [StoredEvent(r.originator_id, r.originator_version, r.topic, r.state) for r in rows]
    service.close()
    return events


def load(url: str, events: list[StoredEvent]) -> PtwStore:
    store = PtwStore(env=store_env(url))
    for start in range(0, len(events), 5000):
        store.recorder.insert_events(events[start : start + 5000])
    return store


def baseline(store: PtwStore, schema: str) -> float:
    """Raw psycopg: read a batch, upsert one row per event keyed by stream, advance tracking; one txn per batch."""
    with psycopg.connect(DSN) as conn:
        conn.execute(
            f'CREATE TABLE "{schema}".base_rows (stream_id uuid PRIMARY KEY, version int, topic text, '
            "position bigint)"
        )
        conn.execute(f'CREATE TABLE "{schema}".base_tracking (name text PRIMARY KEY, position bigint)')
        conn.execute(f"INSERT INTO \"{schema}\".base_tracking VALUES ('base', 0)")
        conn.commit()
        started = time.perf_counter()
        position, head = 0, store.head_position()
        while position < head:
            rows = store.recorder.select_notifications(start=position, limit=BATCH, inclusive_of_start=False)
            with conn.cursor() as cur:
                cur.executemany(
                    f'INSERT INTO "{schema}".base_rows VALUES (%s, %s, %s, %s) ON CONFLICT (stream_id) DO UPDATE '
                    "SET version = excluded.version, topic = excluded.topic, position = excluded.position",
                    [(r.originator_id, r.originator_version, r.topic, r.id) for r in rows],
                )
                cur.execute(
                    f'UPDATE "{schema}".base_tracking SET position = %s WHERE name = %s AND position = %s',
                    (rows[-1].id, "base", position),
                )
            conn.commit()
            position = rows[-1].id
        return time.perf_counter() - started


def rebuild(store: PtwStore, url: str, name: str) -> float:
    db = open_read_database(url)
    runner = Runner(store, db, projections([name])[0], batch_size=BATCH)
    started = time.perf_counter()
    runner.rebuild()
    elapsed = time.perf_counter() - started
    db.dispose()
    return elapsed


QUERIES: dict[str, PermitQuery] = {
    "open work, newest first": PermitQuery(status="approved,active,suspended", page_size=20),
    "one area by planned start": PermitQuery(area="AREA-07", sort="planned_start", page_size=50),
    "search two terms": PermitQuery(q="weld, tank", sort="-valid_until"),
    "assignee, high risk": PermitQuery(assignee="req", risk_level="high", page=3),
    "expired at as_of, page 5": PermitQuery(status="expired", sort="number", page=5),
}
LIST_BAR_MS = 10.0
KPI_NAME, KPI_BAR_MS = "KPIs (KPI-01..13) at as_of", 20.0
BOARD_NAME, BOARD_BAR_MS = "board at a past instant (40 days back)", 50.0


def _clone(row: dict[str, Any], ids: dict[UUID, UUID], shift: timedelta, number: str) -> dict[str, Any]:
    """A seed row for another permit: new ids (by the seed's id), every instant moved back by `shift`."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, UUID) and value in ids:
            out[key] = ids[value]
        elif isinstance(value, datetime):
            out[key] = value - shift
        else:
            out[key] = value
    if "number" in out:
        out["number"] = number
    if "area" in out:
        out["area"] = f"AREA-{int(number[-7:]) % 40:02d}"
    if out.get("day", OPEN_DAY) != OPEN_DAY:
        out["day"] = day_of(out["recorded_from"]) + (out["day"] - day_of(row["recorded_from"]))
    return out


# The tables of each read model that hold one or more rows per permit, keyed by the column naming the permit.
PER_PERMIT = {
    "permit_list": {"permits": "permit_id", "permit_parties": "permit_id", "permit_tags": "permit_id"},
    "kpis": {"kpi_permits": "permit_id", "kpi_approvals": "permit_id"},
    "board": {"board_permits": "stream_id"},
}


def grow(url: str, store: PtwStore, permits: int) -> UUID:
    """A generated fixture of `permits` permits in the list, KPI and board tables: the projected permits cloned
    with new ids, numbers, 40 areas, and times moved back over a year, whole days at a time (query cost depends
    on the tables, not on how the rows got there). What started more than two weeks ago is finished, as the sweep
    and the crews would have made it. Returns the project id."""
    db = open_read_database(url)
    for name in [
        *PER_PERMIT,
        "tasks",
        "sync_ledger",
        "readiness",
    ]:  # the list reads these too (assignee, needs_review, the readiness summaries); not cloned: a clone has no
        # task, no review and no stored readiness, which costs a lookup of the same index as a row would
        runner = Runner(store, db, projections([name])[0], batch_size=BATCH)
        runner.catch_up(runner.live_generation())
    with db.engine.connect() as conn:
        tables = {
            name: Layout(db, projections([name])[0]).tables(
                Catalogue(db).active(conn, name).generation  # type: ignore[union-attr]
            )
            for name in PER_PERMIT
        }
        seeds = [r._asdict() for r in conn.execute(select(tables["permit_list"]["permits"]))]
        rows_of: dict[tuple[str, str], dict[UUID, list[dict[str, Any]]]] = {}
        for name, keyed in PER_PERMIT.items():
            for table, key in keyed.items():
                grouped: dict[UUID, list[dict[str, Any]]] = {}
                for r in conn.execute(select(tables[name][table])):
                    row = {str(k): v for k, v in r._asdict().items()}
                    grouped.setdefault(row[key], []).append(row)
                rows_of[(name, table)] = grouped
    project_id: UUID = seeds[0]["project_id"]
    finished = [s for s in seeds if s["status"] in ("closed", "cancelled")]
    cards = [r for rows in rows_of[("board", "board_permits")].values() for r in rows if r["day"] == OPEN_DAY]
    with db.writing() as conn:
        for start in range(len(seeds), permits, 5000):
            batch: dict[tuple[str, str], list[dict[str, Any]]] = {k: [] for k in rows_of}
            for i in range(start, min(start + 5000, permits)):
                shift = timedelta(days=(i * 7) % 365)
                seed = (finished if shift > timedelta(days=14) else seeds)[
                    i % len(finished if shift > timedelta(days=14) else seeds)
                ]
                ids = {seed["permit_id"]: uuid.uuid4()}
                for k, grouped in rows_of.items():
                    batch[k] += [
                        _clone(r, ids, shift, f"GEN-{i:07d}") for r in grouped.get(seed["permit_id"], [])
                    ]
                if (
                    shift > timedelta(days=14)
                    and cards
                    and not rows_of[("board", "board_permits")].get(seed["permit_id"])
                ):
                    # The seeds lived their lives within one instant; a finished permit of the fixture was on
                    # the board for eight hours of its day, as a day shift's permit is.
                    begin = seed["created_at"] - shift + timedelta(hours=1)
                    end = begin + timedelta(hours=8)
                    card = {
                        **cards[i % len(cards)],
                        "stream_id": ids[seed["permit_id"]],
                        "project_id": project_id,
                    }
                    batch[("board", "board_permits")] += [
                        {**card, "recorded_from": begin, "recorded_to": end, "day": day}
                        for day in range(day_of(begin), day_of(end - timedelta(microseconds=1)) + 1)
                    ]
            for (name, table), rows in batch.items():
                insert_rows(conn, tables[name][table], rows)
        # The KPI status counters (KPI-01) as the projection would have kept them for these rows.
        counts, kpi_permits = tables["kpis"]["kpi_status_counts"], tables["kpis"]["kpi_permits"]
        conn.execute(counts.delete())
        conn.execute(
            counts.insert().from_select(
                ["project_id", "status", "n"],
                select(kpi_permits.c.project_id, kpi_permits.c.status, func.count()).group_by(
                    kpi_permits.c.project_id, kpi_permits.c.status
                ),
            )
        )
        # and the per-day creation counters (KPI-08), likewise
        days = tables["kpis"]["kpi_created_days"]
        conn.execute(days.delete())
        created = [
            {"project_id": p, "day": day_of(at), "template_key": k, "category": c}
            for p, at, k, c in conn.execute(
                select(
                    kpi_permits.c.project_id,
                    kpi_permits.c.created_at,
                    kpi_permits.c.template_key,
                    kpi_permits.c.category,
                )
            )
        ]
        tally = Counter(tuple(r.values()) for r in created)
        insert_rows(
            conn,
            days,
            [
                {"project_id": p, "day": day, "template_key": k, "category": c, "n": n}
                for (p, day, k, c), n in tally.items()
            ],
        )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")  # as autovacuum would after a bulk load
    db.dispose()
    return project_id


def time_queries(url: str, project_id: UUID, n: int) -> dict[str, list[float]]:
    db = open_read_database(url)
    reads = ReadSide(db)
    as_of = START + timedelta(days=1)
    samples: dict[str, list[float]] = {name: [] for name in QUERIES}
    samples["baseline: raw SELECT of one page"] = []
    samples[KPI_NAME] = []
    samples[BOARD_NAME] = []
    past = as_of - timedelta(days=40) + timedelta(hours=3)  # 40 days back, in the day shift
    raw = psycopg.connect(DSN, autocommit=True)
    sql = f'SELECT * FROM "{db.schema}".permit_list__permits WHERE project_id = %s ORDER BY created_at DESC, number LIMIT 20'
    for i in range(n + 20):
        for name, query in QUERIES.items():
            started = time.perf_counter()
            list_permits(reads, project_id, query, as_of=as_of)
            if i >= 20:
                samples[name].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        kpis(reads, project_id, as_of=as_of)
        if i >= 20:
            samples[KPI_NAME].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        board_at(reads, project_id, past)
        if i >= 20:
            samples[BOARD_NAME].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        raw.execute(sql, (project_id,)).fetchall()
        if i >= 20:
            samples["baseline: raw SELECT of one page"].append((time.perf_counter() - started) * 1000)
    raw.close()
    db.dispose()
    return samples


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def facts(load_at_start: float) -> dict[str, str]:
    with psycopg.connect(DSN, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    versions = {
        "PostgreSQL": f"{row[0] if row else '?'} on 127.0.0.1",
        "SQLAlchemy": report.version("sqlalchemy"),
        "psycopg": psycopg.__version__,
    }
    return report.machine_facts(load_at_start, versions)


def render(
    events: int,
    timings: dict[str, float],
    samples: dict[str, list[float]],
    f: dict[str, str],
    args: Any,
    steadiness: report.Steadiness,
) -> str:
    base = events / timings["baseline"]
    lines = [
        "### Rebuild (generated by `bench.projections`; rewritten on every run)",
        "",
        f"Measured {f['date']} with `--permits {args.permits}`: {events:,} events, batches of {BATCH:,}.",
        "",
        report.machine_line(f),
        "",
        "```",
        f".venv/bin/python -m bench.projections --permits {args.permits} --list-permits {args.list_permits}",
        "```",
        "",
        "| measurement | seconds | events/s | ratio to baseline |",
        "|---|---:|---:|---:|",
        f"| baseline: raw batched upserts with tracking (psycopg) | {timings['baseline']:.2f} | {base:,.0f} | 1.00x |",
    ]
    bars = []
    for name in ("permit_list", "audit_trail"):
        rate = events / timings[name]
        lines.append(
            f"| rebuild `{name}` (blue/green, `Runner.rebuild`) | {timings[name]:.2f} | {rate:,.0f} | "
            f"{rate / base:.2f}x |"
        )
        bars.append(
            (
                f"rebuild `{name}` on PostgreSQL",
                f"≥ {REBUILD_BAR:,} events/s",
                f"{rate:,.0f}/s",
                rate >= REBUILD_BAR,
            )
        )
    lines += [
        "",
        f"Queries at {args.list_permits:,} permits (a generated fixture, see `grow`: the projected permits cloned "
        f"into the list, KPI and board tables with new ids, numbers, 40 areas and times spread over a year), through "
        f"the typed query functions (SQLAlchemy), {args.n} samples each after 20 warm-up rounds, query time only:",
        "",
        "| query | p50 (ms) | p99 (ms) | p99 / baseline p99 |",
        "|---|---:|---:|---:|",
    ]
    base_p99 = percentile(samples["baseline: raw SELECT of one page"], 0.99)
    for name, values in samples.items():
        p99 = percentile(values, 0.99)
        lines.append(f"| {name} | {percentile(values, 0.5):.2f} | {p99:.2f} | {p99 / base_p99:.1f}x |")
        if not name.startswith("baseline"):
            bar_ms = {KPI_NAME: KPI_BAR_MS, BOARD_NAME: BOARD_BAR_MS}.get(name, LIST_BAR_MS)
            label = name if name in (KPI_NAME, BOARD_NAME) else f"list: {name}"
            bars.append((label, f"p99 ≤ {bar_ms:.0f} ms", f"{p99:.2f} ms", p99 <= bar_ms))
    lines += [
        "",
        steadiness.line("the queries"),
        "",
        "| bar | target | measured | met? |",
        "|---|---|---:|---|",
    ]
    for bar, target, measured, ok in bars:
        lines.append(f"| {bar} | {target} | {measured} | {'yes' if ok else '**NO**'} |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--permits", type=int, default=3000)
    parser.add_argument("--list-permits", type=int, default=100_000, help="permits in the query fixture")
    parser.add_argument("--n", type=int, default=200, help="samples per list query")
    parser.add_argument("--no-doc", action="store_true", help="print only; do not rewrite docs/benchmarks.md")
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]
    print(f"generating {args.permits} permits …", flush=True)
    events = generate(args.permits)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    url = f"{DSN}?schema={schema}"
    with psycopg.connect(DSN, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        store = load(url, events)
        timings = {"baseline": baseline(store, schema)}
        for name in ("permit_list", "audit_trail"):
            timings[name] = rebuild(store, url, name)
            print(f"{name}: {len(events) / timings[name]:,.0f} events/s", flush=True)
        print(f"baseline: {len(events) / timings['baseline']:,.0f} events/s", flush=True)
        print(f"growing the permit list to {args.list_permits:,} rows …", flush=True)
        project_id = grow(url, store, args.list_permits)
        with report.Steadiness(Path(tempfile.gettempdir())) as steadiness:
            samples = time_queries(url, project_id, args.n)
        store.close()
    finally:
        with psycopg.connect(DSN, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}_read" CASCADE')
    body = render(len(events), timings, samples, facts(load_at_start), args, steadiness)
    print(body)
    if not args.no_doc:
        report.write_block("projections", SECTION, body)


if __name__ == "__main__":
    main()
