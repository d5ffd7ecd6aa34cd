"""Run the whole benchmark on one frozen copy of ``aqueue/``.

The source tree may change while a run is in progress (worker children import aqueue when they start,
minutes after the producer did). ``ensure`` copies ``aqueue/`` to a temporary directory and re-executes
``python -m bench`` with that copy first on ``PYTHONPATH`` (and ``PYTHONSAFEPATH=1`` so the current
directory does not shadow it); children inherit the environment, so every process runs the same code.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = "BENCH_AQUEUE_SNAPSHOT"


def source_hash(package: Path) -> str:
    """Return a short sha256 over the package's .py and .lua files (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.suffix in (".py", ".lua")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def ensure(argv: list[str]) -> None:
    """Re-exec on a snapshot unless this process already runs on one."""
    if os.environ.get(ENV):
        atexit.register(shutil.rmtree, os.environ[ENV], ignore_errors=True)
        return
    tmp = tempfile.mkdtemp(prefix="bench-aqueue-")
    shutil.copytree(ROOT / "aqueue", Path(tmp) / "aqueue", ignore=shutil.ignore_patterns("__pycache__"))
    path = os.pathsep.join(filter(None, [tmp, str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, ENV: tmp, "PYTHONPATH": path, "PYTHONSAFEPATH": "1"}
    os.execve(sys.executable, [sys.executable, "-m", "bench", *argv], env)


def describe() -> str:
    """Say which aqueue this process imported, and check it is the snapshot."""
    import aqueue

    package = Path(aqueue.__file__).parent
    snap = os.environ.get(ENV)
    if snap and not package.is_relative_to(snap):
        raise RuntimeError(f"aqueue was imported from {package}, not from the snapshot {snap}")
    return f"source sha256 {source_hash(package)} (snapshot of {ROOT / 'aqueue'} taken at start)"
