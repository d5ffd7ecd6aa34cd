"""Peers that are not aqueue's dependencies run in venvs of their own, made on first use.

Standard library only: the peers import ``ROOT`` from here inside their venvs, which have no aqueue.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def venv_python(venv: Path, requirements: list[str], probe: str) -> Path:
    """Return ``venv``'s python, creating it and installing ``requirements`` unless ``probe`` imports."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", f"import {probe}"]
    if python.exists():
        probe_run = subprocess.run(check, check=False, capture_output=True, timeout=60)
        if probe_run.returncode == 0:
            return python
    print(f"creating {venv} and installing {requirements} (first use only)…", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True, timeout=900)
    return python


def run_group(argv: list[str], env: dict[str, str], timeout: float) -> tuple[str, str]:
    """Run ``argv`` in a process group of its own; on timeout, SIGKILL the group (its workers too)."""
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


def run_json(argv: list[str], timeout: float, what: str) -> dict[str, Any]:
    """Run a peer (``argv``, with this repository on ``PYTHONPATH``) via :func:`run_group`; return the
    JSON object on its last line of output. Raise RuntimeError naming ``what`` if it printed nothing."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    stdout, stderr = run_group(argv, env, timeout)
    lines = stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"{what} printed nothing; stderr:\n{stderr[-2000:]}")
    report: dict[str, Any] = json.loads(lines[-1])
    return report
