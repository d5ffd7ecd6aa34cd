"""docker-compose.yml: the services it promises, the Redis settings docs/production.md asks for, and
its commands, run as written (``aqueue …`` through this checkout's CLI) against the test Redis.

``docker compose config`` checks the file's syntax too where Docker is installed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, subprocess_env
from tests.support import LoggedProcess

COMPOSE = ROOT / "docker-compose.yml"


def services() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    found: dict[str, Any] = loaded["services"]
    return found


def argv(command: list[str]) -> list[str]:
    """Return how to run a service's command here: ``aqueue`` and ``python`` are this checkout's."""
    program, *rest = command
    if program == "aqueue":
        return [sys.executable, "-m", "aqueue", *rest]
    assert program == "python", f"a service runs {program!r}, which the image may not have"
    return [sys.executable, *rest]


def test_the_services_and_the_redis_settings() -> None:
    found = services()
    assert set(found) == {"redis", "worker-1", "worker-2", "producer"}
    assert "# dashboard:" in COMPOSE.read_text(), "the dashboard service is there, commented out"
    redis = found["redis"]["command"]
    for option, value in (("--appendonly", "yes"), ("--maxmemory-policy", "noeviction")):
        assert redis[redis.index(option) + 1] == value
    for name in ("worker-1", "worker-2", "producer"):
        service = found[name]
        assert service["environment"]["AQUEUE_REDIS_URL"] == "redis://redis:6379/0"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert [found[w]["command"][:2] for w in ("worker-1", "worker-2")] == [["aqueue", "worker"]] * 2


@pytest.mark.transport("wire")
def test_the_commands_run_as_written(redis_url: str) -> None:
    found = services()
    workers = [
        LoggedProcess(
            subprocess.Popen(
                argv(found[name]["command"]),
                cwd=ROOT,
                env=subprocess_env(redis_url),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
            name,
        )
        for name in ("worker-1", "worker-2")
    ]
    try:
        produced = subprocess.run(
            argv(found["producer"]["command"]),
            cwd=ROOT,
            env=subprocess_env(redis_url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert produced.returncode == 0, produced.stderr
        assert "add: [0, 11, 22, 33, 44]" in produced.stdout
    finally:
        for worker in workers:
            worker.kill()
    assert all("Traceback" not in w.log for w in workers), "\n".join(w.log for w in workers)


def has_compose() -> bool:
    if shutil.which("docker") is None:
        return False
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
    return version.returncode == 0


def test_docker_compose_accepts_the_file() -> None:
    if not has_compose():
        pytest.skip("no `docker compose` here: the YAML is checked by the tests above")
    command = ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
