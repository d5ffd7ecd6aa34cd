"""Helpers shared by tests: waiting for a condition, child processes with collected output."""

from __future__ import annotations

import asyncio
import inspect
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Self

from tests.conftest import ROOT, aqueue_cli, subprocess_env


async def eventually(check: Callable[[], Any], what: str, timeout: float = 10, interval: float = 0.02) -> Any:
    """Call ``check`` (sync or async) until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


#: What a worker process logs once it is connected and taking jobs.
WORKER_READY = re.compile(r"aqueue\.worker: worker \S+ on ")


class LoggedProcess:
    """A child process whose combined stdout/stderr a reader thread collects into ``lines``."""

    def __init__(self, proc: subprocess.Popen[str], name: str = "child") -> None:
        self.proc = proc
        self.name = name
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._pump, name=f"pump-{name}", daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def pid(self) -> int:
        """Return the child's pid."""
        return self.proc.pid

    @property
    def log(self) -> str:
        """Return everything the child printed so far."""
        return "".join(self.lines)

    def alive(self) -> bool:
        """Return whether the child is still running."""
        return self.proc.poll() is None

    async def wait_log(self, pattern: str | re.Pattern[str], timeout: float = 20) -> re.Match[str]:
        """Wait until the log matches ``pattern``; fail early (with the log) if the process exits."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            found = regex.search(self.log)
            if found:
                return found
            if not self.alive():
                await asyncio.sleep(0.2)  # let the reader catch the last lines
                raise AssertionError(
                    f"{self.name} exited ({self.proc.returncode}) before logging "
                    f"{regex.pattern!r}:\n{self.log}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not log {regex.pattern!r} in {timeout}s:\n{self.log}")
            await asyncio.sleep(0.02)

    async def ready(self, timeout: float = 20) -> Self:
        """Wait until the worker process is connected and taking jobs."""
        await self.wait_log(WORKER_READY, timeout)
        return self

    def kill(self) -> None:
        """SIGKILL (works on a SIGSTOPped process too), reap, close the pipe."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def run_beside_worker(
    script: str, settings: str, redis_url: str, timeout: float = 60
) -> tuple[subprocess.CompletedProcess[str], subprocess.Popen[str], str]:
    """Run ``python script`` while a ``settings`` worker process runs; stop the worker (SIGTERM) after.

    Returns the script's completed process, the worker process and the worker's output.
    """
    worker = aqueue_cli("worker", settings, redis_url=redis_url)
    try:
        done = subprocess.run(
            [sys.executable, script],
            cwd=ROOT,
            env=subprocess_env(redis_url),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    finally:
        worker.terminate()
        worker_out, _ = worker.communicate(timeout=30)
    return done, worker, worker_out
