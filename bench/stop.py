"""Stop benchmark child processes (SIGTERM, a grace period, then SIGKILL), and run a peer's main.

Standard library only: ``bench.celery_peer`` imports it inside Celery's own venv, where aqueue is not
installed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, NoReturn


def stop_processes(*procs: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM every process still running, then wait up to ``grace_s`` for each; SIGKILL the rest."""
    running = [p for p in procs if p.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    for proc in running:
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def run_peer(
    name: str,
    start_worker: Callable[[IO[bytes]], subprocess.Popen[bytes]],
    measure: Callable[[], dict[str, Any]],
) -> NoReturn:
    """A peer's main: start its worker (output to a log), measure, stop it; print one JSON report.

    A failure becomes ``{"error": ..., "worker_log": <its tail>}`` and exit status 1.
    """
    log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)  # noqa: SIM115
    proc = start_worker(log)
    try:
        report = measure()
    except Exception as e:
        log.flush()
        tail = Path(log.name).read_text(errors="replace")[-2000:]
        report = {"error": f"{type(e).__name__}: {e}", "worker_log": tail}
    finally:
        # SIGTERM: a worker stops its own children. It stays in this process's group, so whoever
        # started this peer in a group of its own (bench.peer_venv.run_group) can kill it all if stuck.
        stop_processes(proc)
        log.close()
        os.unlink(log.name)
    print(json.dumps(report))
    sys.exit(1 if "error" in report else 0)
