"""The pytest plugin in a project of its own: found through its entry point, fixtures isolated per test.

Each test writes a small project (a ``pytest.ini`` in pytest-asyncio's strict mode, warnings as
errors, and a test file) and runs pytest on it in a child process, as a user's CI would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import redis as sync_redis

PROJECT_TESTS = """
import os

import pytest
import redis

import aqueue
from aqueue import JobStatus, task


@task
async def double(ctx, x):
    return 2 * x


class WorkerSettings:
    functions = [double]


@pytest.fixture
def aqueue_settings():
    return WorkerSettings


def test_first_sees_an_empty_redis_and_leaves_a_key(aqueue_redis_url):
    r = redis.Redis.from_url(aqueue_redis_url)
    assert r.dbsize() == 0
    r.set("leftover", 1)
    r.close()


def test_second_sees_it_flushed(aqueue_redis_url):
    r = redis.Redis.from_url(aqueue_redis_url)
    assert r.dbsize() == 0
    r.close()
    assert os.environ["AQUEUE_REDIS_URL"] == aqueue_redis_url


@pytest.mark.asyncio
async def test_worker(aqueue_worker):
    async with aqueue_worker() as worker:
        job = await aqueue.enqueue("double", 21)
        await worker.drain()
        assert await job.result() == 42


@pytest.mark.asyncio
async def test_eager(aqueue_eager):
    job = await double.enqueue(2)
    assert await job.status() == JobStatus.complete


@pytest.mark.asyncio
async def test_client(aqueue_client):
    assert await aqueue_client.redis.ping()
"""

STRICT_INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""


def run_project(tmp_path: Path, tests: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text(STRICT_INI)
    (tmp_path / "test_project.py").write_text(textwrap.dedent(tests))
    env = {k: v for k, v in os.environ.items() if k != "AQUEUE_REDIS_URL"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_fresh_project_gets_isolated_fixtures(tmp_path: Path) -> None:
    done = run_project(tmp_path, PROJECT_TESTS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout


def test_an_external_redis_is_used_and_only_its_database_flushed(tmp_path: Path, redis_url: str) -> None:
    mine = sync_redis.Redis.from_url(redis_url)
    mine.set("mine", 1)  # database 0: the project's fixtures use database 3
    tests = """
        def test_uses_it(aqueue_redis_server, aqueue_redis_url):
            assert aqueue_redis_server is None
            assert aqueue_redis_url.endswith("/3")
    """
    done = run_project(tmp_path, tests, "--aqueue-redis-url", redis_url.rsplit("/", 1)[0] + "/3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert mine.get("mine") == b"1"
    mine.close()


def test_aqueue_worker_without_settings_says_what_to_do(tmp_path: Path) -> None:
    tests = """
        import pytest
        from aqueue.errors import ConfigurationError

        @pytest.mark.asyncio
        async def test_no_settings(aqueue_worker):
            with pytest.raises(ConfigurationError, match="override the aqueue_settings fixture"):
                aqueue_worker()
    """
    done = run_project(tmp_path, tests)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_plugin_can_be_switched_off(tmp_path: Path) -> None:
    done = run_project(tmp_path, "def test_x(aqueue_redis_url):\n    pass\n", "-p", "no:aqueue")
    assert done.returncode != 0
    assert "fixture 'aqueue_redis_url' not found" in done.stdout
