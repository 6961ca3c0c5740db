"""The README's "Call the API" session is documentation that must keep working (issue 5): it is run here as
written, with bash, against `ptw serve` over a freshly loaded demo, and every curl must answer the status the
README's comment above it states. The API guide must name every operation of the OpenAPI document, so it cannot
go stale silently.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ptw_api.http.app import create_app
from ptw_api.http.settings import ApiSettings

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
API_GUIDE = ROOT / "docs" / "api.md"
SECTION = "## Call the API"
README_API = "API=http://127.0.0.1:8000/api/v1"
STATUS = re.compile(r"^# (\d{3}) [A-Z]")  # "# 409 Conflict: ..." names the status of the next curl
CURL = re.compile(r"(?:^|[\s($|])curl\s")
STARTUP_SECONDS = 45
SESSION_SECONDS = 60
# A curl that records each answer's status line beside the session, and otherwise runs as the reader's would.
CURL_SHIM = """#!/bin/sh
n=$(( $(cat "$PTW_CURL_LOG/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$PTW_CURL_LOG/count"
exec {real} "$@" --dump-header "$PTW_CURL_LOG/$n.headers"
"""


def readme_session() -> tuple[str, list[int]]:
    """The bash blocks of the README's "Call the API" section, and the statuses their comments announce."""
    section = README.read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    script = "\n".join(re.findall(r"```bash\n(.*?)```", section, flags=re.S))
    expected = [int(found.group(1)) for found in map(STATUS.match, script.splitlines()) if found]
    return script, expected


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """`ptw serve` as a subprocess; its output is drained by a thread so that it never blocks on a full pipe."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_until_started(self, timeout: float) -> None:
        """Uvicorn says it is running once the lifespan has run (the projection followers have caught up with
        the store) and the socket is bound; "Application startup complete" comes before the bind."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"ptw serve did not start in {timeout} s:\n{''.join(self.output)}")
            if line is None:
                pytest.fail(f"ptw serve exited with {self.process.wait()}:\n{''.join(self.output)}")
            if "Uvicorn running on" in line:
                return

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def served_demo(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], int]]:
    """A working directory like the repository's root (`.venv` is this interpreter's environment), the demo
    loaded into a SQLite store there, and `ptw serve` answering on a free port."""
    venv = Path(sys.prefix)
    ptw = venv / "bin" / "ptw"
    assert ptw.exists(), f"the tests run from the project's virtual environment; no {ptw}"
    real_curl, jq = shutil.which("curl"), shutil.which("jq")
    assert real_curl and jq, "the README's session needs curl and jq on PATH"
    (tmp_path / ".venv").symlink_to(venv)
    shims, log = tmp_path / "shims", tmp_path / "curl-log"
    shims.mkdir()
    log.mkdir()
    (shims / "curl").write_text(CURL_SHIM.format(real=real_curl))
    (shims / "curl").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PTW_")}
    env |= {
        "PTW_DATABASE_URL": f"sqlite:///{tmp_path / 'ptw.db'}",
        "PTW_JWT_SECRET": "readme-session-" + "s" * 40,
        "PTW_CURL_LOG": str(log),
        "PATH": f"{shims}{os.pathsep}{env.get('PATH', '')}",
    }
    subprocess.run([str(ptw), "demo"], cwd=tmp_path, env=env, check=True, capture_output=True, timeout=120)
    port = free_port()
    server = Server([str(ptw), "serve", "--port", str(port)], tmp_path, env)
    try:
        server.wait_until_started(STARTUP_SECONDS)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=10) as ready:
            assert ready.status == 200
        yield tmp_path, env, port
    finally:
        server.stop()


def test_readme_api_session_runs_as_written_with_the_statuses_it_states(
    served_demo: tuple[Path, dict[str, str], int],
) -> None:
    """Issue 5 newcomer path: the pasted session lists, reads, creates a draft, is refused LIFE-08 (409), submits,
    reads the verifier's tasks after that write (RM-08), the board, and the audit trail only as an area authority
    (SEC-04), with the chain intact (AUD-04)."""
    cwd, env, port = served_demo
    script, expected = readme_session()
    assert README_API in script, "the session names the API by one variable the test can point at its server"
    assert len(CURL.findall(script)) == len(expected), "every curl of the session has its status comment"
    script = script.replace(README_API, f"API=http://127.0.0.1:{port}/api/v1")

    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=SESSION_SECONDS,
    )

    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    log = Path(env["PTW_CURL_LOG"])
    answered = [
        int((log / f"{n}.headers").read_text().split()[1])
        for n in range(1, int((log / "count").read_text()) + 1)
    ]
    assert answered == expected
    assert '"LIFE-08"' in run.stdout, "the 409 problem names the rule that refused the submission"
    assert "Replace gasket on P-2201A" in run.stdout, "the verifier's tasks include the write just made"
    assert '"ok": true' in run.stdout, "the new permit's hash chain verifies"
    assert '"code": "forbidden"' in run.stdout, "a requestor is refused the audit trail"


def openapi_operations() -> set[str]:
    app = create_app(ApiSettings(database_url="memory://", jwt_secret="docs-" + "x" * 40, openapi_ui=False))
    schema = app.openapi_schema.to_schema()
    return {op["operationId"] for path in schema["paths"].values() for op in path.values()}


def test_api_guide_names_every_operation_of_the_openapi_document() -> None:
    """Issue 5: docs/api.md's endpoint tables list exactly the operations of the OpenAPI document."""
    listed = set(re.findall(r"^\|[^|]*\| `([A-Za-z_]+)` \|", API_GUIDE.read_text(), flags=re.M))
    served = openapi_operations()
    assert not served - listed, f"operations missing from docs/api.md: {sorted(served - listed)}"
    assert not listed - served, (
        f"docs/api.md lists operations the API does not have: {sorted(listed - served)}"
    )
