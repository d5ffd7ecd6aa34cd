"""Start and talk to worker child processes (``bench.child``) from the benchmark's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench.peers import Peer
from bench.snapshot import ENV as SNAPSHOT_ENV

ROOT = Path(__file__).resolve().parent.parent


class WorkerProc:
    """One worker child process running ``peer``'s worker on its queue."""

    def __init__(self, peer: Peer, url: str, *, burst: bool, max_jobs: int = 100, profile: str | None = None):
        self.peer, self.url, self.burst, self.max_jobs, self.profile = peer, url, burst, max_jobs, profile
        self.proc: asyncio.subprocess.Process | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="bench-child-", suffix=".log", delete=False)  # noqa: SIM115

    def _argv(self) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "bench.child",
            "--impl",
            self.peer.impl,
            "--url",
            self.url,
            "--queue",
            self.peer.queue_name,
            "--max-jobs",
            str(self.max_jobs),
        ]
        if self.peer.poll_delay is not None:
            argv += ["--poll-delay", str(self.peer.poll_delay)]
        if self.burst:
            argv.append("--burst")
        if self.profile:
            argv += ["--profile", self.profile]
        return argv

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, timeout: float = 30) -> WorkerProc:
        path = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)]))
        env = {**os.environ, "PYTHONPATH": path}
        self.proc = await asyncio.create_subprocess_exec(
            *self._argv(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self.log,
            cwd=ROOT,
            env=env,
        )
        ready = await self.expect("ready", timeout)
        snap = os.environ.get(SNAPSHOT_ENV)
        if snap and not ready["aqueue"].startswith(snap):
            raise RuntimeError(f"worker child imported {ready['aqueue']}, not the snapshot {snap}")
        return self

    async def send(self, line: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def go(self) -> None:
        await self.send("go")

    async def stop(self, timeout: float = 30) -> dict[str, Any]:
        """Ask a non-burst worker to stop; return its report."""
        await self.send("stop")
        return await self.expect("done", timeout)

    async def expect(self, event: str, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    tail = self.log_tail()
                    raise RuntimeError(f"worker child {self.peer.key} exited before {event!r}:\n{tail}")
                message = json.loads(line)
                if message.get("event") == event:
                    return message  # type: ignore[no-any-return]

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            os.kill(self.proc.pid, signal.SIGKILL)

    async def close(self) -> None:
        if self.proc is not None:
            if self.proc.stdin is not None and not self.proc.stdin.is_closing():
                self.proc.stdin.close()  # EOF on stdin also stops a non-burst child
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 5)
            self.kill()
            await self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)

    def log_tail(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-2000:]


@contextlib.asynccontextmanager
async def workers(
    peer: Peer,
    url: str,
    count: int = 1,
    *,
    burst: bool,
    profile: str | None = None,
) -> AsyncIterator[list[WorkerProc]]:
    """Start ``count`` worker children (each announces ready); kill any still running on exit."""
    procs = [WorkerProc(peer, url, burst=burst, profile=profile) for _ in range(count)]
    try:
        await asyncio.gather(*(p.start() for p in procs))
        yield procs
    finally:
        await asyncio.gather(*(p.close() for p in procs))
