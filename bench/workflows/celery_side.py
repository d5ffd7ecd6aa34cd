"""Celery's side: a venv of its own (made on first use), and ``bench.celery_peer`` run in it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench import peer_venv
from bench.peer_venv import ROOT

VENV = ROOT / "bench" / ".celery-venv"
REQUIREMENT = "celery[redis]>=5.3,<6"


def venv_python() -> Path:
    """Return the Celery venv's python, creating the venv and installing Celery if it is missing."""
    return peer_venv.venv_python(VENV, [REQUIREMENT], "celery, redis")


def parse_pool(spec: str) -> tuple[str, int]:
    """``solo`` → (solo, 1); ``prefork:2`` → (prefork, 2)."""
    name, _, concurrency = spec.partition(":")
    return name, int(concurrency or 1)


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
    stdout, stderr = peer_venv.run_group(argv, env, budget)
    lines = stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"celery peer ({pool}) printed nothing; stderr:\n{stderr[-2000:]}")
    report: dict[str, Any] = json.loads(lines[-1])
    if "error" in report:
        raise RuntimeError(f"celery peer ({pool}) failed: {report['error']}\n{report.get('worker_log', '')}")
    return report
