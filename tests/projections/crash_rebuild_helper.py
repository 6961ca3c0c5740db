"""Fork server for test_crash_rebuild: a process that has imported ptw once and then, per request, forks a child
that runs a blue/green rebuild of every projection (as `ptw projections rebuild` does, in small batches) and
SIGKILLs it after the requested delay.

Protocol, one line each: stdin `go <delay seconds>` (a negative delay: never kill); stdout
`done <pid> killed|exited <code> <elapsed seconds>`. The child is killed by this process, which has not yet
reaped it, so the pid cannot have been reused by then.
Run: python crash_rebuild_helper.py URL BATCH_SIZE [PROJECTION ...] (default: every projection)
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback

from ptw_domain.store.application import PtwStore
from ptw_domain.store.settings import store_env
from ptw_projections.database import open_read_database
from ptw_projections.registry import projections
from ptw_projections.runner import Runner


def rebuild(url: str, batch_size: int, names: list[str]) -> None:
    store = PtwStore(env=store_env(url, pool_size=2))
    db = open_read_database(url, pool_size=2)
    try:
        for projection in projections(names or None):
            Runner(store, db, projection, batch_size=batch_size).rebuild()
    finally:
        db.dispose()
        store.close()


def child(url: str, batch_size: int, names: list[str]) -> None:
    code = 0
    try:
        rebuild(url, batch_size, names)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    url, batch_size, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command != "go":
            break
        delay = float(argument)
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            child(url, batch_size, names)
        status = None
        while status is None:
            reaped, raw = os.waitpid(pid, os.WNOHANG)
            if reaped:
                status = raw
            elif 0 <= delay <= time.monotonic() - started:
                os.kill(pid, signal.SIGKILL)  # alive or a zombie: not reaped yet, so still ours
                status = os.waitpid(pid, 0)[1]
            else:
                time.sleep(0.001)
        elapsed = time.monotonic() - started
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            outcome = "killed"
        else:
            outcome = f"exited {os.waitstatus_to_exitcode(status)}"
        print(f"done {pid} {outcome} {elapsed:.3f}", flush=True)


if __name__ == "__main__":
    main()
