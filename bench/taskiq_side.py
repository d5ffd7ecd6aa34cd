"""taskiq's side of the pickup benchmark: a venv of its own (made on first use), the peer run in it."""

from __future__ import annotations

import subprocess
from typing import Any

from bench import peer_venv
from bench.peer_venv import ROOT

VENV = ROOT / "bench" / ".taskiq-venv"
#: The version the issue's reference numbers were taken with.
REQUIREMENTS = ["taskiq>=0.13,<0.14", "taskiq-redis>=1.2,<2", "uvloop"]


def pickup(url: str, n: int, gap_s: float) -> dict[str, Any]:
    """Run the taskiq peer; return its report, or ``{"error": ...}`` if it could not run (never raises)."""
    try:
        python = peer_venv.venv_python(VENV, REQUIREMENTS, "taskiq, taskiq_redis, uvloop")
    except (OSError, subprocess.SubprocessError) as e:
        return {"error": f"could not set up {VENV.name}: {e}"}
    argv = [str(python), "-m", "bench.taskiq_peer", "--url", url, "--n", str(n), "--gap", str(gap_s)]
    try:
        return peer_venv.run_json(argv, 120 + n * gap_s, "the taskiq peer")
    except subprocess.TimeoutExpired:
        return {"error": "the taskiq peer did not finish in time"}
    except RuntimeError as e:
        return {"error": str(e)}
