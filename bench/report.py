"""What every benchmark reports alongside its figures: versions, the commit, and its block of docs/benchmarks.md
(rewritten between the bench's own markers; the prose around it is kept)."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import version as _dist_version
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def cpu_model() -> str:
    """The processor's model name (Linux), else what the platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def version(dist: str) -> str:
    try:
        return _dist_version(dist)
    except Exception:
        return "?"


def git_head(root: Path = DOC.parent.parent) -> str:
    """The commit measured, marked when tracked files differed from it (the benchmarks page, which runs rewrite,
    aside), so that a recorded figure names the code it measured."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True, cwd=root).stdout

    try:
        head = git("rev-parse", "--short", "HEAD").strip()
        changed = git(
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            f":!{DOC.relative_to(DOC.parent.parent)}",
        )
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return f"{head} (+ uncommitted changes)" if changed else head


def machine_facts(load_at_start: float, versions: dict[str, str]) -> dict[str, str]:
    """When and where a run was measured; `versions` names what the bench depends on beyond Python."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"nproc {os.cpu_count()} ({cpu_model()}); Python {platform.python_version()}; "
        + "; ".join(f"{name} {v}" for name, v in versions.items()),
        "git": git_head(),
        "load": f"{load_at_start:.2f} / {os.getloadavg()[0]:.2f}",
    }


def machine_line(facts: dict[str, str]) -> str:
    """The report's sentence on the machine, the commit and the load around the run."""
    return (
        f"Machine: {facts['machine']}; commit {facts['git']}. "
        f"Load average (1 min) at start / end of the run: {facts['load']}."
    )


def write_block(name: str, section: str, body: str) -> None:
    """Replace the block between `<!-- bench.<name>:begin/end -->`, or append the section with it. The file is
    re-read just before writing, as each bench writes its own block of the same file."""
    begin, end = f"<!-- bench.{name}:begin -->", f"<!-- bench.{name}:end -->"
    block = f"{begin}\n{body}{end}"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n\n" + block + "\n"
    DOC.write_text(text)


PROBE_PERIOD = 0.01  # seconds between probes

# A fixed piece of CPU work, timed every PROBE_PERIOD by a process of its own until it is told to stop (SIGTERM);
# each probe's wall-clock start and end (time.perf_counter: CLOCK_MONOTONIC, the same in every process) and CPU
# time go to the file named by argv[1] when it stops. Timed in the thread's CPU time, so that waiting for a core
# the bench's own load holds does not count, while the machine running slowly does.
_PROBE = f"""
import signal, sys, time
probes = []
def stop(*_):
    with open(sys.argv[1], "w") as out:
        out.write("\\n".join(f"{{a:.6f}} {{b:.6f}} {{d:.6f}}" for a, b, d in probes))
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
while True:
    began, started = time.perf_counter(), time.thread_time()
    total = 0
    for i in range(3000):
        total += i * i
    probes.append((began, time.perf_counter(), time.thread_time() - started))
    time.sleep({PROBE_PERIOD})
"""


class Steadiness:
    """How steady the machine's CPU was while a phase ran. This VM's CPU at times slows several-fold for a few
    hundred milliseconds, whatever runs on it (the work's CPU time grows, not only its wall time); a p99 of a
    few-millisecond request lands in such a window once they make up more than about 1 % of the time. A probe
    process times the same tiny piece of work every 10 ms (a few % of one core) in its CPU time; the share of
    probes that took 3x their median says how much of the phase was slow."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / f"steadiness-{os.getpid()}-{id(self)}.txt"
        self._process: subprocess.Popen[bytes] | None = None
        self.durations: list[float] = []
        # each probe's wall-clock span (time.perf_counter, the same clock in any process)
        self.spans: list[tuple[float, float]] = []

    def __enter__(self) -> Steadiness:
        self._process = subprocess.Popen([sys.executable, "-c", _PROBE, str(self._path)])
        return self

    def __exit__(self, *_: object) -> None:
        assert self._process is not None
        self._process.terminate()
        self._process.wait(timeout=10)
        text = self._path.read_text() if self._path.exists() else ""
        probes = [[float(v) for v in line.split()] for line in text.splitlines()]
        self.durations = [cpu for _start, _end, cpu in probes]
        self.spans = [(start, end) for start, end, _cpu in probes]
        self._path.unlink(missing_ok=True)

    def slow_spells(self) -> list[tuple[float, float]]:
        """The wall-clock spans of the probes that took 3x their median CPU time or more, each widened by the
        probes' period on either side (the machine's state between two probes is not known)."""
        if not self.durations:
            return []
        median = sorted(self.durations)[len(self.durations) // 2]
        return [
            (start - PROBE_PERIOD, end + PROBE_PERIOD)
            for (start, end), cpu in zip(self.spans, self.durations, strict=True)
            if cpu >= 3 * median
        ]

    def line(self, phase: str) -> str:
        if not self.durations:
            return f"Machine steadiness during {phase}: not measured."
        ordered = sorted(self.durations)
        median = ordered[len(ordered) // 2]
        slow = sum(d >= 3 * median for d in ordered) / len(ordered)
        return (
            f"Machine steadiness during {phase}: {slow:.1%} of {len(ordered):,} CPU probes (one every 10 ms) "
            f"took 3x their median CPU time or more, the slowest {ordered[-1] / median:.0f}x."
        )
