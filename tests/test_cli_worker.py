"""``aqueue worker --check`` (a container health check) and ``--log-format json``, as real processes."""

from __future__ import annotations

import time

import orjson

from tests.conftest import aqueue_cli, run_cli


def test_check_fails_without_a_live_worker_and_passes_with_one(redis_url: str) -> None:
    done = run_cli("worker", "--check", "tests.cli_settings.WorkerSettings", redis_url=redis_url)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: no live worker serves queue 'arq:queue'")
    worker = aqueue_cli("worker", "tests.cli_settings.WorkerSettings", redis_url=redis_url)
    try:
        deadline = time.monotonic() + 20
        while True:
            done = run_cli("worker", "--check", "tests.cli_settings.WorkerSettings", redis_url=redis_url)
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert done.returncode == 0, done.stderr
        assert "1 live worker(s) serve queue 'arq:queue'" in done.stdout
        other = run_cli(
            "worker",
            "--check",
            "--queue",
            "elsewhere",
            "tests.cli_settings.WorkerSettings",
            redis_url=redis_url,
        )
        assert other.returncode == 1 and "'elsewhere'" in other.stderr
    finally:
        worker.terminate()
        worker.communicate(timeout=20)


def test_json_logs_carry_the_job_fields(redis_url: str) -> None:
    worker = aqueue_cli("worker", "tests.cli_settings.JsonSettings", redis_url=redis_url)
    try:
        done = run_cli("enqueue", "chatty", '"hello"', "--wait", "10", redis_url=redis_url)
        assert done.returncode == 0, done.stderr
        job_id = done.stdout.split()[0]
    finally:
        worker.terminate()
        out, _ = worker.communicate(timeout=20)
    records = [orjson.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert records and len(records) == len([line for line in out.splitlines() if line.strip()]), out
    (said,) = [r for r in records if r["logger"] == "tests.chatty"]
    assert said["message"] == "saying hello" and said["level"] == "warning"
    assert (said["job_id"], said["task"], said["queue"], said["try"]) == (job_id, "chatty", "arq:queue", 1)
    assert said["time"].endswith("+00:00")
    assert not any("job_id" in r for r in records if r["logger"] == "aqueue.worker" and "on " in r["message"])


def test_a_bad_log_format_in_settings_is_one_clear_error(redis_url: str) -> None:
    done = run_cli("worker", "tests.cli_settings.BadLogFormat", redis_url=redis_url)
    assert done.returncode == 1
    assert done.stderr.strip() == "error: log_format must be one of text, json, not 'yaml'"
