"""SIMOPS benchmark (issue 3): a command that triggers SIMOPS evaluation in a project with 2,000 candidate permits
against the same command in an empty project.

Run from the repo root:  .venv/bin/python -m bench.simops [--n 4000] [--candidates 2000] [--areas 200] [--profile]

Issue 3's bar: "a command that triggers SIMOPS evaluation in a project with 2,000 candidate permits p99 <= 5 ms
more than the same command in an empty project".

One run, side by side, on each store (PostgreSQL in a dedicated schema `bench_<random>` that the bench creates
and drops; an SQLite file in a temporary directory and the memory store for information). One `PermitService`
per store holds two projects:

  EMPTY  no SIMOPS candidate but the measured permit;
  BUSY   `--candidates` submitted permits (SIMOPS candidates) spread over `--areas` areas and four days, each with
         its own equipment tag, built through the service (create, nominate, submit); the permits of an area
         share a day and overlap, so the measured permit's area A-000 holds candidates // areas candidates that
         overlap it.

The measured permit is the same in both projects (hot work, area A-000, day 0, its own equipment tag); it is a
pool of `--pool` such permits, all drafts with a verifier but the one that is currently submitted, so no permit
collects thousands of withdraw/submit cycles (its snapshots would grow far beyond a real permit's). The measured
sequence alternates WithdrawPermit (of the current permit) and SubmitPermit (of the next): each changes a
footprint (it leaves or enters the candidate set), so every command loads the project's register, evaluates
conflicts through the place index and writes the register (and, in BUSY, one event on each of the ~10 conflict
streams: cleared on withdraw, updated on submit). Each round runs the same command once in EMPTY and once in
BUSY (the order alternates), timed per call in wall-clock (perf_counter_ns, the bar's measure) and thread CPU
time (thread_time_ns); the submit's signature is built before the timer starts (tests.builders.submit reads the
permit's core hash). The SIMOPS step (`handlers.simops_streams`, wrapped in place for the run), the store's
recorder calls, snapshot writes and garbage-collector pauses are timed inside each sample for the breakdown.

Then, for the analysis: cProfile of `--profile-n` commands per project on PostgreSQL; the pure SIMOPS functions
and the register snapshot's encode / decode on the BUSY register; a cold load of the BUSY register; on
PostgreSQL a plain INSERT of the register snapshot's bytes. Results are printed and written to
docs/benchmarks.md ("SIMOPS (issue 3)", between the bench.simops markers; the prose around them is kept).
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
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from tests.builders import START, World, nominate, submit

from bench import report
from bench.core import DSN, machine_facts, uncached_store
from bench.report import write_block
from ptw_domain import commands as c
from ptw_domain import handlers
from ptw_domain.clock import ManualClock
from ptw_domain.events import simops as ev
from ptw_domain.service import PermitService
from ptw_domain.simops.model import conflicts_of
from ptw_domain.simops.streams import apply_footprint, register_id
from ptw_domain.store.streams import StreamSnapshot, fold

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
SECTION = "## SIMOPS (issue 3)"
BAR_US = 5000.0
DAYS = 4
AREA = "A-000"
STORE_NAMES = {"postgres": "PostgreSQL", "sqlite": "SQLite file", "memory": "memory"}


# --- per-sample instrumentation ----------------------------------------------------------------------------------


@dataclass
class Meter:
    """What one command spent in the store's recorder, in snapshot writes and in GC pauses (nanoseconds)."""

    insert: int = 0
    rows: int = 0
    select: int = 0
    selects: int = 0
    snapshot: int = 0
    register_snapshot_bytes: int = 0
    simops: int = 0
    gc: int = 0
    gc_full: int = 0
    _gc_started: int = 0

    def reset(self) -> None:
        self.insert = self.rows = self.select = self.selects = self.simops = 0
        self.snapshot = self.register_snapshot_bytes = self.gc = self.gc_full = 0


def instrument(service: PermitService, meter: Meter) -> Callable[[], None]:
    """Time the recorder's inserts and selects, the snapshot store's puts (encode + insert), the SIMOPS step
    (`handlers.simops_streams`, wrapped in place for the run) and the collector's pauses; returns the undo."""
    store: Any = service.store
    clock = time.perf_counter_ns

    def wrap(obj: Any, name: str, done: Callable[[int, Any], None]) -> None:
        original = getattr(obj, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = clock()
            try:
                return original(*args, **kwargs)
            finally:
                done(clock() - t0, args)

        setattr(obj, name, timed)

    def inserted(ns: int, args: Any) -> None:
        meter.insert += ns
        meter.rows += len(args[0])

    def selected(ns: int, _: Any) -> None:
        meter.select += ns
        meter.selects += 1

    def snapshotted(ns: int, _: Any) -> None:
        meter.snapshot += ns

    def snapshot_rows(_: int, args: Any) -> None:
        meter.register_snapshot_bytes += sum(
            len(e.state) for e in args[0] if e.topic == "snapshot:simops_register"
        )

    def stepped(ns: int, _: Any) -> None:
        meter.simops += ns

    wrap(store.recorder, "insert_events", inserted)
    for name in ("select_events", "select_stream"):
        if hasattr(store.recorder, name):
            wrap(store.recorder, name, selected)
    if store.snapshots is not None:
        wrap(store.snapshots, "put", snapshotted)
        wrap(store.snapshots.recorder, "insert_events", snapshot_rows)
        wrap(store.snapshots.recorder, "select_events", selected)

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            meter._gc_started = clock()
        else:
            meter.gc += clock() - meter._gc_started
            meter.gc_full += info.get("generation") == 2

    gc.callbacks.append(on_gc)
    original_step = handlers.simops_streams
    wrap(handlers, "simops_streams", stepped)

    def undo() -> None:
        gc.callbacks.remove(on_gc)
        handlers.simops_streams = original_step

    return undo


# --- the two projects ----------------------------------------------------------------------------------------------


@dataclass
class Site:
    """A project with a pool of measured permits, exactly one of them a SIMOPS candidate at a time: the sequence
    withdraws the current one, then submits the next (so no permit accumulates hundreds of cycles, which would
    grow its snapshots far beyond a real permit's)."""

    name: str
    world: World
    pids: list[uuid.UUID]
    build_seconds: float
    withdraws: list[c.WithdrawPermit]
    current: int = 0
    submitting: bool = False
    command: c.Command | None = None

    def prepare(self) -> str:
        """Build the next command outside the timer (a submit reads the permit's core hash to sign it)."""
        if self.submitting:
            self.command = submit(self.world, self.pids[(self.current + 1) % len(self.pids)])
            return "submit"
        self.command = self.withdraws[self.current]
        return "withdraw"

    def run(self) -> None:
        assert self.command is not None
        self.world.service.execute(self.command)
        if self.submitting:
            self.current = (self.current + 1) % len(self.pids)
        self.submitting = not self.submitting


def window(i: int, areas: int) -> dict[str, Any]:
    """Candidate i: area i % areas, on day (area % DAYS), starting 10 minutes after the previous permit of its
    area, 8 hours long (so the permits of an area overlap)."""
    area = i % areas
    start = START + timedelta(days=area % DAYS, hours=1, minutes=10 * (i // areas))
    return {
        "area": f"A-{area:03d}",
        "equipment_tags": (f"EQ-{i:05d}",),
        "planned_start": start,
        "planned_end": start + timedelta(hours=8),
    }


def build_site(
    service: PermitService, clock: ManualClock, name: str, candidates: int, areas: int, pool: int
) -> Site:
    world = World.create(service, clock, code=name)
    t0 = time.monotonic()
    for i in range(candidates):
        world.submitted(template="hot-work" if i % 2 else "cold-work", **window(i, areas))
    build_seconds = time.monotonic() - t0
    start = START + timedelta(hours=1, minutes=5)
    pids = []
    for j in range(pool):  # the first submitted, the others drafts with their verifier nominated
        pid = world.draft(
            template="hot-work",
            area=AREA,
            equipment_tags=(f"EQ-MEASURED-{j:02d}",),
            planned_start=start,
            planned_end=start + timedelta(hours=8),
        )
        world.run(nominate(world, pid))
        if j == 0:
            world.run(submit(world, pid))
        pids.append(pid)
    withdraws = [c.WithdrawPermit(actor=world.actor("req"), permit_id=pid, reason="bench") for pid in pids]
    return Site(name, world, pids, build_seconds, withdraws)


def register_facts(site: Site) -> dict[str, int]:
    """The register's size and the measured permit's conflicts (read once through the repository)."""
    store = site.world.service.store
    stream: Any = store.repository.get(register_id(site.world.project_id), projector_func=fold)
    register = stream.state
    fp = register.footprints[site.pids[0]]
    return {
        "version": stream.version,
        "footprints": len(register.footprints),
        "index_keys": len(register.index),
        "conflicts": len(conflicts_of(register, fp)),
    }


# --- measuring ---------------------------------------------------------------------------------------------------


@dataclass
class Sample:
    command: str
    wall: int
    cpu: int
    insert: int
    rows: int
    select: int
    selects: int
    snapshot: int
    register_snapshot_bytes: int
    simops: int
    gc: int
    gc_full: int

    @property
    def rest(self) -> int:
        return self.wall - self.simops - self.insert - self.select - self.snapshot


@dataclass
class Run:
    """Samples of one store, by project."""

    store: str
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    build_seconds: float = 0.0
    facts: dict[str, dict[str, int]] = field(default_factory=dict)
    profile: dict[str, dict[str, float]] = field(default_factory=dict)
    profile_text: str = ""
    pure: dict[str, tuple[float, float]] = field(default_factory=dict)
    cold: tuple[float, float, int] | None = None
    raw_snapshot: float | None = None


def measure(sites: list[Site], meter: Meter, n: int, warmup: int) -> dict[str, list[Sample]]:
    """Rounds of the same command in each project (order alternating), the next commands built untimed."""
    samples: dict[str, list[Sample]] = {s.name: [] for s in sites}
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    for i in range(warmup + n):
        if i == warmup:
            gc.collect()
        order = sites if i % 4 < 2 else sites[::-1]
        kinds = {s.name: s.prepare() for s in order}
        for site in order:
            meter.reset()
            w0, c0 = clock(), cpu_clock()
            site.run()
            c1, w1 = cpu_clock(), clock()
            if i >= warmup:
                samples[site.name].append(
                    Sample(
                        kinds[site.name],
                        w1 - w0,
                        c1 - c0,
                        meter.insert,
                        meter.rows,
                        meter.select,
                        meter.selects,
                        meter.snapshot,
                        meter.register_snapshot_bytes,
                        meter.simops,
                        meter.gc,
                        meter.gc_full,
                    )
                )
    return samples


def cpu_costs(ops: dict[str, Callable[[], Any]], n: int) -> dict[str, tuple[float, float]]:
    """Median and p99 thread CPU time (us) of each op, sampled interleaved after a short warm-up."""
    for op in ops.values():
        op()
    cpu: dict[str, list[int]] = {name: [] for name in ops}
    clock = time.thread_time_ns
    for _ in range(n):
        for name, op in ops.items():
            t0 = clock()
            op()
            cpu[name].append(clock() - t0)
    return {name: (p50(v), pct(v, 0.99)) for name, v in cpu.items()}


def pure_costs(site: Site, n: int) -> dict[str, tuple[float, float]]:
    """The SIMOPS step's pure parts on the BUSY register as it stands (the current pool permit a candidate), and
    the register snapshot's encode / decode (what a command writing it, and a cold load, pay)."""
    store: Any = site.world.service.store
    stream: Any = store.repository.get(register_id(site.world.project_id), projector_func=fold)
    register = stream.state
    fp = register.footprints[site.pids[site.current]]
    removed = ev.SimopsFootprintRemoved(project_id=register.project_id, permit_id=fp.permit_id)
    recorded = ev.SimopsFootprintRecorded(project_id=register.project_id, footprint=fp)
    without = apply_footprint(register, removed)
    snapshot = StreamSnapshot(
        stream_id=stream.id,
        version=stream.version,
        kind="simops_register",
        head_hash=stream.head_hash,
        taken_at=START,
        state=register,
    )
    stored = store.mapper.to_stored_event(snapshot)
    assert store.mapper.to_domain_event(stored).state == register
    return cpu_costs(
        {
            "conflicts_of": lambda: conflicts_of(register, fp),
            "recorded": lambda: apply_footprint(without, recorded),
            "removed": lambda: apply_footprint(register, removed),
            "copies": lambda: ({**register.footprints}, dict(register.index)),
            "encode": lambda: store.mapper.to_stored_event(snapshot),
            "decode": lambda: store.mapper.to_domain_event(stored),
        },
        n,
    ) | {"snapshot_bytes": (len(stored.state), 0.0)}


PURE_LABELS = {
    "conflicts_of": "conflicts_of(register, fp): index lookup + 10 conflicts' facts and hashes",
    "recorded": "apply_footprint(register, SimopsFootprintRecorded): a permit enters (submit)",
    "removed": "apply_footprint(register, SimopsFootprintRemoved): a permit leaves (withdraw)",
    "copies": "floor: copy the footprints dict and the place index once (C-level dict copies)",
    "encode": "register snapshot encode (mapper.to_stored_event, msgspec)",
    "decode": "register snapshot decode (mapper.to_domain_event, typed msgspec)",
}


def raw_snapshot_insert(schema: str, site: Site, n: int = 10) -> float:
    """PostgreSQL only: a plain psycopg INSERT (binary bytea, own transaction) of the register snapshot's bytes
    into a table shaped like the snapshot table, against the library's snapshot recorder (composite-type array
    in text format); median wall us."""
    store: Any = site.world.service.store
    stream: Any = store.repository.get(register_id(site.world.project_id), projector_func=fold)
    snapshot = StreamSnapshot(
        stream_id=stream.id,
        version=stream.version,
        kind="simops_register",
        head_hash=stream.head_hash,
        taken_at=START,
        state=stream.state,
    )
    blob = store.mapper.to_stored_event(snapshot).state
    samples = []
    with psycopg.connect(DSN, autocommit=True) as conn:
        table = f'"{schema}".raw_snapshots'
        conn.execute(
            f"CREATE TABLE {table} (originator_id uuid, originator_version bigint, topic text, state bytea, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
        cur = conn.cursor(binary=True)
        for i in range(n):
            t0 = time.perf_counter_ns()
            with conn.transaction():
                cur.execute(
                    f"INSERT INTO {table} VALUES (%s, %s, %s, %b)",
                    (stream.id, i, "snapshot:simops_register", blob),
                )
            samples.append(time.perf_counter_ns() - t0)
    return p50(samples)


def cold_load(url: str, site: Site, n: int) -> tuple[float, float, int]:
    """A cold load of the BUSY register as the service does it for an uncached stream (a new process, or a
    cache eviction): PostgreSQL one query (snapshot + later events), SQLite the repository; wall p50 / p99 us."""
    store = uncached_store(url, snapshots=True)
    rid = register_id(site.world.project_id)
    samples = []
    try:
        for _ in range(n + 2):
            t0 = time.perf_counter_ns()
            loaded = (
                store.load_stream(rid)
                if store.loads_in_one_query
                else store.repository.get(rid, projector_func=fold)
            )
            samples.append(time.perf_counter_ns() - t0)
            assert loaded is not None
            version = loaded.version
    finally:
        store.close()
    return p50(samples[2:]), pct(samples[2:], 0.99), version


# Functions whose cumulative time per command the profile table reports: (depth, label, file suffix, names).
# A row at depth d+1 is a callee of the nearest row above at depth d (summed over all of its callers).
PROFILED: list[tuple[int, str, str, tuple[str, ...]]] = [
    (0, "PermitService.execute (whole command)", "ptw_domain/service.py", ("execute",)),
    (1, "decide_permit (load, decide, SIMOPS step; no write)", "ptw_domain/handlers.py", ("decide_permit",)),
    (2, "simops_streams (the SIMOPS step)", "ptw_domain/handlers.py", ("simops_streams",)),
    (
        3,
        "conflict_ids_touched (conflicts before / after)",
        "ptw_domain/simops/step.py",
        ("conflict_ids_touched",),
    ),
    (3, "simops_events (the same again, and the events)", "ptw_domain/simops/step.py", ("simops_events",)),
    (3, "evolve_register (the register stream's fold)", "ptw_domain/simops/streams.py", ("evolve_register",)),
    (4, "conflicts_of (index lookup + pairwise facts)", "ptw_domain/simops/model.py", ("conflicts_of",)),
    (5, "conflict_between (facts + facts hash)", "ptw_domain/simops/model.py", ("conflict_between",)),
    (4, "apply_footprint (new register: copies)", "ptw_domain/simops/streams.py", ("apply_footprint",)),
    (5, "indexed (copy-on-write place index)", "ptw_domain/simops/model.py", ("indexed",)),
    (2, "seal (hash chain of every new event)", "ptw_domain/chain.py", ("seal",)),
    (1, "store.save (encode, insert, cache, snapshots)", "eventsourcing/application.py", ("save",)),
    (2, "mapper.to_stored_event (encode every event)", "ptw_domain/store/mapper.py", ("to_stored_event",)),
    (2, "recorder insert_events", "ptw_domain/store/postgres.py", ("insert_events",)),
    (2, "_take_snapshots (snapshot encode + write)", "ptw_domain/store/application.py", ("_take_snapshots",)),
    (0, "uuid.UUID.__eq__ / __ne__ (Python-level, anywhere)", "/uuid.py", ("__eq__", "__ne__")),
]


def profile(sites: list[Site], n: int) -> tuple[dict[str, dict[str, float]], str]:
    """cProfile of n commands per project (profiler on around execute only); cumulative us per command."""
    profilers = {s.name: cProfile.Profile() for s in sites}
    for _ in range(n):
        for site in sites:
            site.prepare()
            prof = profilers[site.name]
            prof.enable()
            site.run()
            prof.disable()
    table: dict[str, dict[str, float]] = {}
    text = []
    for site in sites:
        stats = pstats.Stats(profilers[site.name])
        raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
        per: dict[str, float] = {}
        for _, label, suffix, names in PROFILED:
            spent = sum(v[3] for k, v in raw.items() if k[0].endswith(suffix) and k[2] in names)
            per[label] = spent / n * 1e6
        table[site.name] = per
        out = io.StringIO()
        pstats.Stats(profilers[site.name], stream=out).sort_stats("cumulative").print_stats(40)
        text.append(f"--- {site.name}: {n} commands, sorted by cumulative time ---\n{out.getvalue()}")
    return table, "\n".join(text)


def warmup_rounds(args: argparse.Namespace) -> int:
    """Every pool permit goes once round during the warm-up (its conflict streams are created then)."""
    return int(max(args.warmup, 2 * args.pool + 10))


def run_store(store: str, url: str, args: argparse.Namespace, *, profile_n: int) -> Run:
    clock = ManualClock(START)
    service = PermitService(url, clock=clock)
    undo: Callable[[], None] | None = None
    try:
        print(f"[{store}] building EMPTY and BUSY ({args.candidates} candidates) ...", flush=True)
        empty = build_site(service, clock, "EMPTY", 0, args.areas, args.pool)
        busy = build_site(service, clock, "BUSY", args.candidates, args.areas, args.pool)
        run = Run(store, build_seconds=busy.build_seconds)
        run.facts = {s.name: register_facts(s) for s in (empty, busy)}
        print(f"[{store}] built in {busy.build_seconds:.1f} s; register {run.facts}", flush=True)
        meter = Meter()
        undo = instrument(service, meter)
        gc.collect()
        run.samples = measure([empty, busy], meter, args.n, warmup_rounds(args))
        if profile_n:
            run.profile, run.profile_text = profile([empty, busy], profile_n)
        run.pure = pure_costs(busy, args.pure_n) if args.pure_n else {}
        if store != "memory":
            run.cold = cold_load(url, busy, 20)
        if store == "postgres":
            run.raw_snapshot = raw_snapshot_insert(url.split("schema=")[1], busy)
        for site in (empty, busy):
            statuses = [site.world.permit(pid).status.value for pid in site.pids]
            assert statuses.count("submitted") == 1 and statuses.count("draft") == len(statuses) - 1
        return run
    finally:
        if undo is not None:
            undo()
        service.close()


# --- the report ----------------------------------------------------------------------------------------------------


def pct(values: list[int], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))] / 1000


def p50(values: list[int]) -> float:
    return statistics.median(values) / 1000


def select(run: Run, site: str, command: str | None) -> list[Sample]:
    return [s for s in run.samples[site] if command is None or s.command == command]


def deltas(run: Run, attr: str = "wall") -> dict[str, float]:
    """BUSY p99 - EMPTY p99 (us) per command and for the whole sequence ("both")."""
    out = {}
    for command in (None, "withdraw", "submit"):
        e = [getattr(s, attr) for s in select(run, "EMPTY", command)]
        b = [getattr(s, attr) for s in select(run, "BUSY", command)]
        out[command or "both"] = pct(b, 0.99) - pct(e, 0.99)
    return out


def render(runs: list[Run], facts: dict[str, str], args: argparse.Namespace) -> str:
    opts = f"--n {args.n} --candidates {args.candidates} --areas {args.areas} --pool {args.pool}"
    lines = [
        "### Results (generated by `bench.simops`; rewritten on every run)",
        "",
        f"Measured {facts['date']} with `{opts}` (warm-up {warmup_rounds(args)} rounds; each round runs the same command "
        f"once in EMPTY and once in BUSY, so every row below has {args.n // 2:,} samples and every 'both' "
        f"row {args.n:,}).",
        "",
        report.machine_line(facts),
        "",
        "Reproduce (from the repository root; PostgreSQL at 127.0.0.1:5432, trust auth; "
        "override with `PTW_BENCH_POSTGRES`):",
        "",
        "```",
        f".venv/bin/python -m bench.simops {opts}",
        "```",
        "",
        "The projects as measured (register read once after the build):",
        "",
        "| store | BUSY build (create + nominate + submit each candidate) | register events / footprints / "
        "index keys (BUSY) | conflicts of the measured permit (EMPTY / BUSY) | rows written per command "
        "(EMPTY / BUSY, median) |",
        "|---|---:|---:|---:|---:|",
    ]
    for run in runs:
        e, b = run.facts["EMPTY"], run.facts["BUSY"]
        rows_e = statistics.median(s.rows for s in run.samples["EMPTY"])
        rows_b = statistics.median(s.rows for s in run.samples["BUSY"])
        lines.append(
            f"| {STORE_NAMES[run.store]} | {args.candidates:,} permits in {run.build_seconds:.1f} s | "
            f"{b['version']:,} / {b['footprints']:,} / {b['index_keys']:,} | {e['conflicts']} / "
            f"{b['conflicts']} | {rows_e:.1f} / {rows_b:.1f} |"
        )
    lines += [
        "",
        "Wall-clock per command in microseconds (CPU = the thread's CPU time, which other processes' load and "
        "waiting on the database do not count):",
        "",
        "| store | command | EMPTY p50 | BUSY p50 | EMPTY p99 | BUSY p99 | BUSY - EMPTY p99 | EMPTY max | "
        "BUSY max | CPU p50 EMPTY / BUSY |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        d = deltas(run)
        for command in ("withdraw", "submit", None):
            es = select(run, "EMPTY", command)
            bs = select(run, "BUSY", command)
            ew, bw = [s.wall for s in es], [s.wall for s in bs]
            labels = {"withdraw": "WithdrawPermit", "submit": "SubmitPermit", None: "both (the sequence)"}
            lines.append(
                f"| {STORE_NAMES[run.store]} | {labels[command]} | {p50(ew):,.0f} | {p50(bw):,.0f} | "
                f"{pct(ew, 0.99):,.0f} | {pct(bw, 0.99):,.0f} | **{d[command or 'both']:+,.0f}** | "
                f"{max(ew) / 1000:,.0f} | {max(bw) / 1000:,.0f} | "
                f"{p50([s.cpu for s in es]):,.0f} / {p50([s.cpu for s in bs]):,.0f} |"
            )
    pg = next((r for r in runs if r.store == "postgres"), None)
    lines += [
        "",
        "| bar | target | measured (wall) | met? | informative: the same in thread CPU time |",
        "|---|---|---:|---|---:|",
    ]
    for run in [pg] if pg else runs[:1]:
        d, d_cpu = deltas(run), deltas(run, "cpu")
        for key, label in (
            ("both", "the sequence"),
            ("withdraw", "WithdrawPermit"),
            ("submit", "SubmitPermit"),
        ):
            ok = d[key] <= BAR_US
            lines.append(
                f"| {STORE_NAMES[run.store]}, {label}: BUSY p99 - EMPTY p99 | <= 5,000 us | {d[key]:+,.0f} us | "
                f"{'yes' if ok else '**NO**'} | {d_cpu[key]:+,.0f} us |"
            )
    lines += [
        "",
        "Where the time goes (medians per command, us): 'SIMOPS step' is `handlers.simops_streams` (register "
        "from the cache, footprint, conflicts before and after, the new register / conflict events sealed and "
        "folded); 'write' the recorder's one insert of all the command's events; 'reads' store SELECTs; "
        "'snapshot' snapshot-store puts (encode + insert); 'rest' everything else (stamp, load from the cache, "
        "decide, seal the permit event, encode, cache); 'GC' collector pauses anywhere in the command:",
        "",
        "| store | project | command | total | SIMOPS step | write | reads | snapshot | rest | GC | rows |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        for site in ("EMPTY", "BUSY"):
            for command in ("withdraw", "submit"):
                ss = select(run, site, command)
                lines.append(
                    f"| {STORE_NAMES[run.store]} | {site} | {command} | {p50([s.wall for s in ss]):,.0f} | "
                    f"{p50([s.simops for s in ss]):,.0f} | {p50([s.insert for s in ss]):,.0f} | "
                    f"{p50([s.select for s in ss]):,.0f} | {p50([s.snapshot for s in ss]):,.0f} | "
                    f"{p50([s.rest for s in ss]):,.0f} | {p50([s.gc for s in ss]):,.0f} | "
                    f"{statistics.median(s.rows for s in ss):.0f} |"
                )
    lines += [
        "",
        "The slowest 1% of each project's commands (samples at or above its p99; means, us; 'snapshots' counts "
        "the tail's commands that wrote a snapshot):",
        "",
        "| store | project | samples | wall | SIMOPS step | write | reads | snapshot (snapshots) | rest | "
        "GC (full collections) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        for site in ("EMPTY", "BUSY"):
            ss = run.samples[site]
            cut = pct([s.wall for s in ss], 0.99) * 1000
            tail = [s for s in ss if s.wall >= cut]
            lines.append(
                f"| {STORE_NAMES[run.store]} | {site} | {len(tail)} | {_mean(tail, 'wall'):,.0f} | "
                f"{_mean(tail, 'simops'):,.0f} | {_mean(tail, 'insert'):,.0f} | {_mean(tail, 'select'):,.0f} | "
                f"{_mean(tail, 'snapshot'):,.0f} ({sum(1 for s in tail if s.snapshot)}) | "
                f"{_mean(tail, 'rest'):,.0f} | {_mean(tail, 'gc'):,.0f} ({sum(s.gc_full for s in tail)}) |"
            )
    snaps = [(run, s) for run in runs for s in run.samples["BUSY"] if s.register_snapshot_bytes]
    if snaps:
        lines += [
            "",
            "BUSY commands that wrote the register's snapshot (every 1,000 register events; not in the p99 "
            "when fewer than 1% of the samples):",
            "",
            "| store | command | wall (us) | snapshot put (us) | register snapshot size |",
            "|---|---|---:|---:|---:|",
        ]
        for run, s in snaps:
            lines.append(
                f"| {STORE_NAMES[run.store]} | {s.command} | {s.wall / 1000:,.0f} | {s.snapshot / 1000:,.0f} | "
                f"{s.register_snapshot_bytes / 1e6:.2f} MB |"
            )
    for run in runs:
        if run.raw_snapshot is not None:
            lines += [
                "",
                f"For comparison, a plain psycopg INSERT of the same bytes (binary bytea, its own transaction, "
                f"into a table shaped like the snapshot table) takes {run.raw_snapshot:,.0f} us (median of 10) "
                f"on {STORE_NAMES[run.store]}.",
            ]
    if any(run.pure for run in runs):
        with_pure = [run for run in runs if run.pure]
        size = with_pure[0].pure["snapshot_bytes"][0]
        lines += [
            "",
            f"The SIMOPS step's pure parts on the BUSY register after the run "
            f"({with_pure[0].facts['BUSY']['footprints']:,} footprints; thread CPU time, "
            f"median / p99 us, {args.pure_n} samples each, interleaved), and the register snapshot "
            f"({size / 1e6:.2f} MB):",
            "",
            "| operation | " + " | ".join(STORE_NAMES[run.store] for run in with_pure) + " |",
            "|---|" + "---:|" * len(with_pure),
        ]
        for key, label in PURE_LABELS.items():
            cells = " | ".join(f"{run.pure[key][0]:,.0f} / {run.pure[key][1]:,.0f}" for run in with_pure)
            lines.append(f"| {label} | {cells} |")
        cold = [run for run in runs if run.cold]
        if cold:
            cells = " | ".join(
                f"{run.cold[0]:,.0f} / {run.cold[1]:,.0f} (v{run.cold[2]:,})" if run.cold else "-"
                for run in with_pure
            )
            lines.append(
                "| cold load of the BUSY register (service path for an uncached stream; wall, 20 samples) | "
                f"{cells} |"
            )
    if pg and pg.profile:
        n = args.profile_n
        lines += [
            "",
            f"cProfile of {n} commands per project on PostgreSQL (alternating withdraw / submit; cumulative us per "
            "command under the profiler, which inflates Python roughly 2x; an indented row is part of the nearest "
            "row above it with less indent):",
            "",
            "| function | EMPTY | BUSY | BUSY - EMPTY |",
            "|---|---:|---:|---:|",
        ]
        for depth, label, _, _ in PROFILED:
            e_us, b_us = pg.profile["EMPTY"][label], pg.profile["BUSY"][label]
            shown = "&nbsp;&nbsp;" * depth + label
            lines.append(f"| {shown} | {e_us:,.0f} | {b_us:,.0f} | {b_us - e_us:+,.0f} |")
    lines.append("")
    return "\n".join(lines)


def _mean(samples: list[Sample], attr: str) -> float:
    return statistics.fmean(getattr(s, attr) for s in samples) / 1000 if samples else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=4000, help="measured rounds (commands per project)")
    parser.add_argument("--warmup", type=int, default=50, help="rounds before measuring")
    parser.add_argument("--candidates", type=int, default=2000, help="candidate permits in BUSY")
    parser.add_argument("--areas", type=int, default=200, help="areas the candidates are spread over")
    parser.add_argument("--pure-n", type=int, default=100, help="samples of each pure SIMOPS cost (0: skip)")
    parser.add_argument("--pool", type=int, default=40, help="measured permits per project (one a candidate)")
    parser.add_argument(
        "--profile-n", type=int, default=200, help="commands per project under cProfile (PostgreSQL)"
    )
    parser.add_argument(
        "--stores", default="postgres,sqlite,memory", help="comma-separated: postgres, sqlite, memory"
    )
    parser.add_argument("--profile", action="store_true", help="also print the full cProfile listings")
    parser.add_argument("--no-doc", action="store_true", help="print only; do not rewrite docs/benchmarks.md")
    args = parser.parse_args()

    started = time.monotonic()
    load_at_start = os.getloadavg()[0]
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    runs: list[Run] = []
    if "postgres" in stores:
        with psycopg.connect(DSN, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with tempfile.TemporaryDirectory(prefix="ptw-bench-") as tmp:
            urls = {
                "postgres": f"{DSN}?schema={schema}",
                "sqlite": f"sqlite:///{tmp}/simops.db",
                "memory": "memory://",
            }
            for store in stores:
                t0 = time.monotonic()
                runs.append(
                    run_store(
                        store, urls[store], args, profile_n=args.profile_n if store == "postgres" else 0
                    )
                )
                print(f"[{store}] done in {time.monotonic() - t0:.0f} s", flush=True)
        facts = machine_facts(load_at_start)
    finally:
        if "postgres" in stores:
            with psycopg.connect(DSN, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')

    body = render(runs, facts, args)
    print()
    print(body)
    print(f"total {time.monotonic() - started:.0f} s")
    if args.profile:
        for run in runs:
            if run.profile_text:
                print(run.profile_text)
    if not args.no_doc:
        write_block("simops", SECTION, body)
        print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
