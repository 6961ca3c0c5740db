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
import time
import uuid
from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent
from sqlalchemy import select
from tests.builders import START, World

from bench import report
from ptw_domain.clock import ManualClock
from ptw_domain.service import PermitService
from ptw_domain.store.application import PtwStore
from ptw_domain.store.settings import store_env
from ptw_projections.bulk import insert_rows
from ptw_projections.database import open_read_database
from ptw_projections.permit_list.query import PermitQuery, list_permits
from ptw_projections.reader import ReadSide
from ptw_projections.registry import projections
from ptw_projections.runner import Runner

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


def grow_list(url: str, store: PtwStore, permits: int) -> UUID:
    """A generated fixture of `permits` rows: the projected permits cloned with new ids, numbers, areas and times
    (query cost depends on the tables, not on how the rows got there). Returns the project id."""
    db = open_read_database(url)
    runner = Runner(store, db, projections(["permit_list"])[0], batch_size=BATCH)
    generation = runner.live_generation()
    runner.catch_up(generation)
    tables = runner.layout.tables(generation.generation)
    p, parties, tags = tables["permits"], tables["permit_parties"], tables["permit_tags"]
    with db.engine.connect() as conn:
        seeds = [r._asdict() for r in conn.execute(select(p))]
        seed_parties = [r._asdict() for r in conn.execute(select(parties))]
        seed_tags = [r._asdict() for r in conn.execute(select(tags))]
    by_permit: dict[UUID, list[dict[str, Any]]] = {}
    for row in seed_parties:
        by_permit.setdefault(row["permit_id"], []).append(row)
    tags_of: dict[UUID, list[dict[str, Any]]] = {}
    for row in seed_tags:
        tags_of.setdefault(row["permit_id"], []).append(row)
    project_id = seeds[0]["project_id"]
    finished = [s for s in seeds if s["status"] in ("closed", "cancelled")]
    with db.writing() as conn:
        for start in range(len(seeds), permits, 5000):
            rows, party_rows, tag_rows = [], [], []
            for i in range(start, min(start + 5000, permits)):
                shift = timedelta(hours=(i * 7) % (24 * 365))
                # A site's history: what started more than two weeks ago is finished (the sweep would have
                # recorded anything else as expired); recent permits are in every stage.
                pool = finished if shift > timedelta(days=14) else seeds
                seed = pool[i % len(pool)]
                clone = {
                    **seed,
                    "permit_id": uuid.uuid4(),
                    "number": f"GEN-{i:07d}",
                    "area": f"AREA-{i % 40:02d}",
                    "created_at": seed["created_at"] - shift,
                    "planned_start": seed["planned_start"] - shift,
                    "planned_end": seed["planned_end"] - shift,
                    "valid_until": seed["valid_until"] - shift,
                    "expires_at": seed["expires_at"] - shift if seed["expires_at"] else None,
                }
                rows.append(clone)
                party_rows += [
                    {**r, "permit_id": clone["permit_id"]} for r in by_permit.get(seed["permit_id"], [])
                ]
                tag_rows += [
                    {**r, "permit_id": clone["permit_id"]} for r in tags_of.get(seed["permit_id"], [])
                ]
            insert_rows(conn, p, rows)
            insert_rows(conn, parties, party_rows)
            insert_rows(conn, tags, tag_rows)
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
    raw = psycopg.connect(DSN, autocommit=True)
    sql = f'SELECT * FROM "{db.schema}".permit_list__permits WHERE project_id = %s ORDER BY created_at DESC, number LIMIT 20'
    for i in range(n + 20):
        for name, query in QUERIES.items():
            started = time.perf_counter()
            list_permits(reads, project_id, query, as_of=as_of)
            if i >= 20:
                samples[name].append((time.perf_counter() - started) * 1000)
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
    events: int, timings: dict[str, float], samples: dict[str, list[float]], f: dict[str, str], args: Any
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
        f"List queries at {args.list_permits:,} permits (a generated fixture: the projected permits cloned with new "
        f"ids, numbers, 40 areas and times spread over a year), `list_permits` through SQLAlchemy including the "
        f"`total` count, {args.n} samples each after 20 warm-up rounds, query time only:",
        "",
        "| query | p50 (ms) | p99 (ms) | p99 / baseline p99 |",
        "|---|---:|---:|---:|",
    ]
    base_p99 = percentile(samples["baseline: raw SELECT of one page"], 0.99)
    for name, values in samples.items():
        p99 = percentile(values, 0.99)
        lines.append(f"| {name} | {percentile(values, 0.5):.2f} | {p99:.2f} | {p99 / base_p99:.1f}x |")
        if not name.startswith("baseline"):
            bars.append((f"list: {name}", f"p99 ≤ {LIST_BAR_MS:.0f} ms", f"{p99:.2f} ms", p99 <= LIST_BAR_MS))
    lines += ["", "| bar | target | measured | met? |", "|---|---|---:|---|"]
    for bar, target, measured, ok in bars:
        lines.append(f"| {bar} | {target} | {measured} | {'yes' if ok else '**NO**'} |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--permits", type=int, default=3000)
    parser.add_argument("--list-permits", type=int, default=100_000)
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
        project_id = grow_list(url, store, args.list_permits)
        samples = time_queries(url, project_id, args.n)
        store.close()
    finally:
        with psycopg.connect(DSN, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}_read" CASCADE')
    body = render(len(events), timings, samples, facts(load_at_start), args)
    print(body)
    if not args.no_doc:
        report.write_block("projections", SECTION, body)


if __name__ == "__main__":
    main()
