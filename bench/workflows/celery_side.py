"""Celery's side: a venv of its own (made on first use), and ``bench.celery_peer`` run in it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / "bench" / ".celery-venv"
REQUIREMENT = "celery[redis]>=5.3,<6"


def venv_python() -> Path:
    """Return the Celery venv's python, creating the venv and installing Celery if it is missing."""
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import celery, redis"]
    if (
        python.exists()
        and subprocess.run(probe, check=False, capture_output=True, timeout=60).returncode == 0
    ):
        return python
    print(f"creating {VENV} and installing {REQUIREMENT!r} (first use only)…", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
    subprocess.run([str(python), "-m", "pip", "install", "-q", REQUIREMENT], check=True, timeout=900)
    return python


def parse_pool(spec: str) -> tuple[str, int]:
    """``solo`` → (solo, 1); ``prefork:2`` → (prefork, 2)."""
    name, _, concurrency = spec.partition(":")
    return name, int(concurrency or 1)


def _run_group(argv: list[str], env: dict[str, str], timeout: float) -> tuple[str, str]:
    """Run ``argv`` in a process group of its own; on timeout, SIGKILL the group (its worker too)."""
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        return proc.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):  # anything left in the group, even after an exit
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.communicate(timeout=10)


def latencies(
    url: str,
    pool: str,
    runs: int,
    chord_size: int,
    chain_length: int,
    timeout: float,
) -> dict[str, Any]:
    """Run the Celery peer for one pool configuration; return its JSON report."""
    name, concurrency = parse_pool(pool)
    argv = [
        str(venv_python()),
        "-m",
        "bench.celery_peer",
        "--url",
        url,
        "--pool",
        name,
        "--concurrency",
        str(concurrency),
        "--runs",
        str(runs),
        "--chord-size",
        str(chord_size),
        "--chain-length",
        str(chain_length),
        "--timeout",
        str(timeout),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    budget = 180 + 2 * runs * timeout  # the peer bounds each wait itself; this bounds the whole child
    stdout, stderr = _run_group(argv, env, budget)
    lines = stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"celery peer ({pool}) printed nothing; stderr:\n{stderr[-2000:]}")
    report: dict[str, Any] = json.loads(lines[-1])
    if "error" in report:
        raise RuntimeError(f"celery peer ({pool}) failed: {report['error']}\n{report.get('worker_log', '')}")
    return report
