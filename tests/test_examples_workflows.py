"""``examples/workflows.py`` runs as written against a worker process of ``examples.tasks``."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT, aqueue_cli, subprocess_env

SCRIPT = ROOT / "examples" / "workflows.py"


def test_workflows_example_never_imports_task_code() -> None:
    tree = ast.parse(SCRIPT.read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"__future__", "asyncio", "aqueue", "aqueue.workflows"}


@pytest.mark.timeout(90)
def test_workflows_example_runs_as_written(redis_url: str) -> None:
    worker = aqueue_cli("worker", "examples.tasks.WorkerSettings", redis_url=redis_url)
    try:
        done = subprocess.run(
            [sys.executable, str(SCRIPT)],
            cwd=ROOT,
            env=subprocess_env(redis_url),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        worker.terminate()
        worker_out, _ = worker.communicate(timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    html = len("<html>https://example.com</html>")
    expected = [
        f"fetch | parse | store: stored {html} in db",
        "chain(add(2, 2), add(4), add(8)): 16",
        "add(2, 2) | si(add, 10, 10): 20",
        f"group of adds: {[i + i for i in range(10)]}",
        f"chord of 100 adds into xsum: {sum(i + i for i in range(100))}",
        "xsum.map: [45, 4950]",
        f"add.starmap: {[i + i for i in range(10)]}",
        f"add.chunks: 10 chunks, first {[i + i for i in range(10)]}, last {[i + i for i in range(90, 100)]}",
    ]
    lines = done.stdout.splitlines()
    assert lines[: len(expected)] == expected, done.stdout
    assert re.fullmatch(r"run [0-9a-f]{32}: complete, nodes \{'done': 10\}", lines[len(expected)])
    assert len(lines) == len(expected) + 1
    assert worker.returncode == 0, worker_out
    assert "Traceback" not in worker_out
