"""Celery's side: a venv of its own (made on first use), and ``bench.celery_peer`` run in it."""

from __future__ import annotations

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
    budget = 180 + 2 * runs * timeout  # the peer bounds each wait itself; this bounds the whole child
    report = peer_venv.run_json(argv, budget, f"celery peer ({pool})")
    if "error" in report:
        raise RuntimeError(f"celery peer ({pool}) failed: {report['error']}\n{report.get('worker_log', '')}")
    return report
