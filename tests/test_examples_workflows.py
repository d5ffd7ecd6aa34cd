"""``examples/workflows.py`` runs as written against a worker process of ``examples.tasks``."""

from __future__ import annotations

import ast
import re

import pytest

from tests.conftest import ROOT
from tests.support import run_beside_worker

SCRIPT = ROOT / "examples" / "workflows.py"
SETTINGS = "examples.tasks.WorkerSettings"


def test_workflows_example_never_imports_task_code() -> None:
    tree = ast.parse(SCRIPT.read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"__future__", "asyncio", "aqueue", "aqueue.workflows"}


@pytest.mark.timeout(90)
def test_workflows_example_runs_as_written(redis_url: str) -> None:
    done, worker, worker_out = run_beside_worker(str(SCRIPT), SETTINGS, redis_url)
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
