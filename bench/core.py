"""Core benchmark (issue 2): one command and one 1,000-event load against raw psycopg / SQLite baselines.

Run from the repo root:  .venv/bin/python -m bench.core [--n 2000] [--load-n 200] [--profile]

Everything is measured in ONE run, side by side, in a dedicated PostgreSQL schema `bench_<random>` that the
bench creates and drops. Figures are wall-clock per operation (time.perf_counter_ns), reported as p50/p99 in
microseconds after a warm-up. Results are printed and written to docs/benchmarks.md ("Core (issue 2)").
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import psycopg
from tests.builders import START, World

from bench import report
from bench.report import version, write_block
from ptw_domain import commands as c
from ptw_domain.clock import ManualClock
from ptw_domain.service import PermitService
from ptw_domain.store.application import PtwStore
from ptw_domain.store.settings import store_env
from ptw_domain.store.streams import fold

DSN = os.environ.get("PTW_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
SECTION = "## Core (issue 2)"
LOAD_EVENTS = 1000
LABELS = {
    "baseline": "A: raw psycopg BEGIN; INSERT 1 KB; COMMIT",
    "pg_command": "PermitService.execute(EditPermit notes) on PostgreSQL",
    "pg_command_cold": "same, permit not in the cache (cold: snapshot + event reads first)",
    "pg_command_stale": "same, two services alternate (stale cache: conflict, fresh re-decide)",
    "sqlite_command": "PermitService.execute(EditPermit notes) on SQLite file",
    "load_snapshot": "load 1,000-event permit, snapshot store (snapshot at v1000, 0 events after)",
    "load_snapshot_tail": "load 1,049-event permit, snapshot store (snapshot at v1000 + 49 events)",
    "load_full": "load 1,000-event permit, no snapshot store (decode + fold 1,000 events)",
    "raw_fold": "raw (text): SELECT state + msgspec.json.decode to dict + count/last",
    "raw_fold_binary": "raw (binary): SELECT state + msgspec.json.decode to dict + count/last",
}


@dataclass
class Result:
    name: str
    samples: list[int]  # nanoseconds

    @property
    def p50(self) -> float:
        return statistics.median(self.samples) / 1000

    @property
    def p99(self) -> float:
        s = sorted(self.samples)
        return s[min(len(s) - 1, int(len(s) * 0.99))] / 1000


def measure_interleaved(ops: dict[str, Callable[[int], Any]], n: int, warmup: int) -> dict[str, list[int]]:
    """Round-robin the ops (one call of each per round), so every row sees the same machine load."""
    names = list(ops)
    for i in range(warmup):
        for name in names:
            ops[name](i)
    gc.collect()
    samples: dict[str, list[int]] = {name: [] for name in names}
    clock = time.perf_counter_ns
    for i in range(warmup, warmup + n):
        for name in names:
            op = ops[name]
            t0 = clock()
            op(i)
            samples[name].append(clock() - t0)
    return samples


# --- 1. baseline A: raw psycopg BEGIN; INSERT; COMMIT ------------------------------------------------------------


def body_1kb() -> bytes:
    """A ~1 KB JSON body (about the size of a stored EditPermit envelope)."""
    doc = {
        "stream_id": str(uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "type": "PermitEdited",
        "occurred_at": START.isoformat(),
        "metadata": {"actor": {"id": "req", "kind": "user", "roles": ["requestor"]}, "project_id": "x" * 36},
        "payload": {"changes": {"notes": "n" * 300}},
        "prev_hash": "0" * 64,
        "hash": "f" * 64,
    }
    raw = msgspec.json.encode(doc)
    doc["pad"] = "p" * max(0, 1024 - len(raw) - 10)
    return msgspec.json.encode(doc)


def baseline_setup(schema: str) -> tuple[Callable[[int], None], psycopg.Connection[Any]]:
    with psycopg.connect(DSN, autocommit=True) as admin:
        admin.execute(
            f'CREATE TABLE "{schema}".baseline_events ('
            "originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text, state bytea, "
            "notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"
        )
        admin.execute(f'CREATE UNIQUE INDEX ON "{schema}".baseline_events (notification_id ASC)')
    body = body_1kb()
    oid = uuid.uuid4()
    sql = (
        f'INSERT INTO "{schema}".baseline_events (originator_id, originator_version, topic, state) '
        "VALUES (%s, %s, %s, %s)"
    )
    conn = psycopg.connect(DSN, autocommit=False)  # psycopg issues BEGIN before the INSERT

    def op(i: int) -> None:
        conn.execute(sql, (oid, i + 1, "PermitEdited", body), prepare=True)
        conn.commit()

    return op, conn


# --- 2./3. a full command through PermitService ------------------------------------------------------------------


def edit_commands(world: World, pid: uuid.UUID) -> tuple[c.EditPermit, c.EditPermit]:
    """EditPermit of an admin field on the requestor's own draft; two values so every command records one event."""
    actor = world.actor("req")
    return tuple(  # type: ignore[return-value]
        c.EditPermit(actor=actor, permit_id=pid, changes=c.PermitChanges(notes=f"bench notes {v}"))
        for v in ("A", "B")
    )


def command_setup(url: str, *, mode: str = "warm") -> tuple[PermitService, Callable[[int], Any]]:
    """One EditPermit per call on a long-lived draft.

    warm:  this process wrote the permit last, so its cached version is current (no read before the write);
    cold:  the permit is evicted from the cache before each command (the snapshot and event reads are paid);
    stale: two services on the same store take turns, so each one's cached version is always one behind:
           the trusted attempt conflicts and the command is decided again on a fresh read (worst case).
    """
    clock = ManualClock(START)
    service = PermitService(url, clock=clock)
    world = World.create(service, clock)
    pid = world.draft()
    cmds = edit_commands(world, pid)
    other = PermitService(url, clock=clock) if mode == "stale" else None
    cache: Any = service.store.repository.cache

    def op(i: int) -> None:
        if mode == "cold":
            cache.get(pid, evict=True)
        target = other if other is not None and i % 2 else service
        target.execute(cmds[i % 2])

    return service, op


def profile_command(url: str, n: int, *, mode: str = "warm") -> str:
    service, op = command_setup(url, mode=mode)
    try:
        for i in range(200):
            op(i)
        prof = cProfile.Profile()
        prof.enable()
        for i in range(n):
            op(i)
        prof.disable()
    finally:
        service.close()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(45)
    return out.getvalue()


def breakdown(url: str, n: int, *, mode: str = "warm") -> dict[str, float]:
    """Median per-command split: store writes, store reads (count and time), and the rest (Python)."""
    service, op = command_setup(url, mode=mode)
    recorder: Any = service.store.recorder
    spent = {"insert": 0, "select": 0, "selects": 0}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter_ns()
            try:
                return fn(*a, **kw)
            finally:
                spent[name] += time.perf_counter_ns() - t0
                if name == "select":
                    spent["selects"] += 1

        return wrapper

    recorder.insert_events = timed("insert", recorder.insert_events)
    recorder.select_events = timed("select", recorder.select_events)
    if hasattr(recorder, "select_stream"):  # the one-query cold load (snapshot + later events)
        recorder.select_stream = timed("select", recorder.select_stream)
    if service.store.snapshots is not None:
        snap: Any = service.store.snapshots.recorder
        snap.select_events = timed("select", snap.select_events)
    rows: list[tuple[int, int, int, int]] = []
    try:
        for i in range(100):
            op(i)
        for i in range(100, 100 + n):
            spent.update(insert=0, select=0, selects=0)
            t0 = time.perf_counter_ns()
            op(i)
            rows.append((time.perf_counter_ns() - t0, spent["insert"], spent["select"], spent["selects"]))
    finally:
        service.close()
    total = statistics.median(r[0] for r in rows) / 1000
    insert = statistics.median(r[1] for r in rows) / 1000
    select = statistics.median(r[2] for r in rows) / 1000
    return {
        "total": total,
        "insert": insert,
        "select": select,
        "selects": statistics.median(r[3] for r in rows),
        "python": statistics.median(r[0] - r[1] - r[2] for r in rows) / 1000,
    }


# --- 4. loading a permit with 1,000 events -----------------------------------------------------------------------


def build_long_permit(url: str, events: int) -> tuple[uuid.UUID, Callable[[int], None]]:
    """One draft permit with `events` events (PermitDrafted + EditPermit notes); returns a way to add more."""
    clock = ManualClock(START)
    service = PermitService(url, clock=clock)
    world = World.create(service, clock)
    pid = world.draft()
    cmds = edit_commands(world, pid)
    for i in range(events - 1):
        service.execute(cmds[i % 2])
    assert service.permit(pid).version == events

    def more(k: int) -> None:
        for i in range(k):
            service.execute(cmds[(events - 1 + i) % 2])
        service.close()

    return pid, more


def uncached_store(url: str, *, snapshots: bool) -> PtwStore:
    """The service's own store settings, with the repository cache off (and optionally no snapshot store)."""
    env = store_env(url)
    if not snapshots:
        env["IS_SNAPSHOTTING_ENABLED"] = "n"
    store = PtwStore(env=env)
    store.repository.cache = None  # Repository.get consults the cache only when it is set and version is None
    return store


def load_op(store: PtwStore, pid: uuid.UUID, events: int) -> Callable[[int], None]:
    """The service's cold-load path: one query for the latest snapshot and later events on PostgreSQL,
    the library's repository (events only) when the store has no snapshots."""

    def op(_: int) -> None:
        if store.loads_in_one_query:
            stream = store.load_stream(pid)
        else:
            stream = store.repository.get(pid, projector_func=fold)
        assert stream is not None
        assert stream.version == events

    return op


def raw_fold_setup(
    schema: str, pid: uuid.UUID, events: int, *, binary: bool = False
) -> tuple[Callable[[int], None], psycopg.Connection[Any]]:
    """Plain psycopg (text protocol, like the library, unless `binary`), one round trip, dict decode, count."""
    conn = psycopg.connect(DSN, autocommit=True)
    cur = conn.cursor(binary=binary)
    sql = f'SELECT state FROM "{schema}".ptw_events WHERE originator_id = %s ORDER BY originator_version'
    decode = msgspec.json.decode

    def op(_: int) -> None:
        count, last = 0, None
        for (state,) in cur.execute(sql, (pid,), prepare=True):
            last = decode(state)
            count += 1
        assert count == events and last is not None

    return op, conn


# --- facts and the report -----------------------------------------------------------------------------------------


def machine_facts(load_at_start: float) -> dict[str, str]:
    with psycopg.connect(DSN, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        fsync = conn.execute("SHOW synchronous_commit").fetchone()
    server = f"{row[0] if row else '?'} on 127.0.0.1 (synchronous_commit={fsync[0] if fsync else '?'})"
    versions = {
        "PostgreSQL": server,
        "eventsourcing": version("eventsourcing"),
        "psycopg": psycopg.__version__,
    }
    return report.machine_facts(load_at_start, versions)


def render(
    results: dict[str, Result],
    bars: list[tuple[str, str, str, bool]],
    facts: dict[str, str],
    args: Any,
    split: dict[str, dict[str, float]],
) -> str:
    base = results["baseline"].p50
    raw = results["raw_fold"].p50
    refs = {
        "baseline": "1.00x A",
        "pg_command": f"{results['pg_command'].p50 / base:.2f}x A",
        "pg_command_cold": f"{results['pg_command_cold'].p50 / base:.2f}x A",
        "pg_command_stale": f"{results['pg_command_stale'].p50 / base:.2f}x A",
        "raw_fold_binary": f"{results['raw_fold_binary'].p50 / raw:.2f}x raw",
        "sqlite_command": f"{results['sqlite_command'].p50 / base:.2f}x A",
        "load_snapshot": f"{results['load_snapshot'].p50 / raw:.2f}x raw",
        "load_snapshot_tail": f"{results['load_snapshot_tail'].p50 / raw:.2f}x raw",
        "load_full": f"{results['load_full'].p50 / raw:.2f}x raw",
        "raw_fold": "1.00x raw",
    }
    lines = [
        "### Results (generated by `bench.core`; rewritten on every run)",
        "",
        f"Measured {facts['date']} with `--n {args.n} --load-n {args.load_n}` (warm-up {args.warmup} "
        f"per row; command/insert rows take N={args.n} samples, load rows {args.load_n}).",
        "",
        report.machine_line(facts),
        "",
        "Reproduce (from the repository root; PostgreSQL at 127.0.0.1:5432, trust auth; "
        "override with `PTW_BENCH_POSTGRES`):",
        "",
        "```",
        f".venv/bin/python -m bench.core --n {args.n} --load-n {args.load_n}",
        "```",
        "",
        "| # | measurement | p50 (us) | p99 (us) | ratio |",
        "|---|---|---:|---:|---:|",
    ]
    order = [
        ("1", "baseline"),
        ("2", "pg_command"),
        ("2'", "pg_command_cold"),
        ("2''", "pg_command_stale"),
        ("3", "sqlite_command"),
        ("4a", "load_snapshot"),
        ("4a'", "load_snapshot_tail"),
        ("4b", "load_full"),
        ("4c", "raw_fold"),
        ("4c'", "raw_fold_binary"),
    ]
    for num, key in order:
        r = results[key]
        lines.append(f"| {num} | {r.name} | {r.p50:,.0f} | {r.p99:,.0f} | {refs[key]} |")
    lines += ["", "| bar | target | measured | met? |", "|---|---|---:|---|"]
    for bar, target, measured, ok in bars:
        lines.append(f"| {bar} | {target} | {measured} | {'yes' if ok else '**NO**'} |")
    lines += [
        "",
        "Where one command's time goes (medians of 500 commands, timed around the store's recorder calls; "
        "'reads' counts event and snapshot SELECTs per command):",
        "",
        "| command | total (us) | write: insert_events (us) | reads (us) | reads/command | rest: Python (us) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    labels = {
        "default": "PostgreSQL (row 2)",
        "cold": "PostgreSQL, cold cache (row 2')",
        "sqlite": "SQLite (row 3)",
    }
    for key, label in labels.items():
        b = split[key]
        lines.append(
            f"| {label} | {b['total']:,.0f} | {b['insert']:,.0f} | {b['select']:,.0f} | "
            f"{b['selects']:.0f} | {b['python']:,.0f} |"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000, help="samples for the insert and command rows")
    parser.add_argument("--load-n", type=int, default=200, help="samples for the 1,000-event load rows")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--profile", action="store_true", help="also cProfile 500 PostgreSQL commands")
    parser.add_argument("--no-doc", action="store_true", help="print only; do not rewrite docs/benchmarks.md")
    args = parser.parse_args()

    started = time.monotonic()
    load_at_start = os.getloadavg()[0]
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    url = f"{DSN}?schema={schema}"
    with psycopg.connect(DSN, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    profile = ""
    try:
        with tempfile.TemporaryDirectory(prefix="ptw-bench-") as tmp:
            print(f"schema {schema}; N={args.n}, load N={args.load_n}, warm-up {args.warmup}", flush=True)
            base_op, base_conn = baseline_setup(schema)
            pg, pg_op = command_setup(url)
            pgc, pgc_op = command_setup(url, mode="cold")
            pgs, pgs_op = command_setup(url, mode="stale")
            lite, lite_op = command_setup(f"sqlite:///{tmp}/ptw.db")
            try:
                samples = measure_interleaved(
                    {
                        "baseline": base_op,
                        "pg_command": pg_op,
                        "pg_command_cold": pgc_op,
                        "pg_command_stale": pgs_op,
                        "sqlite_command": lite_op,
                    },
                    args.n,
                    args.warmup,
                )
            finally:
                base_conn.close()
                for svc in (pg, pgc, pgs, lite):
                    svc.close()
            print("building a permit with 1,000 events ...", flush=True)
            pid, more = build_long_permit(url, LOAD_EVENTS)
            with_snap = uncached_store(url, snapshots=True)
            without = uncached_store(url, snapshots=False)
            raw_op, raw_conn = raw_fold_setup(schema, pid, LOAD_EVENTS)
            rawb_op, rawb_conn = raw_fold_setup(schema, pid, LOAD_EVENTS, binary=True)
            try:
                samples.update(
                    measure_interleaved(
                        {
                            "load_snapshot": load_op(with_snap, pid, LOAD_EVENTS),
                            "load_full": load_op(without, pid, LOAD_EVENTS),
                            "raw_fold": raw_op,
                            "raw_fold_binary": rawb_op,
                        },
                        args.load_n,
                        max(5, args.warmup // 10),
                    )
                )
                more(
                    49
                )  # worst case for snapshots every 50: the newest snapshot is 49 events behind the head
                samples.update(
                    measure_interleaved(
                        {"load_snapshot_tail": load_op(with_snap, pid, LOAD_EVENTS + 49)},
                        args.load_n,
                        max(5, args.warmup // 10),
                    )
                )
            finally:
                with_snap.close()
                without.close()
                raw_conn.close()
                rawb_conn.close()
            results = {key: Result(LABELS[key], values) for key, values in samples.items()}
            split = {
                "default": breakdown(url, 500),
                "cold": breakdown(url, 500, mode="cold"),
                "sqlite": breakdown(f"sqlite:///{tmp}/split.db", 500),
            }
            if args.profile:
                profile = profile_command(url, 500)
                profile += "\n--- cold cache ---\n" + profile_command(url, 500, mode="cold")
        facts = machine_facts(load_at_start)
    finally:
        with psycopg.connect(DSN, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')

    base, raw = results["baseline"].p50, results["raw_fold"].p50
    cmd_ratio = results["pg_command"].p50 / base
    full_ratio = results["load_full"].p50 / raw
    bars = [
        ("2: PostgreSQL command p50 / baseline A p50", "<= 2.0x", f"{cmd_ratio:.2f}x", cmd_ratio <= 2.0),
        (
            "3: SQLite command p50",
            "<= 1,000 us",
            f"{results['sqlite_command'].p50:,.0f} us",
            results["sqlite_command"].p50 <= 1000,
        ),
        (
            "4a: load with snapshot p50",
            "<= 1,000 us",
            f"{results['load_snapshot'].p50:,.0f} us",
            results["load_snapshot"].p50 <= 1000,
        ),
        ("4b: load without snapshot p50 / raw fold p50", "<= 2.5x", f"{full_ratio:.2f}x", full_ratio <= 2.5),
    ]
    table = render(results, bars, facts, args, split)
    print()
    print(table)
    print(f"total {time.monotonic() - started:.0f} s")
    if profile:
        print(profile)
    if not args.no_doc:
        write_block("core", SECTION, table)
        print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
