"""The `ptw` command line against a temporary SQLite store: demo, history, time travel and audit."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest
from click.testing import CliRunner, Result

from ptw_api.cli import cli


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ptw.db"


@pytest.fixture
def url(db_path: Path) -> str:
    return f"sqlite:///{db_path}"


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--database-url", url, *args])


@pytest.fixture
def loaded(url: str) -> str:
    result = run(url, "demo")
    assert result.exit_code == 0, result.output
    return url


def test_demo_loads_the_sample_project_and_lists_its_permits(url: str) -> None:
    result = run(url, "demo")
    assert result.exit_code == 0, result.output
    assert "DEMO-" in result.output
    for status in ("draft", "submitted", "under_review", "approved", "active", "suspended", "expired"):
        assert status in result.output
    for status in ("completed", "closed", "cancelled"):
        assert status in result.output


def test_demo_tells_a_simops_story_accepted_with_controls(loaded: str) -> None:
    """Hot work beside tank T-204 meets its confined-space entry: a high SIM-M01 conflict, accepted with
    controls by the area authority (SIM-08), after which the hot-work permit is approved."""
    conn = sqlite3.connect(loaded.removeprefix("sqlite:///"))
    try:
        rows = conn.execute(
            "SELECT topic, state FROM stored_events WHERE topic IN ('ConflictDetected', 'ConflictResolved')"
        ).fetchall()
        (drafted,) = conn.execute(
            "SELECT state FROM stored_events WHERE topic = 'PermitDrafted' "
            "AND instr(state, CAST('davit bracket on tank T-204' AS BLOB)) > 0"
        ).fetchone()
    finally:
        conn.close()
    states = {topic: bytes(state) for topic, state in rows}
    assert [topic for topic, _ in rows].count("ConflictDetected") == 1
    assert b'"rule":"SIM-M01","severity":"high"' in states["ConflictDetected"]
    assert b'"decision":"accept_with_controls"' in states["ConflictResolved"]
    assert b'"by":"h.lindqvist"' in states["ConflictResolved"]
    number = bytes(drafted).split(b'"number":"', 1)[1].split(b'"', 1)[0].decode()
    assert number.endswith("-00017")
    shown = run(loaded, "permit", "show", number)
    assert shown.exit_code == 0, shown.output
    assert "approved" in shown.output


def test_demo_twice_says_it_is_already_loaded(loaded: str) -> None:
    again = run(loaded, "demo")
    assert again.exit_code == 0, again.output
    assert "already loaded" in again.output


def test_database_url_comes_from_the_environment(url: str) -> None:
    result = CliRunner().invoke(cli, ["demo", "--project-code", "ENVT"], env={"PTW_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert "ENVT-" in result.output


def _first_number(loaded: str) -> str:
    conn = sqlite3.connect(loaded.removeprefix("sqlite:///"))
    try:
        rows = conn.execute("SELECT state FROM stored_events WHERE topic = 'PermitDrafted'").fetchall()
    finally:
        conn.close()
    numbers = sorted(bytes(row[0]).split(b'"number":"', 1)[1].split(b'"', 1)[0].decode() for row in rows)
    return numbers[0]


def test_history_lists_the_events_of_a_permit(loaded: str) -> None:
    number = _first_number(loaded)
    result = run(loaded, "permit", "history", number)
    assert result.exit_code == 0, result.output
    assert "PermitDrafted" in result.output
    assert "PermitClosed" in result.output


def test_show_at_version_1_is_the_draft(loaded: str) -> None:
    number = _first_number(loaded)
    first = run(loaded, "permit", "show", number, "--version", "1")
    assert first.exit_code == 0, first.output
    assert "draft" in first.output
    now = run(loaded, "permit", "show", number)
    assert now.exit_code == 0, now.output
    assert "closed" in now.output


def test_show_at_an_instant_before_the_permit_is_not_found(loaded: str) -> None:
    number = _first_number(loaded)
    result = run(loaded, "permit", "show", number, "--at", "2000-01-01T00:00:00Z")
    assert result.exit_code == 1
    assert "not_found" in result.stderr
    assert "Traceback" not in result.output


def test_show_at_a_naive_instant_is_refused(loaded: str) -> None:
    number = _first_number(loaded)
    result = run(loaded, "permit", "show", number, "--at", "2026-01-01T10:00:00")
    assert result.exit_code == 2
    assert "offset" in result.output


def test_unknown_number_is_a_domain_error_on_stderr(loaded: str) -> None:
    result = run(loaded, "permit", "history", "DEMO-1999-99999")
    assert result.exit_code == 1
    assert result.stderr.startswith("not_found")


def test_audit_verify_is_intact_then_names_the_tampered_event(loaded: str, db_path: Path) -> None:
    intact = run(loaded, "audit", "verify")
    assert intact.exit_code == 0, intact.output
    assert "intact" in intact.output

    number = _first_number(loaded)
    one = run(loaded, "audit", "verify", "--permit", number)
    assert one.exit_code == 0, one.output

    conn = sqlite3.connect(db_path)
    try:
        conn.execute("DROP TRIGGER stored_events_no_update")
        stream_id, version, state = conn.execute(
            "SELECT originator_id, originator_version, state FROM stored_events "
            "WHERE topic = 'PermitDrafted' AND instr(state, CAST('support shoe' AS BLOB)) > 0"
        ).fetchone()
        tampered = bytes(state).replace(b"support shoe", b"support shod", 1)
        assert len(tampered) == len(state)
        conn.execute(
            "UPDATE stored_events SET state = ? WHERE originator_id = ? AND originator_version = ?",
            (tampered, stream_id, version),
        )
        conn.commit()
    finally:
        conn.close()

    broken = run(loaded, "audit", "verify")
    assert broken.exit_code == 1, broken.output
    assert str(UUID(stream_id)) in broken.output
    assert f"version {version}" in broken.output
    assert "content_altered" in broken.output

    only = run(loaded, "audit", "verify", "--permit", number)
    assert only.exit_code == 1
    assert "content_altered" in only.output


def test_serve_refuses_a_malformed_setting_with_a_usage_error(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PTW_* value of the wrong type is a one-line usage error naming the setting, never a traceback."""
    monkeypatch.setenv("PTW_RUN_PROJECTIONS", "perhaps")
    monkeypatch.setenv("PTW_JWT_SECRET", "s" * 40)
    result = run(url, "serve", "--port", "1")
    assert result.exit_code == 2
    assert "run_projections" in result.output
    assert "Traceback" not in result.output


def test_serve_with_several_workers_answers_keep_alive_requests_without_nagle_delays(
    url: str, tmp_path: Path
) -> None:
    """Several workers share one socket; on each keep-alive connection every request after the first waited
    ~40 ms (Nagle's algorithm left on against the client's delayed ACK) until `ptw serve` bound it as TCP."""
    port = _free_port()
    log = tmp_path / "serve.log"
    command = [sys.executable, "-c", "from ptw_api.cli import main; main()", "--database-url", url]
    command += ["serve", "--workers", "2", "--no-projections", "--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, env={**os.environ, "PTW_JWT_SECRET": "s" * 40}, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 60
        while log.read_text().count("Application startup complete.") < 2:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            took = []
            for _ in range(10):
                started = time.monotonic()
                conn.sendall(b"GET /health/live HTTP/1.1\r\nHost: ptw\r\n\r\n")
                answer = b""
                while not answer.endswith(b"}"):
                    answer += conn.recv(65536)
                took.append(time.monotonic() - started)
                assert answer.startswith(b"HTTP/1.1 200"), answer
        assert sorted(took)[5] < 0.02, took
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
