"""The building blocks of `bench/http.py` (issue 5's HTTP benchmark), so the bench cannot rot unnoticed: the
argument parser, the bare baseline endpoint, the bench's command request against the real API, the load
generator's counting of 2xx answers, the open-loop sampler, the request-log reader and the bar verdicts.
None of them runs the benchmark itself. Benchmarks have no domain rule ID; each test names the issue-5 bar
(THR: the 0.6x throughput bar, LAT: the p99 latency bars) its building block serves."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from bench import http as bench
from litestar.testing import TestClient

from ptw_api.http.app import create_app


def test_thr_lat_parser_defaults_are_the_bar_sizes_and_quick_is_small() -> None:
    """Issue 5 THR/LAT: the defaults measure at the bar's sizes (100,000 permits, 2 workers, 16 in flight);
    `--quick` shrinks what was not given explicitly."""
    full = bench.parse([])
    assert (full.permits, full.workers, full.concurrency, full.quick, full.no_doc) == (
        100_000,
        2,
        16,
        False,
        False,
    )
    quick = bench.parse(["--quick", "--no-doc", "--workers", "1", "--permits", "5000"])
    assert quick.seconds == 5.0 and quick.generated == 300
    assert (quick.workers, quick.permits, quick.no_doc) == (1, 5000, True)  # explicit values win
    assert bench.command_line(full) == ".venv/bin/python -m bench.http"
    assert bench.command_line(quick) == ".venv/bin/python -m bench.http --quick"


@pytest.mark.postgres
def test_thr_bare_endpoint_records_one_row_per_request(postgres_dsn: str, postgres_url: str) -> None:
    """Issue 5 THR baseline: the bare endpoint decodes the body strictly and does exactly one INSERT per request."""
    schema = postgres_url.rsplit("schema=", 1)[1]
    bench.create_baseline_table(postgres_dsn, schema)
    item = uuid.uuid4()
    with TestClient(bench.create_baseline_app(postgres_dsn, schema)) as client:
        ok = client.post(f"/items/{item}/edit", content=(bench.EDIT_BODY % 7).encode())
        refused = client.post(f"/items/{item}/edit", json={"changes": {"description": "x"}, "actor": "me"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["item_id"] == str(item)
    assert refused.status_code == 400  # an unknown field, like the real API's bodies
    with psycopg.connect(postgres_dsn) as conn:
        rows = conn.execute(f"SELECT item_id, body FROM {bench.baseline_table(schema)}").fetchall()
    assert rows == [(item, b'{"changes":{"description":"bench edit 7"}}')]
    assert ok.json()["position"] == 1


@pytest.mark.postgres
def test_lat_bare_read_sends_a_permits_stored_state_as_stored(postgres_dsn: str, postgres_url: str) -> None:
    """Issue 5 LAT floor: the bare app's read of a permit is one SELECT of the state the list projection stored
    for it, the bytes sent unchanged; a permit it has no row for is not found."""
    from ptw_domain.store.application import PtwStore
    from ptw_domain.store.settings import store_env
    from ptw_projections.database import open_read_database
    from ptw_projections.registry import projections
    from ptw_projections.runner import Runner

    schema = postgres_url.rsplit("schema=", 1)[1]
    _project, drafts, _person = bench.prepare_drafts(postgres_url, 2)
    store, db = PtwStore(env=store_env(postgres_url)), open_read_database(postgres_url)
    try:
        (projection,) = projections(["permit_list"])
        runner = Runner(store, db, projection)
        runner.catch_up(runner.live_generation())
    finally:
        store.close()
        db.dispose()
    with psycopg.connect(postgres_dsn) as conn:
        row = conn.execute(
            f'SELECT state FROM "{schema}_read".permit_list__permits WHERE permit_id = %s', (drafts[1],)
        ).fetchone()
    assert row is not None
    with TestClient(bench.create_baseline_app(postgres_dsn, schema)) as client:
        found = client.get(f"/permits/{drafts[1]}")
        missing = client.get(f"/permits/{uuid.uuid4()}")
    assert found.status_code == 200 and found.headers["content-type"] == "application/json"
    assert found.content == bytes(row[0])
    assert str(drafts[1]) in found.text
    assert missing.status_code == 404


@pytest.mark.postgres
def test_thr_the_bench_edit_request_is_answered_2xx_by_the_real_api(postgres_url: str) -> None:
    """Issue 5 THR: the drafts, token, path and body the load generator sends make a recorded EditPermit; a bench
    whose request the API refuses would fail every run."""
    project_id, drafts, requestor = bench.prepare_drafts(postgres_url, 2)
    bearer = bench.token(postgres_url, project_id, requestor)
    path = f"/api/v1/projects/{project_id}/permits/{drafts[1]}/edit"
    with TestClient(create_app(bench.api_settings(postgres_url))) as client:
        first = client.post(
            path, content=(bench.EDIT_BODY % 1).encode(), headers={"Authorization": f"Bearer {bearer}"}
        )
        second = client.post(
            path, content=(bench.EDIT_BODY % 2).encode(), headers={"Authorization": f"Bearer {bearer}"}
        )
    assert (first.status_code, second.status_code) == (200, 200), first.text
    assert first.json()["events"] == ["PermitEdited"]
    assert second.json()["version"] == first.json()["version"] + 1


async def _serve_once(handler: Any, run: Any) -> Any:
    """A throwaway HTTP server on loopback answering every request with `handler(request line)`."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = bench._LENGTH.search(head)
                if length:
                    await reader.readexactly(int(length.group(1)))
                writer.write(handler(head.split(b"\r\n", 1)[0]))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(answer, bench.HOST, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        return await run(port)
    finally:
        server.close()


def _status_by_path(line: bytes) -> bytes:
    status = b"409 Conflict" if b"/bad/" in line else b"200 OK"
    return b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nok"


def test_thr_load_generator_counts_2xx_and_reports_every_other_status() -> None:
    """Issue 5 THR: only 2xx answers count toward the throughput; any other status is reported, so the run fails."""
    spec = bench.LoadSpec(
        port=0,
        paths=["/good/1", "/good/2", "/bad/3"],
        body_format=bench.EDIT_BODY,
        concurrency=4,
        seconds=30.0,
        warmup=0.0,
        max_requests=30,
    )
    result = asyncio.run(
        _serve_once(
            _status_by_path,
            lambda port: bench.drive(bench.HOST, spec.__class__(**{**spec.__dict__, "port": port})),
        )
    )
    assert result.total == 30
    assert result.completed == 20
    assert len(result.failures) == 10 and result.failures[0] == (409, "ok")
    with pytest.raises(RuntimeError, match="10 non-2xx"):
        bench.check(result, "the endpoint")


def test_thr_client_reads_chunked_answers() -> None:
    """Issue 5 THR/LAT: the load generator reads a chunked answer whole, so the next request on the
    keep-alive connection starts at its own answer."""

    def chunked(_line: bytes) -> bytes:
        return b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"

    async def twice(port: int) -> list[tuple[int, bytes]]:
        conn = await bench.Connection.open(bench.HOST, port)
        try:
            raw = bench.get_request(bench.HOST, port, "/x")
            return [await conn.request(raw), await conn.request(raw)]
        finally:
            conn.close()

    assert asyncio.run(_serve_once(chunked, twice)) == [(201, b"abcde"), (201, b"abcde")]


def test_lat_pacer_keeps_the_schedule_after_the_warmup() -> None:
    """Issue 5 LAT: the open-loop sampler sends every scheduled request, names each sample by its endpoint and
    drops the warm-up requests."""
    schedule = [(name, f"/{name}/{i}") for i in range(6) for name in ("list", "kpis")]
    spec = bench.PaceSpec(port=0, schedule=schedule, rate=500.0, warmup=4)
    samples = asyncio.run(
        _serve_once(
            _status_by_path,
            lambda port: bench.pace(bench.HOST, bench.PaceSpec(**{**spec.__dict__, "port": port})),
        )
    )
    assert sorted(s.name for s in samples) == ["kpis"] * 4 + ["list"] * 4
    assert all(s.status == 200 and s.ms > 0 and s.size == 2 for s in samples)


def test_lat_server_times_come_from_the_request_log(tmp_path: Path) -> None:
    """Issue 5 LAT: the server-side figure is each request's `ms` from the API's JSON request log (SEC-13's log),
    sorted to its endpoint, warm-up requests left out."""
    project, warm, cold = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    base = f"/api/v1/projects/{project}"
    paths = [
        (f"{base}/permits", 1.0),
        (f"{base}/permits", 2.0),
        (f"{base}/kpis", 3.0),
        (f"{base}/permits/{warm}", 4.0),
        (f"{base}/permits/{warm}/readiness", 5.0),
        (f"{base}/permits/{cold}/readiness", 6.0),
    ]
    log = tmp_path / "access.log"
    log.write_text("".join(json.dumps({"path": p, "ms": ms}) + "\n" for p, ms in paths))
    got = bench.server_times(log, project, {warm}, warmup=1)
    assert got == {"list": [2.0], "detail": [], "readiness": [], "kpis": [], "readiness_cold": []}
    assert bench.server_times(log, project, {warm}, warmup=0)["readiness_cold"] == [6.0]


def test_thr_lat_report_states_each_bar_and_whether_it_is_met() -> None:
    """Issue 5 THR/LAT: the generated block gives the ratio against the bare endpoint and every p99 against its
    bar, with a plain yes or NO."""
    fast = bench.LoadResult(completed=1000, window=10.0, latencies_ms=[5.0] * 10, failures=[], total=1100)
    slow = bench.LoadResult(completed=500, window=10.0, latencies_ms=[9.0] * 10, failures=[], total=600)
    samples = {name: [1.0] * 99 + [50.0] * 2 for name in bench.ENDPOINTS}
    samples["kpis"] = [3.0] * 100
    samples[bench.BARE_READ] = [0.5] * 100  # the floor: no server log, no in-process figure
    latency = bench.Latency(
        permits=100_000,
        generated=1500,
        rate=50.0,
        achieved=49.9,
        samples=samples,
        server={n: samples[n] for n in bench.ENDPOINTS},
        inproc={"list": [0.5]},
        late_p99=0.4,
        list_total=321,
        sizes=dict.fromkeys(samples, 10),
        slow=[(1.0, 150.0), (1.5, 200.0), (10.0, 300.0)],
        low=dict.fromkeys(bench.LOW_ENDPOINTS, [2.0] * 10),
        low_server=dict.fromkeys(bench.LOW_ENDPOINTS, [1.0] * 10),
        wake={"detail": ([1.5] * 10, [3.0] * 10)},
        clear={**samples, "list": [1.0] * 99, "kpis": []},
        spell_share=0.031,
    )
    facts = {"date": "today", "machine": "m", "git": "g", "load": "0 / 0"}
    text = bench.render(bench.Throughput(slow, fast, 100, 1000, 100), latency, facts, bench.parse([]))
    assert "| command endpoint throughput / bare endpoint throughput | ≥ 0.6x | 0.50x | **NO** |" in text
    assert "| kpis p99 over HTTP | ≤ 20 ms | 3.00 ms | yes |" in text
    assert "| list p99 over HTTP | ≤ 10 ms | 50.00 ms | **NO** |" in text
    assert "matches 321 permits" in text
    assert "The API recorded 1,000 edits (warm-up included: 10.0 a permit); 100 (10%) were first" in text
    assert "| kpis | 2.00 | 2.00 | 2.00 | 1.00 | 1.00 |" in text  # the informative low-rate rows
    assert "| detail | 1.50 | 3.00 | 2.0x |" in text  # what waking up costs, informative
    assert (
        "| 0.50 | 0.50 | 0.50 | – | – | – | – | 10 |" in text
        and "The floor row is a bare Litestar app" in text
    )
    assert "against the floor, client p50 / p99: list 2.0x / 100.0x, detail 2.0x / 100.0x," in text
    assert "kpis 6.0x / 6.0x." in text
    assert (
        "overlapped a slow spell: list 2 of 2, detail 0 of 2, readiness 0 of 2, kpis 0 of 0; the spells, "
        in text
    )
    assert "cover 3.1% of the schedule's time." in text
    assert "3 of 604 answers (0.5%) took over 100 ms at the client" in text
    assert "fall in 2 stretches of time over 9 s; the largest, 0.5 s long from 1.0 s" in text
    # clear of the machine's slow spells, informative: the bar table stays on every sample
    assert "| list `GET …/permits?" in text and "| 99 of 101 | 1.00 | 1.00 | 1.00 |" in text
    assert "| 0 of 100 | – | – | – |" in text


def test_lat_samples_near_a_slow_spell_of_the_machine_are_set_apart() -> None:
    """Issue 5 LAT: a sample counts as clear only if its request, from taking it up to the last byte, overlaps
    no slow spell; touching one at either end is enough to be set apart."""
    spells = [(10.0, 10.03), (20.0, 20.5)]
    samples = [
        bench.Sample("detail", 5.0, 200, 0.0, 10, started=9.99),  # ends at 9.995: before the first spell
        bench.Sample("detail", 20.0, 200, 0.0, 10, started=9.99),  # runs into it
        bench.Sample("list", 2.0, 200, 0.0, 10, started=20.49),  # starts inside the second
        bench.Sample("list", 2.0, 200, 0.0, 10, started=20.6),
    ]
    clear = bench.clear_of(samples, spells)
    assert clear["detail"] == [5.0]
    assert clear["list"] == [2.0] and len(samples) == 4
    assert clear["kpis"] == []
    # from 9.99 s to 20.602 s, of which the spells cover 0.03 + 0.5 s (the one inside the first counted once)
    assert bench.spell_share(samples, [*spells, (10.01, 10.02), (30.0, 31.0)]) == pytest.approx(0.53 / 10.612)
    assert bench.spell_share([], spells) == 0.0


def test_lat_the_steadiness_probe_says_when_the_machine_was_slow(tmp_path: Path) -> None:
    """The probe's slow spells are wall-clock spans on the clock the load process stamps its samples with, so
    samples can be set against them."""
    from bench import report

    before = time.perf_counter()
    with report.Steadiness(tmp_path) as steadiness:
        time.sleep(0.3)
    after = time.perf_counter()
    assert len(steadiness.durations) == len(steadiness.spans) >= 5
    assert all(before < a <= b < after for a, b in steadiness.spans)
    # a slow probe's span, widened by the period between probes (what the machine did then is not known)
    steadiness.durations, steadiness.spans = (
        [1.0, 1.0, 5.0, 1.0],
        [(1.0, 1.1), (2.0, 2.1), (3.0, 3.5), (4.0, 4.1)],
    )
    assert steadiness.slow_spells() == [(3.0 - report.PROBE_PERIOD, 3.5 + report.PROBE_PERIOD)]


def test_lat_slow_answers_are_grouped_into_stretches_of_time() -> None:
    """Issue 5 LAT: slow answers a second or less apart belong to one stretch, so a reader sees whether the
    tail is a few slow queries or the server falling behind for a while."""
    slow = [(10.0, 300.0), (1.0, 150.0), (1.5, 200.0), (2.4, 120.0)]
    assert bench.episodes(slow) == [(1.0, 2.4, 3), (10.0, 10.0, 1)]
    assert bench.episodes([]) == []


def test_report_names_the_commit_measured_and_marks_uncommitted_code(tmp_path: Path) -> None:
    from bench import report

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    (tmp_path / "docs").mkdir()
    page, code = tmp_path / "docs" / "benchmarks.md", tmp_path / "serve.py"
    page.write_text("figures\n")
    code.write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "start")
    head = git("rev-parse", "--short", "HEAD").strip()

    page.write_text("figures of an earlier run\n")  # runs rewrite the page: not a change of the code measured
    (tmp_path / "notes.txt").write_text("untracked\n")
    assert report.git_head(tmp_path) == head
    code.write_text("x = 2\n")
    assert report.git_head(tmp_path) == f"{head} (+ uncommitted changes)"
    assert report.git_head(tmp_path / "nowhere") == "?"
