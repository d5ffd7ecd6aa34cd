"""The aqueue CLI, run as a real process: help texts and one-line errors."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from aqueue.embedded import free_port
from tests.conftest import aqueue_cli, run_cli


@pytest.mark.parametrize(
    "command", [[], ["worker"], ["enqueue"], ["cron"], ["cron", "list"], ["cron", "next"]]
)
def test_every_command_has_help(command: list[str], redis_url: str) -> None:
    done = run_cli(*command, "--help", redis_url=redis_url)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout and len(done.stdout.splitlines()) > 3


def assert_one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_bad_settings_module(redis_url: str) -> None:
    done = run_cli("worker", "no_such_module.WorkerSettings", redis_url=redis_url)
    assert_one_line_error(done, "error:", "no_such_module")


def test_bad_settings_attribute(redis_url: str) -> None:
    done = run_cli("worker", "tests.cli_settings.Missing", redis_url=redis_url)
    assert_one_line_error(done, "error:", "has no 'Missing'")


def test_bad_settings_content(redis_url: str) -> None:
    done = run_cli("worker", "tests.cli_settings.BadSettings", redis_url=redis_url)
    assert_one_line_error(done, "error:", "not a function")


def test_bad_option_is_a_usage_error(redis_url: str) -> None:
    done = run_cli("worker", "tests.cli_settings.WorkerSettings", "--max-jobs", "0", redis_url=redis_url)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "--max-jobs" in done.stderr


def test_unreachable_redis_is_one_line_after_bounded_retry(redis_url: str) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    t0 = time.monotonic()
    done = run_cli("worker", "tests.cli_settings.WorkerSettings", "--redis", dead, redis_url=redis_url)
    assert_one_line_error(done, "error:", "cannot reach Redis", dead)
    assert time.monotonic() - t0 < 20


def test_bad_redis_url(redis_url: str) -> None:
    done = run_cli("enqueue", "add", "1", "--redis", "http://nope", redis_url=redis_url)
    assert_one_line_error(done, "error:", "invalid Redis URL")


def test_enqueue_command_with_worker_process(redis_url: str) -> None:
    worker = aqueue_cli("worker", "tests.cli_settings.WorkerSettings", redis_url=redis_url)
    try:
        done = run_cli("enqueue", "add", "40", "2", "--wait", "10", redis_url=redis_url)
        assert done.returncode == 0, done.stderr
        job_id, result = done.stdout.split()
        assert len(job_id) == 32 and result == "42"
    finally:
        worker.terminate()
        out, _ = worker.communicate(timeout=20)
    assert worker.returncode == 0, out
    assert "Traceback" not in out


def test_enqueue_wait_for_a_failing_task_is_one_line(redis_url: str) -> None:
    worker = aqueue_cli("worker", "tests.cli_settings.WorkerSettings", redis_url=redis_url)
    try:
        failed = run_cli("enqueue", "add", "40", '"x"', "--wait", "10", redis_url=redis_url)
        assert_one_line_error(failed, "error: job ", "failed: TypeError: unsupported operand")
        assert len(failed.stdout.split()) == 1  # the job id, then nothing on stdout
    finally:
        worker.terminate()
        worker.communicate(timeout=20)


def test_bad_cron_expression_in_settings(redis_url: str, tmp_path: Path) -> None:
    (tmp_path / "badcron_settings.py").write_text(
        "from aqueue import cron\n"
        "async def f(ctx): pass\n"
        "class WorkerSettings:\n"
        "    functions = [f]\n"
        "    cron_jobs = [cron('61 * * * *', f)]\n"
    )
    for command in (["worker"], ["cron", "list"]):
        done = run_cli(*command, "badcron_settings.WorkerSettings", redis_url=redis_url, cwd=tmp_path)
        assert_one_line_error(done, "error:", "'61 * * * *'", "minute")
