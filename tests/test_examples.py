"""The examples run as written: a worker process, a producer process that never imports the tasks."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import ROOT
from tests.support import run_beside_worker

SETTINGS = "examples.tasks.WorkerSettings"


def test_producer_never_imports_task_code() -> None:
    tree = ast.parse((ROOT / "examples" / "producer.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any("examples" in name or "tasks" in name for name in imported)


def test_worker_and_producer_run_as_written(redis_url: str) -> None:
    done, worker, worker_out = run_beside_worker(
        "examples/producer.py", "examples.tasks.WorkerSettings", redis_url
    )
    assert done.returncode == 0, done.stderr
    assert "add: [0, 11, 22, 33, 44]" in done.stdout
    assert "images.resize: {'image_id': 42, 'width': 320, 'try': 1}" in done.stdout
    assert "unknown task fails clearly: no task named 'no.such.task'" in done.stdout
    assert "deferred job status: deferred -> 3" in done.stdout
    assert worker.returncode == 0, worker_out
    assert "Traceback" not in worker_out


def test_demo_runs_end_to_end() -> None:
    done = subprocess.run(
        [sys.executable, "examples/demo.py"], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "embedded redis-server at redis://127.0.0.1:" in done.stdout
    assert "worker exited with 0" in done.stdout


def test_user_tests_run_as_written() -> None:
    """examples/test_user_tasks.py, the documented way to test tasks, passes (plugin found as installed)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/test_user_tasks.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8 passed" in done.stdout
