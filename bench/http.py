"""HTTP API benchmarks (issue 5): command throughput against a bare Litestar endpoint, and read latency over HTTP at
100,000 permits, on PostgreSQL, over loopback.

Run from the repository root:  .venv/bin/python -m bench.http [--quick] [--workers 2] [--no-doc] [--profile]

1. Throughput. The real API (`uvicorn --factory ptw_api.http.app:create_app`, W worker processes, projections
   not in-process) serves `POST /api/v1/projects/{project}/permits/{permit}/edit` (EditPermit: a new
   description) round-robin over many drafts, and the baseline — a bare Litestar app defined here, served by
   the same uvicorn with the same W, whose one POST endpoint decodes a msgspec body of the same shape and does one
   raw psycopg INSERT (a connection pool, autocommit) — takes the same load; both servers are up and take turns
   in rounds. The load generator is a separate process (asyncio, a minimal keep-alive HTTP/1.1 client) holding a
   fixed number of requests in flight for a fixed time; only 2xx count, and any other status fails the run.
2. Latency. bench.projections' fixture (generated permits in the store, cloned in the read tables to 100,000), the
   projections caught up, then the API is sampled open-loop at a fixed request rate on list, detail, readiness
   and KPIs; p50/p95/p99 at the client, the server-side time from the API's own request log, and the query
   function alone in-process, side by side. In the same schedule, the floor: the bare app's read of a permit's
   stored state (one raw SELECT, the bytes sent as stored). The samples that overlapped a slow spell of the
   machine (bench.report.Steadiness) are also reported apart.

Every phase uses a fresh PostgreSQL schema `bench_<random>` that is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import importlib.util
import io
import json
import logging
import os
import pickle
import pstats
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import psycopg
from eventsourcing.persistence import StoredEvent
from litestar import Litestar, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from psycopg_pool import ConnectionPool

from bench import report

ROOT = Path(__file__).resolve().parent.parent
DSN = os.environ.get("PTW_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
SECTION = "## HTTP API (issue 5)"
SECRET = "bench-http-secret-" + "x" * 40
HOST = "127.0.0.1"
THROUGHPUT_BAR = 0.6  # command endpoint req/s / bare endpoint req/s
LATENCY_BARS_MS = {"list": 10.0, "detail": 5.0, "readiness": 5.0, "kpis": 20.0}
LIST_QUERY = "status=active&area=AREA-03&sort=-created_at&page_size=50"
BASELINE_SCHEMA_ENV = "PTW_BENCH_BASELINE_SCHEMA"
BASELINE_DSN_ENV = "PTW_BENCH_BASELINE_DSN"


# --- the baseline: a bare Litestar endpoint doing one raw INSERT ------------------------------------------------


class Changes(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    description: str


class EditBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The same shape and size as the EditPermit request body the real endpoint takes."""

    changes: Changes


class Recorded(msgspec.Struct, frozen=True, kw_only=True):
    item_id: UUID
    position: int


def baseline_table(schema: str) -> str:
    return f'"{schema}".baseline_edits'


def create_baseline_table(dsn: str, schema: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {baseline_table(schema)} (position bigserial PRIMARY KEY, item_id uuid NOT NULL, "
            "body bytea NOT NULL, at timestamptz NOT NULL DEFAULT now())"
        )


def create_baseline_app(dsn: str | None = None, schema: str | None = None) -> Litestar:
    """The bare app: one POST endpoint, a msgspec body, one INSERT on a pooled autocommit connection per request.

    Like the real API's handlers it is synchronous and runs in Litestar's thread pool, with a pool of 8
    connections per process (the store's pool size). uvicorn calls it with no arguments: the database comes
    from PTW_BENCH_BASELINE_DSN and PTW_BENCH_BASELINE_SCHEMA.

    For the latency phase it also answers `GET /permits/{id}`: one raw SELECT by primary key of the permit's
    stored state in the list's read table, sent back as it is stored (no token, no decoding, no encoding), in
    the event loop as the real detail is. The least a read of a permit can cost on this machine."""
    dsn = dsn or os.environ[BASELINE_DSN_ENV]
    schema = schema or os.environ[BASELINE_SCHEMA_ENV]
    sql = f"INSERT INTO {baseline_table(schema)} (item_id, body) VALUES (%s, %s) RETURNING position"
    read = f'SELECT state FROM "{schema}_read".permit_list__permits WHERE permit_id = %s'
    pool = ConnectionPool(dsn, min_size=2, max_size=8, kwargs={"autocommit": True}, open=False)

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        pool.open(wait=True)
        try:
            yield
        finally:
            pool.close()

    @post("/items/{item_id:uuid}/edit", sync_to_thread=True, status_code=200)
    def edit(item_id: FromPath[UUID], data: JSONBody[EditBody]) -> Recorded:
        with pool.connection() as conn:
            row = conn.execute(sql, (item_id, msgspec.json.encode(data)), prepare=True).fetchone()
        assert row is not None
        return Recorded(item_id=item_id, position=row[0])

    @get("/permits/{permit_id:uuid}", sync_to_thread=False)
    def permit(permit_id: FromPath[UUID]) -> Response[bytes]:
        with pool.connection() as conn:
            row = conn.execute(read, (permit_id,), prepare=True).fetchone()
        if row is None:
            raise NotFoundException()
        return Response(bytes(row[0]), media_type="application/json")

    @get("/health/live", sync_to_thread=False)
    def live() -> str:
        return "ok"

    return Litestar(route_handlers=[edit, permit, live], lifespan=[lifespan])


# --- the load generator: a minimal keep-alive HTTP/1.1 client -----------------------------------------------------

_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.I)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[ \t]*chunked", re.I)


class Connection:
    """One keep-alive connection; a request is the raw bytes, the answer is (status, body). Far cheaper per
    request than a general-purpose client, so the load generator takes as little of the machine as it can."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = _LENGTH.search(head)
        if length is not None:
            return status, await self.reader.readexactly(int(length.group(1)))
        if _CHUNKED.search(head) is None:
            raise RuntimeError(f"a response without a length: {head[:200]!r}")
        body = bytearray()
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return status, bytes(body)
            body += (await self.reader.readexactly(size + 2))[:-2]

    def close(self) -> None:
        self.writer.close()


def get_request(host: str, port: int, path: str, headers: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}\r\n".encode()


def post_request(host: str, port: int, path: str, body: bytes, headers: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{headers}\r\n"
    ).encode() + body


@dataclass(frozen=True)
class LoadSpec:
    """Closed-loop load: `concurrency` connections, each sending its next request as soon as the last one is
    answered; request k edits `paths[k % len(paths)]` with a body made from `body_format % k` (a new value each
    time, so every edit changes something)."""

    port: int
    paths: list[str]
    body_format: str
    headers: str = ""
    concurrency: int = 16
    seconds: float = 20.0
    warmup: float = 5.0
    max_requests: int | None = None  # stop after this many (tests); the time limits still apply
    first: int = 0  # the k of the first request (a later round goes on where the last one stopped)


@dataclass
class LoadResult:
    completed: int  # 2xx answers completed inside the measured window
    window: float  # seconds
    latencies_ms: list[float]  # of the requests completed inside the window
    failures: list[tuple[int, str]]  # non-2xx answers (anywhere), status and the start of the body
    total: int  # every request sent, warm-up included

    @property
    def rate(self) -> float:
        return self.completed / self.window if self.window else 0.0

    @classmethod
    def merged(cls, parts: list[LoadResult]) -> LoadResult:
        """The rounds of one endpoint as one result: their measured windows and answers together."""
        return cls(
            completed=sum(p.completed for p in parts),
            window=sum(p.window for p in parts),
            latencies_ms=[ms for p in parts for ms in p.latencies_ms],
            failures=[f for p in parts for f in p.failures],
            total=sum(p.total for p in parts),
        )


async def drive(host: str, spec: LoadSpec) -> LoadResult:
    counter = iter(range(spec.first, sys.maxsize))
    conns = []
    for _ in range(spec.concurrency):
        # One at a time, each answered once before the next is opened. Opened together, they all wait in the
        # listen backlog, the first worker to wake accepts every one of them (asyncio accepts all that is
        # pending), and the other workers stay idle: one worker was seen at 90% CPU, the other at 14%.
        conn = await Connection.open(host, spec.port)
        k = next(counter)
        await conn.request(
            post_request(
                host,
                spec.port,
                spec.paths[k % len(spec.paths)],
                (spec.body_format % k).encode(),
                spec.headers,
            )
        )
        conns.append(conn)
    started = time.perf_counter()
    window_start, window_end = started + spec.warmup, started + spec.warmup + spec.seconds
    latencies: list[float] = []
    failures: list[tuple[int, str]] = []
    sent = 0

    async def worker(conn: Connection) -> None:
        nonlocal sent
        while True:
            now = time.perf_counter()
            if now >= window_end or (spec.max_requests is not None and sent >= spec.max_requests):
                return
            k = next(counter)
            sent += 1
            body = (spec.body_format % k).encode()
            raw = post_request(host, spec.port, spec.paths[k % len(spec.paths)], body, spec.headers)
            status, answer = await conn.request(raw)
            done = time.perf_counter()
            if not 200 <= status < 300:
                failures.append((status, answer[:300].decode("utf-8", "replace")))
            elif window_start <= done <= window_end:
                latencies.append((done - now) * 1000)

    try:
        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        for conn in conns:
            conn.close()
    ended = min(time.perf_counter(), window_end)
    window = max(0.0, ended - window_start) if spec.warmup else ended - started
    return LoadResult(len(latencies), window, latencies, failures, sent)


def drive_sync(host: str, spec: LoadSpec) -> LoadResult:
    return asyncio.run(drive(host, spec))


@dataclass(frozen=True)
class PaceSpec:
    """Open-loop sampling: request i is sent at start + i / rate whether or not earlier ones were answered (a
    connection from an idle pool, a new one if none is idle). `schedule` is (endpoint name, path) per request."""

    port: int
    schedule: list[tuple[str, str]]
    rate: float
    headers: str = ""
    warmup: int = 0  # the first requests, not kept
    # Paths every connection asks once, one after another, before the schedule begins. A connection is served
    # by one worker for its life, so every worker that will serve a sample has read them (asked on other
    # connections, a worker that none of those reached read a "cached" permit for the first time in the
    # sampled rounds: seen as a sixth, then a half, of one worker's samples).
    prime: tuple[str, ...] = ()
    elsewhere: dict[str, int] = field(default_factory=dict)  # requests of these names go to that port

    @property
    def primed(self) -> int:
        """The requests made before the schedule (in the server's request log, before the schedule's)."""
        return PACE_CONNECTIONS * len(self.prime)


@dataclass
class Sample:
    name: str
    ms: float  # from taking a connection to the last byte of the answer
    status: int
    late_ms: float  # how far after its scheduled time the request went out (the client's own lag)
    size: int
    due: float = 0.0  # its slot, seconds from the start of the schedule
    started: float = 0.0  # when it was taken up, time.perf_counter (the same clock in every process)


PACE_CONNECTIONS = 8


async def pace(host: str, spec: PaceSpec) -> list[Sample]:
    pools: dict[int, list[Connection]] = {}
    for port in (spec.port, *spec.elsewhere.values()):
        pools[port] = []
        for _ in range(PACE_CONNECTIONS):  # one at a time, each answered once before the next opens (`drive`)
            conn = await Connection.open(host, port)
            await conn.request(get_request(host, port, "/health/live"))
            pools[port].append(conn)
    for conn in pools[spec.port]:
        for path in spec.prime:
            status, _body = await conn.request(get_request(host, spec.port, path, spec.headers))
            if not 200 <= status < 300:
                raise RuntimeError(f"priming {path} answered {status}")
    samples: list[Sample] = []
    tasks = []

    async def one(name: str, path: str, due: float, keep: bool) -> None:
        started = time.perf_counter()
        port = spec.elsewhere.get(name, spec.port)
        idle = pools[port]
        raw = get_request(host, port, path, spec.headers)
        conn = idle.pop(0) if idle else await Connection.open(host, port)
        try:
            status, body = await conn.request(raw)
        except (ConnectionError, asyncio.IncompleteReadError):  # the server closed an idle connection
            conn.close()
            conn = await Connection.open(host, port)
            status, body = await conn.request(raw)
        ms = (time.perf_counter() - started) * 1000
        idle.append(conn)
        if keep:
            samples.append(Sample(name, ms, status, (started - due) * 1000, len(body), due - begin, started))

    begin = time.perf_counter() + 0.05
    for i, (name, path) in enumerate(spec.schedule):
        due = begin + i / spec.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(name, path, due, i >= spec.warmup)))
    await asyncio.gather(*tasks)
    for idle in pools.values():
        for conn in idle:
            conn.close()
    return samples


def pace_sync(host: str, spec: PaceSpec) -> list[Sample]:
    return asyncio.run(pace(host, spec))


def in_load_process(fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn(*args)` (a function of this module) in a fresh Python process of its own: the load generator
    never shares a core's time slice or the GIL with the bench. Arguments and result travel pickled."""
    payload = pickle.dumps((fn.__name__, args))
    done = subprocess.run(
        [sys.executable, "-c", "import bench.http; bench.http.load_process()"],
        input=payload,
        capture_output=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode:
        raise RuntimeError(f"the load process failed:\n{done.stderr.decode()[-3000:]}")
    return pickle.loads(done.stdout)


def load_process() -> None:
    name, args = pickle.loads(sys.stdin.buffer.read())
    result = globals()[name](*args)
    sys.stdout.buffer.write(pickle.dumps(result))


# --- serving: uvicorn with W workers as a subprocess --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def log_config(access_log: Path | None) -> dict[str, Any]:
    """uvicorn's own messages to stderr; the API's JSON request log (one line per request with its server-side
    time) to a file when `access_log` is given, else nowhere."""
    handlers: dict[str, Any] = {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}}
    access: dict[str, Any] = {"handlers": [], "level": "WARNING", "propagate": False}
    if access_log is not None:
        handlers["access"] = {"class": "logging.FileHandler", "filename": str(access_log)}
        access = {"handlers": ["access"], "level": "INFO", "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": handlers,
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "ptw.api.access": access,
        },
    }


# uvicorn's workers on one shared socket, bound as `ptw serve --workers N` binds it (ServeConfig: as TCP, so that
# Nagle's algorithm is off on accepted connections); the client's idle connections stay open between paced
# requests (keep-alive 60 s). Arguments: factory, host, port, workers, log config file.
LAUNCH = """
import sys
from ptw_api.serve_cli import ServeConfig, serve_workers
factory, host, port, workers, log_config = sys.argv[1:]
serve_workers(ServeConfig(
    factory, factory=True, host=host, port=int(port), workers=int(workers), access_log=False,
    timeout_keep_alive=60, log_config=log_config,
))
"""


@contextmanager
def serve(
    factory: str, env: dict[str, str], workers: int, tmp: Path, *, access_log: Path | None = None
) -> Iterator[int]:
    """Start uvicorn's workers for `factory` on a free loopback port (see LAUNCH); yields the port once every
    worker has completed its startup; stops them (SIGTERM to the process started here) on the way out."""
    port = free_port()
    config = tmp / f"log-{port}.json"
    config.write_text(json.dumps(log_config(access_log)))
    stderr = tmp / f"uvicorn-{port}.log"
    command = [sys.executable, "-c", LAUNCH, factory, HOST, str(port), str(workers), str(config)]
    with stderr.open("wb") as err:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=err, stderr=err)
    try:
        deadline = time.monotonic() + 120
        while stderr.read_text().count("Application startup complete.") < workers:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start:\n{stderr.read_text()[-3000:]}")
            time.sleep(0.1)
        try:
            yield port
        except BaseException:
            print(f"--- the server's log ({factory}) ---\n{stderr.read_text()[-20000:]}", file=sys.stderr)
            raise
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def api_env(url: str) -> dict[str, str]:
    return {
        "PTW_DATABASE_URL": url,
        "PTW_JWT_SECRET": SECRET,
        "PTW_RATE_LIMITS_ENABLED": "false",
        "PTW_RUN_PROJECTIONS": "false",
    }


def api_settings(url: str) -> Any:
    from ptw_api.http.settings import ApiSettings

    return ApiSettings(database_url=url, jwt_secret=SECRET, rate_limits_enabled=False, run_projections=False)


def token(url: str, project_id: UUID, person: Any) -> str:
    from ptw_api.http.auth import ProjectGrant, mint_token

    grant = ProjectGrant(
        roles=person.roles,
        authority_level=person.authority_level,
        company_id=person.company_id,
        company_kind=person.company_kind,
    )
    return mint_token(
        api_settings(url),
        subject=person.person_id,
        name=person.name,
        projects={project_id: grant},
        lifetime=timedelta(hours=2),
    )


@contextmanager
def fresh_schema() -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(DSN, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        with psycopg.connect(DSN, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}_read" CASCADE')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- 1. throughput -----------------------------------------------------------------------------------------------


def prepare_drafts(url: str, count: int) -> tuple[UUID, list[UUID], Any]:
    """A project with `count` drafts by the requestor `req` (and a permit submitted, approved and active
    elsewhere on the site), made through the public service in memory and copied into the PostgreSQL store with
    the store's own recorder (as bench.projections does)."""
    from tests.builders import World

    from ptw_domain.clock import ManualClock
    from ptw_domain.service import PermitService
    from ptw_domain.store.application import PtwStore
    from ptw_domain.store.settings import store_env

    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    service = PermitService("memory://", clock=clock)
    world = World.create(service, clock)
    # A project as it is in use: permits past draft too, so its SIMOPS register exists (each command reads it).
    for stage in (world.submitted, world.approved, world.active):
        stage(area="AREA-99")
    drafts = [world.draft(area=f"AREA-{i % 40:02d}") for i in range(count)]
    rows = service.store.recorder.select_notifications(start=0, limit=10**9)
    events = [StoredEvent(r.originator_id, r.originator_version, r.topic, r.state) for r in rows]
    service.close()
    store = PtwStore(env=store_env(url))
    for start in range(0, len(events), 5000):
        store.recorder.insert_events(events[start : start + 5000])
    store.close()
    return world.project_id, drafts, world.people["req"]


@dataclass
class Throughput:
    api: LoadResult
    baseline: LoadResult
    drafts: int
    recorded: int = 0  # events the command endpoint appended (warm-up included)
    refused: int = 0  # appends refused by the primary key: a worker's cached version was stale
    # each round's command rate over the bare rate of the same round, in the order they ran
    round_ratios: list[float] = field(default_factory=list)
    warm_rates: tuple[float, float] = (0.0, 0.0)  # the warm-up pass: command, bare (req/s)

    @property
    def ratio(self) -> float:
        return self.api.rate / self.baseline.rate


EDIT_BODY = '{"changes":{"description":"bench edit %d"}}'


def check(result: LoadResult, what: str) -> None:
    if result.failures:
        status, body = result.failures[0]
        raise RuntimeError(f"{what}: {len(result.failures)} non-2xx answers, the first {status}: {body}")
    if not result.completed:
        raise RuntimeError(f"{what}: no request completed in the measured window")


def throughput(args: argparse.Namespace, tmp: Path) -> tuple[Throughput, str]:
    profile = ""
    with fresh_schema() as schema:
        url = f"{DSN}?schema={schema}"
        print(f"throughput: {args.drafts:,} drafts in schema {schema} …", flush=True)
        project_id, drafts, requestor = prepare_drafts(url, args.drafts)
        bearer = f"Authorization: Bearer {token(url, project_id, requestor)}\r\n"
        base = f"/api/v1/projects/{project_id}/permits"
        spec = LoadSpec(
            port=0,
            paths=[f"{base}/{pid}/edit" for pid in drafts],
            body_format=EDIT_BODY,
            headers=bearer,
            concurrency=args.concurrency,
            seconds=args.seconds,
            warmup=args.warmup,
        )
        create_baseline_table(DSN, schema)
        items = [uuid.uuid4() for _ in drafts]
        baseline_spec = LoadSpec(
            port=0,
            paths=[f"/items/{item}/edit" for item in items],
            body_format=EDIT_BODY,
            concurrency=args.concurrency,
            seconds=args.seconds,
            warmup=args.warmup,
        )
        inserted, rows = append_counts(schema)
        env = {BASELINE_DSN_ENV: DSN, BASELINE_SCHEMA_ENV: schema}
        with (
            serve("ptw_api.http.app:create_app", api_env(url), args.workers, tmp) as api_port,
            serve("bench.http:create_baseline_app", env, args.workers, tmp) as baseline_port,
        ):
            # Every draft edited WARM_PASSES times first, on both servers alike: a worker's first edit of a
            # permit loads it from the store (and decides it again, ADR 0017), so until each worker has seen each
            # draft the rounds would measure the caches filling, by how fast this machine runs that day.
            warm = [
                in_load_process(
                    drive_sync,
                    HOST,
                    _with_port(s, port, seconds=WARM_LIMIT, warmup=0, max_requests=WARM_PASSES * len(drafts)),
                )
                for s, port in ((spec, api_port), (baseline_spec, baseline_port))
            ]
            for result, what in zip(warm, ("the command endpoint", "the bare endpoint"), strict=True):
                check(result, what)
            print(f"  warm-up pass:     {warm[0].rate:,.0f} / {warm[1].rate:,.0f} req/s", flush=True)
            api_rounds, baseline_rounds = alternate(
                [
                    (_with_port(spec, api_port, first=warm[0].total), "the command endpoint"),
                    (_with_port(baseline_spec, baseline_port, first=warm[1].total), "the bare endpoint"),
                ],
                args.rounds,
            )
        api, baseline = LoadResult.merged(api_rounds), LoadResult.merged(baseline_rounds)
        ratios = [a.rate / b.rate for a, b in zip(api_rounds, baseline_rounds, strict=True)]
        time.sleep(1.5)  # the servers' connections have closed; their statistics reach pg_stat at exit
        inserted_after, rows_after = append_counts(schema)
        recorded = rows_after - rows
        refused = inserted_after - inserted - recorded
        print(f"  command endpoint: {api.rate:,.0f} req/s", flush=True)
        print(f"  bare endpoint:    {baseline.rate:,.0f} req/s", flush=True)
        print(f"  ratio per round:  {' '.join(f'{r:.2f}' for r in ratios)}", flush=True)
        if args.profile:
            profile = profile_requests(
                url, [("POST", f"{base}/{pid}/edit", bearer) for pid in drafts[:300]], EDIT_BODY
            )
    return Throughput(
        api, baseline, len(drafts), recorded, refused, ratios, (warm[0].rate, warm[1].rate)
    ), profile


WARM_PASSES = 5  # edits of every draft before the measured rounds (each worker sees about 97 % of the drafts)
WARM_LIMIT = 300.0  # seconds a warm-up pass may take at most
ROUND_WARMUP = 1.0  # seconds before a later round measures: its connections opened and answered once


def alternate(specs: list[tuple[LoadSpec, str]], rounds: int) -> list[list[LoadResult]]:
    """Drive each spec's server in turn, `rounds` times over, each round a share of its measured seconds (the
    first with the spec's warm-up, the later ones a short one), so that a slow spell of the machine falls on
    both endpoints alike rather than on whichever ran then; each endpoint's rounds in order."""
    done: list[list[LoadResult]] = [[] for _ in specs]
    for r in range(rounds):
        for (spec, what), parts in zip(specs, done, strict=True):
            part = dataclasses.replace(
                spec,
                seconds=spec.seconds / rounds,
                warmup=spec.warmup if r == 0 else ROUND_WARMUP,
                first=spec.first + sum(p.total for p in parts),
            )
            parts.append(in_load_process(drive_sync, HOST, part))
            check(parts[-1], what)
    return done


def append_counts(schema: str) -> tuple[int, int]:
    """Rows ever inserted into the events table (refused ones too: a row is written before the primary key
    refuses it, and stays dead) and rows there now."""
    with psycopg.connect(DSN, autocommit=True) as conn:
        row = conn.execute(
            "SELECT n_tup_ins FROM pg_stat_user_tables WHERE schemaname = %s AND relname = 'ptw_events'",
            (schema,),
        ).fetchone()
        count = conn.execute(f'SELECT count(*) FROM "{schema}".ptw_events').fetchone()
    return (int(row[0]) if row else 0), (int(count[0]) if count else 0)


def _with_port(spec: Any, port: int, **changes: Any) -> Any:
    return type(spec)(**{**spec.__dict__, "port": port, **changes})


# --- 2. latency at 100,000 permits --------------------------------------------------------------------------------

# The projections the sampled reads use (list and detail: permit_list; KPIs: kpis) and the board, which
# bench.projections' `grow` fills too. Readiness reads the permit's streams (from the worker's cache when its
# watch vouches for them, ADR 0016).
PROJECTED = ("permit_list", "kpis", "board")
LOW_ENDPOINTS = ("list", "detail", "readiness", "kpis")
ENDPOINTS = ("list", "detail", "readiness", "kpis", "readiness_cold")
BARE_READ = "bare_detail"  # the bare app's read of a permit's stored state, sampled in turn with the API's
LABELS = {
    "list": f"list `GET …/permits?{LIST_QUERY}&as_of=…`",
    "detail": "detail `GET …/permits/{id}`",
    "readiness": "readiness `GET …/permits/{id}/readiness` (permit cached and vouched for by the worker's watch)",
    "kpis": "KPIs `GET …/kpis?as_of=…`",
    "readiness_cold": "readiness, first read of the permit in its worker (stream loaded)",
    BARE_READ: "floor: the bare app's `GET /permits/{id}` (one raw SELECT of the stored state, sent as stored)",
}


@dataclass
class Latency:
    permits: int
    generated: int
    rate: float
    achieved: float
    samples: dict[str, list[float]]
    server: dict[str, list[float]]
    inproc: dict[str, list[float]]
    late_p99: float
    list_total: int
    sizes: dict[str, int] = field(default_factory=dict)
    slow: list[tuple[float, float]] = field(default_factory=list)  # (slot s, ms) of answers over SLOW_MS
    low: dict[str, list[float]] = field(default_factory=dict)  # client ms at --low-rate
    low_server: dict[str, list[float]] = field(default_factory=dict)
    steadiness: str = ""  # report.Steadiness.line of the sampled schedule
    # per read: in-process ms through the app back to back, and after WAKE_PAUSE (`wake_up`)
    wake: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    # client ms of the samples no slow spell came near, and the share of the schedule's time the spells cover
    clear: dict[str, list[float]] = field(default_factory=dict)
    spell_share: float = 0.0


def spell_share(samples: list[Sample], spells: list[tuple[float, float]]) -> float:
    """The share of the time from the first request taken up to the last answered that the slow spells cover
    (overlapping spells counted once)."""
    if not samples:
        return 0.0
    begin = min(s.started for s in samples)
    end = max(s.started + s.ms / 1000 for s in samples)
    covered, reach = 0.0, begin
    for a, b in sorted(spells):
        a, b = max(a, reach), min(b, end)
        if b > a:
            covered += b - a
            reach = b
    return covered / (end - begin)


def clear_of(samples: list[Sample], spells: list[tuple[float, float]]) -> dict[str, list[float]]:
    """Per read, the client times of the samples whose request overlapped none of the machine's slow spells
    (`report.Steadiness.slow_spells`)."""
    out: dict[str, list[float]] = {name: [] for name in (*ENDPOINTS, BARE_READ)}
    for s in samples:
        end = s.started + s.ms / 1000
        if not any(a < end and s.started < b for a, b in spells):
            out[s.name].append(s.ms)
    return out


SLOW_MS = 100.0


def episodes(slow: list[tuple[float, float]], gap: float = 1.0) -> list[tuple[float, float, int]]:
    """Slow answers grouped into stretches of time (a gap of more than `gap` seconds between slots starts a
    new one): (start, end, count) each."""
    out: list[tuple[float, float, int]] = []
    for at, _ms in sorted(slow):
        if out and at - out[-1][1] <= gap:
            out[-1] = (out[-1][0], at, out[-1][2] + 1)
        else:
            out.append((at, at, 1))
    return out


def latency_fixture(url: str, generated: int, permits: int) -> tuple[UUID, list[UUID], Any]:
    """bench.projections' fixture: `generated` permits through their lifecycles in the store, every projection
    caught up, the list/KPI/board tables grown to `permits` by cloning. Returns the project, the permits that
    exist in the store, and a member to call as."""
    from bench.projections import generate, grow, load
    from ptw_projections.database import open_read_database
    from ptw_projections.registry import projections
    from ptw_projections.runner import Runner

    step = time.monotonic()

    def done(what: str) -> None:
        nonlocal step
        print(f"  {what}: {time.monotonic() - step:.0f} s", flush=True)
        step = time.monotonic()

    events = generate(generated)
    done(f"{len(events):,} events generated (in memory)")
    store = load(url, events)
    db = open_read_database(url)
    for projection in projections(list(PROJECTED)):
        runner = Runner(store, db, projection)
        runner.catch_up(runner.live_generation())
    db.dispose()
    done(f"loaded into PostgreSQL, {', '.join(PROJECTED)} caught up")
    project_id = grow(url, store, permits)
    done(f"read tables grown to {permits:,} permits")
    with psycopg.connect(DSN, autocommit=True) as conn:
        schema = url.rsplit("schema=", 1)[1]
        rows = conn.execute(
            f'SELECT permit_id FROM "{schema}_read".permit_list__permits WHERE number NOT LIKE %s',
            ("GEN-%",),
        ).fetchall()
    store.close()
    in_store = sorted(r[0] for r in rows)
    if len(in_store) < generated:
        raise RuntimeError(f"found {len(in_store)} permits in the store, expected {generated}")
    from tests.builders import member

    from ptw_domain.roles import Role

    return project_id, in_store, member("safe", Role.SAFETY_OFFICER, level=2)


def latency(args: argparse.Namespace, tmp: Path) -> tuple[Latency, str]:
    from tests.builders import START

    profile = ""
    as_of = (START + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    with fresh_schema() as schema:
        url = f"{DSN}?schema={schema}"
        print(
            f"latency: {args.generated:,} generated permits, grown to {args.permits:,} in schema {schema} …",
            flush=True,
        )
        started = time.monotonic()
        project_id, in_store, person = latency_fixture(url, args.generated, args.permits)
        print(f"  fixture ready in {time.monotonic() - started:.0f} s", flush=True)
        base = f"/api/v1/projects/{project_id}"
        warm = in_store[: args.warm_permits]
        cold = in_store[args.warm_permits :]
        paths = {
            "list": lambda i: f"{base}/permits?{LIST_QUERY}&as_of={as_of}",
            "detail": lambda i: f"{base}/permits/{in_store[i % len(in_store)]}",
            "readiness": lambda i: f"{base}/permits/{warm[i % len(warm)]}/readiness",
            "kpis": lambda i: f"{base}/kpis?as_of={as_of}",
            "readiness_cold": lambda i: f"{base}/permits/{cold[i % len(cold)]}/readiness",
            BARE_READ: lambda i: f"/permits/{in_store[i % len(in_store)]}",
        }
        rounds = args.samples + args.warmup_rounds
        if len(cold) < rounds:
            raise RuntimeError(f"{len(cold)} permits for first reads, {rounds} needed: raise --generated")
        names = (*ENDPOINTS, BARE_READ)
        schedule = [(name, paths[name](i)) for i in range(rounds) for name in names]
        rate = args.rate * len(names) / len(ENDPOINTS)  # the API's reads at --rate, the floor's besides
        bearer = f"Authorization: Bearer {token(url, project_id, person)}\r\n"
        access = tmp / "access.log"
        bare_env = {BASELINE_DSN_ENV: DSN, BASELINE_SCHEMA_ENV: schema}
        with (
            serve("ptw_api.http.app:create_app", api_env(url), args.workers, tmp, access_log=access) as port,
            serve("bench.http:create_baseline_app", bare_env, args.workers, tmp) as bare_port,
        ):
            cached = tuple(paths["readiness"](i) for i in range(len(warm)))
            spec = PaceSpec(
                port=port,
                schedule=schedule,
                rate=rate,
                headers=bearer,
                warmup=args.warmup_rounds * len(names),
                prime=cached,
                elsewhere={BARE_READ: bare_port},
            )
            began = time.perf_counter()
            with report.Steadiness(tmp) as steadiness:
                got = in_load_process(pace_sync, HOST, spec)
            achieved = rounds * len(ENDPOINTS) / (time.perf_counter() - began)
            low: list[Sample] = []
            if args.low_rate:
                # The same reads at a low rate, where the server keeps up: what each request costs, unqueued.
                gentle = [(n, paths[n](i)) for i in range(args.low_samples + 10) for n in LOW_ENDPOINTS]
                gentle_spec = PaceSpec(
                    port=port, schedule=gentle, rate=args.low_rate, headers=bearer, warmup=40, prime=cached
                )
                low = in_load_process(pace_sync, HOST, gentle_spec)
        bad = [s for s in got + low if not 200 <= s.status < 300]
        if bad:
            raise RuntimeError(f"{len(bad)} non-2xx answers, the first {bad[0].status} on {bad[0].name}")
        samples = {name: [s.ms for s in got if s.name == name] for name in names}
        sizes = {name: max(s.size for s in got if s.name == name) for name in names}
        first = slice(spec.primed, spec.primed + rounds * len(ENDPOINTS))
        server = server_times(access, project_id, set(warm), warmup=args.warmup_rounds, lines=first)
        low_samples = {name: [s.ms for s in low if s.name == name] for name in LOW_ENDPOINTS}
        after = spec.primed + rounds * len(ENDPOINTS) + spec.primed  # the low-rate connections prime too
        low_server = server_times(access, project_id, set(warm), warmup=10, lines=slice(after, None))
        print("  in-process query functions …", flush=True)
        inproc, total = in_process(url, project_id, in_store, warm, as_of, args.inproc_samples)
        print("  waking up: the reads in-process, back to back and after a pause …", flush=True)
        wake_paths = {
            "health": ["/health/live"],
            "detail": [paths["detail"](i) for i in range(len(in_store))],
            "readiness": [paths["readiness"](i) for i in range(len(warm))],
        }
        wake = in_load_process(wake_up, url, bearer, wake_paths, args.inproc_samples)
        if args.profile:
            calls = [
                ("GET", paths[name](i), bearer)
                for i in range(40)
                for name in ("list", "detail", "readiness", "kpis")
            ]
            profile = profile_requests(url, calls, "")
    late = percentile([s.late_ms for s in got], 0.99)
    spells = steadiness.slow_spells()
    slow = [(s.due, s.ms) for s in got if s.ms > SLOW_MS]
    return Latency(
        args.permits,
        args.generated,
        args.rate,
        achieved,
        samples,
        server,
        inproc,
        late,
        total,
        sizes,
        slow,
        low_samples if low else {},
        low_server if low else {},
        steadiness.line("the sampled schedule"),
        wake,
        clear_of(got, spells),
        spell_share(got, spells),
    ), profile


def server_times(
    access: Path,
    project_id: UUID,
    warm: set[UUID],
    *,
    warmup: int,
    lines: slice = slice(None),
) -> dict[str, list[float]]:
    """The API's own request log: the time from the first middleware receiving the request to the response
    sent (no socket, no HTTP parsing), per endpoint, the warm-up rounds left out. `lines` picks one sampling
    run's lines (the runs follow one another, each finished before the next starts)."""
    out: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    seen: dict[str, int] = dict.fromkeys(ENDPOINTS, 0)
    prefix = f"/api/v1/projects/{project_id}"
    for line in access.read_text().splitlines()[lines]:
        entry = json.loads(line)
        path = entry["path"].removeprefix(prefix)
        if path == "/permits":
            name = "list"
        elif path == "/kpis":
            name = "kpis"
        elif path.endswith("/readiness"):
            name = "readiness" if UUID(path.split("/")[2]) in warm else "readiness_cold"
        else:
            name = "detail"
        seen[name] += 1
        if seen[name] > warmup:
            out[name].append(float(entry["ms"]))
    return out


WAKE_PAUSE = 0.02  # seconds: about what each of two workers sees between requests at 50 requests/s
WAKE_READS = ("health", "detail", "readiness")


def wake_up(
    url: str, bearer: str, paths: dict[str, list[str]], n: int
) -> dict[str, tuple[list[float], list[float]]]:
    """The reads through the whole app in this process (ASGI, no sockets, no other process): `n` back to back,
    then `n` each after a pause of WAKE_PAUSE. What the pause adds is what a request costs a machine that went idle
    in between (caches gone cold, a halted core woken), which every request of the paced schedule pays."""
    from ptw_api.http.app import create_app

    app = create_app(api_settings(url))
    token = bearer.split(": ", 1)[1].strip().encode()

    async def call(path: str) -> None:
        scope: Any = {  # an ASGI HTTP scope, as uvicorn makes it
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", HOST.encode()), (b"authorization", token)],
            "client": (HOST, 1),
            "server": (HOST, 80),
        }
        sent: list[Any] = []

        async def receive() -> Any:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        await app(scope, receive, send)
        if sent[0]["status"] != 200:
            raise RuntimeError(f"{path} answered {sent[0]['status']}")

    async def timed(path: str, pause: float) -> float:
        if pause:
            await asyncio.sleep(pause)
        started = time.perf_counter()
        await call(path)
        return (time.perf_counter() - started) * 1000

    async def run() -> dict[str, tuple[list[float], list[float]]]:
        messages: asyncio.Queue[Any] = asyncio.Queue()
        lifespan: Any = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        started: list[Any] = []

        async def lifespan_send(message: Any) -> None:
            started.append(message)

        await messages.put({"type": "lifespan.startup"})
        life = asyncio.create_task(app(lifespan, messages.get, lifespan_send))
        while not started:
            await asyncio.sleep(0.01)
        out: dict[str, tuple[list[float], list[float]]] = {}
        for name in WAKE_READS:
            for path in paths[name]:
                await call(path)  # each read once before: readiness from the cache, as served
            hot = [await timed(paths[name][i % len(paths[name])], 0) for i in range(n)]
            paused = [await timed(paths[name][i % len(paths[name])], WAKE_PAUSE) for i in range(n)]
            out[name] = (hot, paused)
        await messages.put({"type": "lifespan.shutdown"})
        await life
        return out

    logging.getLogger("ptw.api.access").setLevel(logging.WARNING)  # as under uvicorn here: no handler for it
    return asyncio.run(run())


def in_process(
    url: str, project_id: UUID, in_store: list[UUID], warm: list[UUID], as_of: str, n: int
) -> tuple[dict[str, list[float]], int]:
    """The same reads as the endpoints, called directly (no HTTP, no serialisation): the floor of each."""
    from ptw_domain.clock import SystemClock
    from ptw_domain.service import PermitService
    from ptw_projections import params
    from ptw_projections.database import open_read_database
    from ptw_projections.kpis.query import kpis
    from ptw_projections.permit_list.detail import permit_detail
    from ptw_projections.permit_list.query import PermitQuery, list_permits
    from ptw_projections.reader import ReadSide

    reads = ReadSide(open_read_database(url))
    service = PermitService(url, clock=SystemClock(), watch_other_writers=True)  # as an API worker's
    at = params.instant("as_of", as_of)
    query = PermitQuery(status="active", area="AREA-03", sort="-created_at", page_size=50)
    ops: dict[str, Callable[[int], Any]] = {
        "list": lambda i: list_permits(reads, project_id, query, as_of=at),
        "detail": lambda i: permit_detail(
            reads, project_id, in_store[i % len(in_store)], as_of=datetime.now(UTC)
        ),
        # as the endpoint asks it: in the project, reflecting at least nothing (no write of the caller's)
        "readiness": lambda i: service.readiness(warm[i % len(warm)], within=project_id, at_least=0),
        "kpis": lambda i: kpis(reads, project_id, as_of=at),
    }
    out: dict[str, list[float]] = {name: [] for name in ops}
    try:
        total = list_permits(reads, project_id, query, as_of=at).total
        for k in range(len(warm)):  # each read once before sampling, as the served ones are (`prime`)
            ops["readiness"](k)
        for i in range(n + 20):
            for name, op in ops.items():
                started = time.perf_counter()
                op(i)
                if i >= 20:
                    out[name].append((time.perf_counter() - started) * 1000)
    finally:
        service.close()
        reads.db.dispose()
    return out, total


# --- profiling requests in-process (every thread: the event loop's and the handler pool's) ------------------------


def profile_requests(
    url: str, calls: list[tuple[str, str, str]], body_format: str, *, dump: Path | None = None
) -> str:
    """cProfile of `calls` (method, path, header line) through the real app in-process (Litestar's TestClient):
    each thread the app runs gets its own profiler once recording starts (after a warm-up), merged at the end."""
    from litestar.testing import TestClient

    from ptw_api.http.app import create_app

    profilers: list[cProfile.Profile] = []
    lock = threading.Lock()
    recording = threading.Event()

    def hook(_frame: Any, _event: str, _arg: Any) -> None:
        if recording.is_set():
            profiler = cProfile.Profile()
            with lock:
                profilers.append(profiler)
            profiler.enable()  # replaces this hook in this thread

    def run(client: Any, k: int, method: str, path: str, header: str) -> None:
        name, value = header.strip().split(": ", 1)
        if method == "POST":
            response = client.post(path, content=(body_format % k).encode(), headers={name: value})
        else:
            response = client.get(path, headers={name: value})
        assert response.status_code < 300, response.text

    threading.setprofile(hook)
    try:
        with TestClient(create_app(api_settings(url))) as client:
            for quiet in ("ptw.api.access", "httpx"):  # as under uvicorn here: no handler for these
                logging.getLogger(quiet).setLevel(logging.WARNING)
            for k, call in enumerate(calls[:20]):
                run(client, 10**6 + k, *call)  # warm-up; makes the pool's threads
            main = cProfile.Profile()
            profilers.append(main)
            recording.set()
            started = time.perf_counter()
            main.enable()
            for k, call in enumerate(calls):
                run(client, 2 * 10**6 + k, *call)
            main.disable()
            elapsed = time.perf_counter() - started
            recording.clear()
            out = io.StringIO()
            stats = pstats.Stats(profilers[0], stream=out)
            for profiler in profilers[1:]:
                stats.add(profiler)  # a snapshot: the other threads' profilers stop counting here
    finally:
        threading.setprofile(None)
    if dump is not None:
        stats.dump_stats(dump)
    out.write(f"{len(calls)} requests in {elapsed:.2f} s ({elapsed / len(calls) * 1000:.2f} ms each), ")
    out.write(f"{len(profilers)} threads profiled; threads waiting for work are left out of the first list\n")
    stats.sort_stats("cumulative").print_stats(45)
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for key in [k for k in table if k[2] in IDLE]:
        del table[key]
    stats.sort_stats("tottime").print_stats(30)
    return out.getvalue()


# Where an idle thread blocks (the event loop waiting for sockets, pool threads waiting for work, the client
# waiting for the answer): not work of the request.
IDLE = {
    "<method 'get' of '_queue.SimpleQueue' objects>",
    "<method 'acquire' of '_thread.lock' objects>",
    "<method 'poll' of 'select.epoll' objects>",
}


# --- facts and the report -----------------------------------------------------------------------------------------


def server_parts() -> str:
    """What uvicorn's `auto` settings pick here: httptools (a dependency, ADR 0016) else h11, uvloop if installed else
    asyncio's own loop."""
    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio loop"
    return f"{parser}, {loop}"


def facts(load_at_start: float, workers: int) -> dict[str, str]:
    with psycopg.connect(DSN, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        sync = conn.execute("SHOW synchronous_commit").fetchone()
    versions = {
        "PostgreSQL": f"{row[0] if row else '?'} on 127.0.0.1 (synchronous_commit={sync[0] if sync else '?'})",
        "Litestar": report.version("litestar"),
        "uvicorn": report.version("uvicorn") + f" ({workers} workers, {server_parts()})",
        "psycopg": psycopg.__version__,
    }
    return report.machine_facts(load_at_start, versions)


def command_line(args: argparse.Namespace) -> str:
    if args.quick:
        return ".venv/bin/python -m bench.http --quick"
    parts = [".venv/bin/python -m bench.http"]
    defaults = parser().parse_args([])
    names = (
        "workers",
        "concurrency",
        "seconds",
        "warmup",
        "drafts",
        "permits",
        "generated",
        "rate",
        "low_rate",
    )
    for name in names:
        value = getattr(args, name)
        if value != getattr(defaults, name):
            parts.append(
                f"--{name.replace('_', '-')} {value:g}" if isinstance(value, float) else f"--{name} {value}"
            )
    return " ".join(parts)


def yes(ok: bool) -> str:
    return "yes" if ok else "**NO**"


def render(t: Throughput | None, lat: Latency | None, f: dict[str, str], args: argparse.Namespace) -> str:
    lines = [
        "### Results (generated by `bench.http`; rewritten on every run)",
        "",
        f"Measured {f['date']}"
        + (" (`--quick`: a small run, not the bar sizes)" if args.quick else "")
        + ".",
        "",
        report.machine_line(f),
        "",
        "```",
        command_line(args),
        "```",
        "",
    ]
    bars: list[tuple[str, str, str, bool]] = []
    if t is not None:
        lines += [
            f"**Throughput** — {args.workers} uvicorn workers each, one load process holding {args.concurrency} "
            f"requests in flight, {args.seconds:g} s measured per endpoint in {args.rounds} rounds taken in turn "
            f"(both servers up; {args.warmup:g} s warm-up before an endpoint's first round, {ROUND_WARMUP:g} s "
            "before the others), so that a slow spell of this machine falls on both alike; only 2xx answers count "
            "(none other was seen). Latency is per request at the client under that saturating load. Before the "
            f"rounds, a warm-up pass edits every draft {WARM_PASSES} times on each server (a worker's first edit "
            "of a permit loads it from the store; the rounds measure the steady state): "
            f"{t.warm_rates[0]:,.0f} req/s on the command endpoint while its caches filled, "
            f"{t.warm_rates[1]:,.0f} on the bare one.",
            "",
            "| endpoint | requests (2xx) | req/s | p50 (ms) | p99 (ms) | ratio to bare |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        rows = (
            (
                "bare Litestar: msgspec body + one raw psycopg INSERT (pool, autocommit)",
                t.baseline,
            ),
            (
                f"ptw `POST …/permits/{{id}}/edit` (EditPermit, round-robin over {t.drafts:,} drafts)",
                t.api,
            ),
        )
        for label, r in rows:
            lines.append(
                f"| {label} | {r.completed:,} | {r.rate:,.0f} | {percentile(r.latencies_ms, 0.5):.1f} | "
                f"{percentile(r.latencies_ms, 0.99):.1f} | {r.rate / t.baseline.rate:.2f}x |"
            )
        if t.round_ratios:
            ordered = sorted(t.round_ratios)
            lines += [
                "",
                f"The ratio round by round (each command round over the bare round that followed it): lowest "
                f"{ordered[0]:.2f}x, median {statistics.median(ordered):.2f}x, highest {ordered[-1]:.2f}x "
                f"({', '.join(f'{r:.2f}' for r in t.round_ratios)}, in the order run).",
            ]
        if t.recorded:
            lines += [
                "",
                f"The API recorded {t.recorded:,} edits (warm-up included: {t.recorded / t.drafts:.1f} a permit); "
                f"{t.refused:,} ({t.refused / t.recorded:.0%}) were first tried on a stale cached version (the "
                "other worker had edited the permit since), refused by the primary key and decided again on a "
                "fresh load (counted from the events table's insert statistics).",
            ]
        lines.append("")
        bars.append(
            (
                "command endpoint throughput / bare endpoint throughput",
                f"≥ {THROUGHPUT_BAR}x",
                f"{t.ratio:.2f}x",
                t.ratio >= THROUGHPUT_BAR,
            )
        )
    if lat is not None:
        lines += [
            f"**Latency at {lat.permits:,} permits** — bench.projections' fixture ({lat.generated:,} permits "
            f"through their lifecycles in the store, the projections {', '.join(PROJECTED)} caught up, their "
            f"tables grown to {lat.permits:,} by cloning), {args.workers} workers, projections not in-process. "
            f"Open-loop at {lat.rate:g} requests/s (achieved {lat.achieved:.1f}/s; the client sent 99% of "
            f"requests within {lat.late_p99:.1f} ms of their slot), the five reads in turn"
            + (" (the floor's read besides, in a slot of its own)" if BARE_READ in lat.samples else "")
            + ", "
            f"{args.samples} samples each after {args.warmup_rounds} warm-up rounds "
            f"({args.warmup_rounds * len(ENDPOINTS) / lat.rate:.0f} s). The list query matches "
            f"{lat.list_total:,} permits (50 a page); detail and readiness rotate over permits that exist in "
            f"the store (readiness needs the stream; clones exist only in the read tables): detail over all "
            f"{lat.generated:,}, cached readiness over {args.warm_permits}, first-read readiness over the "
            "others, each once. Client: from taking a connection to the last byte; server: the API's request "
            "log (first middleware to response sent); in-process: the query function alone, "
            f"{args.inproc_samples} calls each, sequential (readiness: a watching service, each permit read "
            "once before).",
            "",
            "| endpoint | client p50 (ms) | client p95 (ms) | client p99 (ms) | server p50 (ms) | server p99 (ms) "
            "| in-process p50 (ms) | in-process p99 (ms) | answer (bytes) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, c in lat.samples.items():
            s, inproc = lat.server.get(name), lat.inproc.get(name)
            sp = f"{percentile(s, 0.5):.2f} | {percentile(s, 0.99):.2f}" if s else "– | –"
            ip = f"{percentile(inproc, 0.5):.2f} | {percentile(inproc, 0.99):.2f}" if inproc else "– | –"
            lines.append(
                f"| {LABELS[name]} | {percentile(c, 0.5):.2f} | {percentile(c, 0.95):.2f} | "
                f"{percentile(c, 0.99):.2f} | {sp} | {ip} | {lat.sizes[name]:,} |"
            )
        if BARE_READ in lat.samples:
            floor50 = percentile(lat.samples[BARE_READ], 0.5)
            floor99 = percentile(lat.samples[BARE_READ], 0.99)
            lines += [
                "",
                "The floor row is a bare Litestar app served beside the API by the same uvicorn with the same "
                "workers, sampled in turn with the API's reads (the API still gets its reads at "
                f"{lat.rate:g}/s): one raw psycopg SELECT by primary key of a permit's stored state, sent back as "
                "stored, in the event loop; no token, no decoding, no encoding. Its p99 is what this machine "
                "gives the least any read over HTTP can do here.",
                "",
                "The API's reads against the floor, client p50 / p99: "
                + ", ".join(
                    f"{name} {percentile(lat.samples[name], 0.5) / floor50:.1f}x / "
                    f"{percentile(lat.samples[name], 0.99) / floor99:.1f}x"
                    for name in LATENCY_BARS_MS
                )
                + ".",
            ]
        kept = sum(len(v) for v in lat.samples.values())
        if lat.slow:
            runs = episodes(lat.slow)
            first, last, count = max(runs, key=lambda r: r[2])
            span = max(s for s, _ in lat.slow) - min(s for s, _ in lat.slow)
            lines += [
                "",
                f"{len(lat.slow):,} of {kept:,} answers ({len(lat.slow) / kept:.1%}) took over {SLOW_MS:g} ms at "
                f"the client. By their slots they fall in {len(runs)} stretch{'es' if len(runs) > 1 else ''} of "
                f"time over {span:.0f} s; the largest, {last - first:.1f} s long from {first:.1f} s into the "
                f"schedule, holds {count:,} of them.",
            ]
        if lat.steadiness:
            lines += ["", lat.steadiness]
        if lat.clear:
            lines += [
                "",
                "Informative: the same samples, without those whose request overlapped a slow spell of the machine "
                f"(a probe that took 3x its median, widened by the {report.PROBE_PERIOD * 1000:g} ms between "
                "probes on either side). The bars above are on all samples.",
                "",
                "| endpoint | samples kept | client p50 (ms) | client p95 (ms) | client p99 (ms) |",
                "|---|---:|---:|---:|---:|",
            ]
            for name in lat.clear:
                c = lat.clear[name]
                figures = (
                    f"{percentile(c, 0.5):.2f} | {percentile(c, 0.95):.2f} | {percentile(c, 0.99):.2f}"
                    if c
                    else "– | – | –"
                )
                lines.append(f"| {LABELS[name]} | {len(c):,} of {len(lat.samples[name]):,} | {figures} |")
            over = {
                name: (
                    sum(ms > bar for ms in lat.samples[name]),
                    sum(ms > bar for ms in lat.clear.get(name, [])),
                )
                for name, bar in LATENCY_BARS_MS.items()
            }
            lines += [
                "",
                "Of the answers slower than their bar, those that overlapped a slow spell: "
                + ", ".join(f"{name} {n - clear:,} of {n:,}" for name, (n, clear) in over.items())
                + f"; the spells, widened, cover {lat.spell_share:.1%} of the schedule's time.",
            ]
        if lat.low:
            lines += [
                "",
                f"Informative: the same reads right after, on the same server, at {args.low_rate:g} requests/s "
                f"({args.low_samples} samples each after 10 warm-up rounds), one fifth of the load:",
                "",
                "| endpoint | client p50 (ms) | client p95 (ms) | client p99 (ms) | server p50 (ms) | server p99 (ms) |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            for name in LOW_ENDPOINTS:
                c, s = lat.low[name], lat.low_server[name]
                lines.append(
                    f"| {name} | {percentile(c, 0.5):.2f} | {percentile(c, 0.95):.2f} | {percentile(c, 0.99):.2f} | "
                    f"{percentile(s, 0.5):.2f} | {percentile(s, 0.99):.2f} |"
                )
        if lat.wake:
            lines += [
                "",
                "Informative: what waking up costs. The reads through the whole app in one process (ASGI: no "
                f"sockets, no other process), {args.inproc_samples} back to back, then as many each after a "
                f"{WAKE_PAUSE * 1000:g} ms pause, about what each worker sees between requests at this rate:",
                "",
                f"| read | back to back p50 (ms) | after a {WAKE_PAUSE * 1000:g} ms pause p50 (ms) | ratio |",
                "|---|---:|---:|---:|",
            ]
            for name, (hot, paused) in lat.wake.items():
                a, b = percentile(hot, 0.5), percentile(paused, 0.5)
                lines.append(f"| {name} | {a:.2f} | {b:.2f} | {b / a:.1f}x |")
        lines.append("")
        for name, bar in LATENCY_BARS_MS.items():
            p99 = percentile(lat.samples[name], 0.99)
            bars.append((f"{name} p99 over HTTP", f"≤ {bar:g} ms", f"{p99:.2f} ms", p99 <= bar))
    lines += ["| bar | target | measured | met? |", "|---|---|---:|---|"]
    lines += [f"| {bar} | {target} | {measured} | {yes(ok)} |" for bar, target, measured, ok in bars]
    lines.append("")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.http", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="a small run: 5 s phases, 3,000 permits")
    p.add_argument("--workers", type=int, default=2, help="uvicorn workers for both servers")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight (throughput)")
    p.add_argument("--seconds", type=float, default=20.0, help="measured seconds per throughput phase")
    p.add_argument("--warmup", type=float, default=5.0, help="warm-up seconds per throughput phase")
    p.add_argument(
        "--rounds", type=int, default=10, help="throughput: the endpoints take turns, this many rounds each"
    )
    p.add_argument("--drafts", type=int, default=2000, help="drafts the command endpoint edits round-robin")
    p.add_argument("--permits", type=int, default=100_000, help="permits in the latency fixture")
    p.add_argument(
        "--generated", type=int, default=800, help="of which through their lifecycles in the store"
    )
    p.add_argument("--rate", type=float, default=50.0, help="requests/s while sampling latency (open-loop)")
    p.add_argument("--samples", type=int, default=600, help="latency samples per endpoint")
    p.add_argument(
        "--low-rate", type=float, default=10.0, help="then the same reads at this rate (informative; 0: skip)"
    )
    p.add_argument("--low-samples", type=int, default=200, help="samples per read at --low-rate")
    p.add_argument("--warmup-rounds", type=int, default=100, help="latency warm-up rounds (not kept)")
    p.add_argument("--warm-permits", type=int, default=100, help="permits cached readiness rotates over")
    p.add_argument("--inproc-samples", type=int, default=200, help="in-process calls per read")
    p.add_argument(
        "--only", choices=("throughput", "latency"), help="run one part (the doc is not rewritten)"
    )
    p.add_argument("--profile", action="store_true", help="also print cProfiles of in-process requests")
    p.add_argument("--no-doc", action="store_true", help="print only; do not rewrite docs/benchmarks.md")
    return p


QUICK = {
    "seconds": 5.0,
    "warmup": 2.0,
    "drafts": 300,
    "permits": 3000,
    "generated": 300,
    "samples": 100,
    "warmup_rounds": 10,
    "warm_permits": 50,
    "inproc_samples": 50,
    "low_samples": 50,
}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = parser()
    args = p.parse_args(argv)
    if args.quick:
        defaults = p.parse_args([])
        for name, value in QUICK.items():
            if getattr(args, name) == getattr(defaults, name):
                setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    load_at_start = os.getloadavg()[0]
    started = time.monotonic()
    t = lat = None
    profiles = []
    with tempfile.TemporaryDirectory(prefix="ptw-bench-http-") as tmp:
        if args.only in (None, "throughput"):
            t, profile = throughput(args, Path(tmp))
            profiles.append(profile)
        if args.only in (None, "latency"):
            lat, profile = latency(args, Path(tmp))
            profiles.append(profile)
    body = render(t, lat, facts(load_at_start, args.workers), args)
    print()
    print(body)
    print(f"total {time.monotonic() - started:.0f} s")
    for profile in profiles:
        if profile:
            print(profile)
    if not args.no_doc and args.only is None:
        report.write_block("http", SECTION, body)
        print(f"wrote {report.DOC}")


if __name__ == "__main__":
    # Run as `bench.http`, not `__main__`, so what the load process sends back unpickles here.
    from bench.http import main as bench_main

    bench_main()
