"""Start and talk to child processes (``bench.child`` workers, ``bench.producer_child`` producers).

A child runs the ``aqueue`` of its *code*: by default this process's (the run's snapshot of the working
tree), or, in an A/B run, a directory holding another version's ``aqueue/`` (put first on its
``PYTHONPATH``). Every child names the ``aqueue/__init__.py`` it imported in its ready message, and
:meth:`ChildProc.start` refuses a child that ran other code than asked.
"""

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
from typing import Any, ClassVar

from bench.peers import AQUEUE, Peer
from bench.producers import AqueueProducer, ArqProducer, producer
from bench.snapshot import ENV as SNAPSHOT_ENV

ROOT = Path(__file__).resolve().parent.parent


def child_env(code: Path | None) -> tuple[dict[str, str], str | None]:
    """Return a child's environment for ``code`` (None: this process's aqueue) and the directory its
    ``aqueue`` must be imported from (None: no check)."""
    if code is None:
        path = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)]))
        return {**os.environ, "PYTHONPATH": path}, os.environ.get(SNAPSHOT_ENV)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(code), str(ROOT)])}, str(code)


def check_origin(imported: str, expected: str | None) -> None:
    """Raise unless the child's ``aqueue.__file__`` (``imported``) lies under ``expected``."""
    if expected and not Path(imported).is_relative_to(expected):
        raise RuntimeError(f"child imported {imported}, not the aqueue under {expected}")


class ChildProc:
    """One child process speaking JSON lines on stdout; stderr goes to a temporary log file."""

    name = "child"
    #: Every ``aqueue/__init__.py`` a child of this process reported importing (A/B runs report them).
    seen: ClassVar[set[str]] = set()

    def __init__(self, code: Path | None = None):
        self.code = code
        self.proc: asyncio.subprocess.Process | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="bench-child-", suffix=".log", delete=False)  # noqa: SIM115
        self.ready: dict[str, Any] = {}

    def _argv(self) -> list[str]:
        raise NotImplementedError

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, timeout: float = 30) -> ChildProc:
        env, expected = child_env(self.code)
        self.proc = await asyncio.create_subprocess_exec(
            *self._argv(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self.log,
            cwd=ROOT,
            env=env,
        )
        self.ready = await self.expect("ready", timeout)
        check_origin(self.ready["aqueue"], expected)
        ChildProc.seen.add(self.ready["aqueue"])
        return self

    async def send(self, line: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def expect(self, event: str, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    tail = self.log_tail()
                    raise RuntimeError(f"{self.name} exited before {event!r}:\n{tail}")
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


class WorkerProc(ChildProc):
    """One worker child process running ``peer``'s worker on its queue."""

    def __init__(
        self,
        peer: Peer,
        url: str,
        *,
        burst: bool,
        max_jobs: int = 100,
        profile: str | None = None,
        code: Path | None = None,
    ):
        super().__init__(code)
        self.peer, self.url, self.burst, self.max_jobs, self.profile = peer, url, burst, max_jobs, profile
        self.name = f"worker child {peer.key}"

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

    async def go(self) -> None:
        await self.send("go")

    async def stop(self, timeout: float = 30) -> dict[str, Any]:
        """Ask a non-burst worker to stop; return its report."""
        await self.send("stop")
        return await self.expect("done", timeout)


@contextlib.asynccontextmanager
async def workers(
    peer: Peer,
    url: str,
    count: int = 1,
    *,
    burst: bool,
    profile: str | None = None,
    code: Path | None = None,
) -> AsyncIterator[list[WorkerProc]]:
    """Start ``count`` worker children on ``code`` (each announces ready); kill any still running on exit."""
    procs = [WorkerProc(peer, url, burst=burst, profile=profile, code=code) for _ in range(count)]
    try:
        await asyncio.gather(*(p.start() for p in procs))
        yield procs
    finally:
        await asyncio.gather(*(p.close() for p in procs))


class ProducerProc(ChildProc):
    """An aqueue producer in a child process on ``code`` (``bench.producer_child``): an A/B side's
    enqueues run that side's ``Client``. Same methods as the in-process adapters in ``bench.producers``."""

    def __init__(self, peer: Peer, url: str, code: Path | None):
        if peer != AQUEUE:
            raise ValueError(f"a producer child runs the aqueue peer only, not {peer.key}")
        super().__init__(code)
        self.peer, self.url = peer, url
        self.name = f"producer child {peer.key}"

    def _argv(self) -> list[str]:
        return [sys.executable, "-m", "bench.producer_child", "--url", self.url]

    async def call(self, op: str, timeout: float = 120, **args: Any) -> dict[str, Any]:
        """Send one command; return the child's reply."""
        await self.send(json.dumps({"op": op, **args}))
        return await self.expect("reply", timeout)

    async def enqueue(self, name: str, *args: Any) -> None:
        await self.call("enqueue", name=name, args=list(args))

    async def prefill(self, name: str, n: int) -> None:
        await self.call("prefill", timeout=max(120, n / 100), name=name, n=n)

    async def warm_up(self, n: int) -> None:
        await self.call("warm_up", n=n)

    async def timed_one(self, n: int) -> dict[str, float]:
        return (await self.call("timed_one", timeout=max(120, n / 100), n=n))["result"]  # type: ignore[no-any-return]

    async def timed_batch(self, n: int) -> dict[str, float]:
        return (await self.call("timed_batch", timeout=max(120, n / 100), n=n))["result"]  # type: ignore[no-any-return]

    async def paced_pickups(self, n: int, gap_s: float) -> list[float]:
        reply = await self.call("paced_pickups", timeout=60 + n * gap_s * 2, n=n, gap_s=gap_s)
        return reply["result"]  # type: ignore[no-any-return]


AnyProducer = AqueueProducer | ArqProducer | ProducerProc


@contextlib.asynccontextmanager
async def producer_on(peer: Peer, url: str, code: Path | None = None) -> AsyncIterator[AnyProducer]:
    """``peer``'s producer: in this process when ``code`` is None, else a producer child on ``code``."""
    if code is None:
        async with producer(peer, url) as local:
            yield local
        return
    child = ProducerProc(peer, url, code)
    try:
        await child.start()
        yield child
    finally:
        await child.close()
