"""What every benchmark reports alongside its figures: versions, the commit, and its block of docs/benchmarks.md
(rewritten between the bench's own markers; the prose around it is kept)."""

from __future__ import annotations

import os
import platform
import re
import subprocess
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


def git_head() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=DOC.parent,
        )
        return out.stdout.strip()
    except Exception:
        return "?"


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
        f"Machine: {facts['machine']}; commit {facts['git']} (+ working tree). "
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
