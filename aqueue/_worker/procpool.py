"""The process pool: ``@task(executor="process")`` runs in child processes that the worker owns.

Not ``concurrent.futures.ProcessPoolExecutor``: when one of its children dies it breaks the whole
pool, failing every pending call. Here each child has its own pipe, runs one call at a time, and a
child that dies (an ``os._exit``, a segfault, a ``kill -9``) fails only the attempt it was running,
with :class:`~aqueue.errors.ProcessCrashed`; the pool starts another child for the next call.

- **Start method**: ``forkserver`` where the platform has it (Linux, macOS), else ``spawn``, never a
  plain ``fork`` of the worker (an event loop with threads). A child gets the parent's ``sys.path`` and
  imports each task by its function's module path.
- **Size**: at most ``size`` children live at once, started when the worker starts (in the
  background; the forkserver has imported aqueue, so a child is up in milliseconds) and again on demand
  after one was retired or died; a child is retired after ``max_tasks_per_child`` calls (None: never).
  A call waits for a free child.
- **The event loop never blocks**: starting a child, and each call's send and receive, run in a
  small thread pool of the pool's own; the loop only awaits.
- **Stopping a call** (a timeout, an abort, a shutdown cancels it): the child gets SIGTERM, then
  SIGKILL ``kill_grace_s`` later; its slot is free again once it is gone.
- **Closing** ends every child (idle ones see their pipe close; any other is killed) and waits until
  they are gone.

:class:`ProcessPoolExtension` plugs the pool into a worker through the extension seam: it routes the
calls of process tasks to the pool (``wrap_call``) and closes the pool when the worker stops.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from aqueue._worker import _child
from aqueue.errors import ConfigurationError, ProcessCrashed, SerializationError, TaskError
from aqueue.extensions import Call, Service, WorkerContext, WorkerExtension
from aqueue.tasks import Task

__all__ = ["START_METHOD", "ProcessPool", "ProcessPoolExtension"]

#: forkserver where it exists: a clean process forks the children, which start fast.
START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
#: The ``ctx`` entries a process task gets (plain values; the rest, ``redis`` first, stays behind).
CTX_KEYS = ("job_id", "job_try", "enqueue_time", "score", "queue_name", "worker_id")
#: The last word to a child (Windows has no SIGKILL: os.kill with SIGTERM terminates there).
_KILL = getattr(signal, "SIGKILL", signal.SIGTERM)
#: How many fresh children a call tries when each dies before it received the call.
_SEND_ATTEMPTS = 3

Codec = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Died:
    """A child's end: its exit code (negative: the signal), and whether it had received the call."""

    exitcode: int | None
    received: bool


@dataclass(eq=False)
class _Child:
    process: BaseProcess
    conn: Connection
    calls: int = 0
    gone: bool = False  # joined: its pid may belong to someone else now
    lock: threading.Lock = field(repr=False, default_factory=threading.Lock)

    @property
    def pid(self) -> int:
        """Return the child's pid."""
        return self.process.pid or 0

    def exchange(self, message: tuple[Any, ...]) -> tuple[Any, ...] | _Died:
        """Send one call and wait for its reply (in a pool thread); a dead child gives ``_Died``."""
        try:
            self.conn.send(message)
        except OSError:
            return self.reap(received=False)
        try:
            reply: tuple[Any, ...] = self.conn.recv()
        except (EOFError, OSError):
            return self.reap(received=True)
        return reply

    def reap(self, *, received: bool) -> _Died:
        """Wait for the child to be gone (it is dying: its pipe closed) and say how it ended."""
        with self.lock:
            self.process.join(10)
            self.gone = True
            return _Died(self.process.exitcode, received)

    def send(self, signum: int) -> None:
        """Send ``signum`` unless the child is known to be gone."""
        if not self.gone and self.pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signum)


def describe_death(exitcode: int | None) -> str:
    """Say how a child ended: ``died with SIGSEGV``, ``exited with code 3``."""
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        try:
            return f"died with {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"died with signal {-exitcode}"
    return f"exited with code {exitcode}"


class ProcessPool:
    """Up to ``size`` child processes that run plain ``def`` tasks, one call per child at a time."""

    def __init__(
        self,
        *,
        size: int,
        serializer: Codec,
        deserializer: Codec,
        max_tasks_per_child: int | None = None,
        kill_grace_s: float = 0.5,
    ) -> None:
        self.size, self.max_tasks_per_child, self.kill_grace_s = size, max_tasks_per_child, kill_grace_s
        self.serializer, self.deserializer = serializer, deserializer
        self._context: Any = multiprocessing.get_context(START_METHOD)  # its Process is per method
        if START_METHOD == "forkserver":  # children fork from a server that imported aqueue once
            self._context.set_forkserver_preload([_child.__name__])
        self._idle: list[_Child] = []
        self._live: set[_Child] = set()
        # a slot: taken by a call before it picks a child, given back once that child is free or gone
        self._busy = asyncio.Semaphore(size)
        self._threads = concurrent.futures.ThreadPoolExecutor(size + 2, thread_name_prefix="aqueue-procpool")
        self._start_lock = threading.Lock()
        self._closed = False

    @property
    def pids(self) -> list[int]:
        """Return the pids of the live children."""
        return sorted(child.pid for child in self._live)

    async def run(self, task: Task[Any, Any], ctx: Mapping[str, Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``task`` in a child; return its result or raise its exception (or ``ProcessCrashed``)."""
        message = self._message(task, ctx, args, kwargs)
        await self._busy.acquire()
        child: _Child | None = None
        try:
            for _ in range(_SEND_ATTEMPTS):
                child = await self._checkout()
                reply = await self._exchange(child, message)
                if not isinstance(reply, _Died) or reply.received:
                    return self._outcome(task, ctx, child, reply)
                self._live.discard(child)  # it died idle: this call was never delivered, try another
            raise ProcessCrashed(
                f"{task.name}: {_SEND_ATTEMPTS} child processes in a row died before starting"
            )
        finally:
            if child is None or child not in self._live or child in self._idle:
                self._busy.release()

    def _message(
        self, task: Task[Any, Any], ctx: Mapping[str, Any], args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> tuple[Any, ...]:
        if self._closed:
            raise ConfigurationError(f"{task.name}: the worker's process pool is closed")
        try:
            payload = self.serializer({"a": list(args), "k": dict(kwargs)})
        except Exception as e:
            raise SerializationError(f"{task.name}: arguments cannot be sent to a child process: {e}") from e
        return (_where(task), {k: ctx[k] for k in CTX_KEYS if k in ctx}, payload)

    async def _checkout(self) -> _Child:
        """Return an idle child, or start one (the caller holds a slot, so there is room)."""
        if self._idle:
            return self._idle.pop()
        child = await self._start()
        self._live.add(child)
        return child

    async def _start(self) -> _Child:
        """Start a child in a pool thread; one whose caller was cancelled meanwhile is adopted, idle."""
        future = self._threads.submit(self._start_child)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            loop = asyncio.get_running_loop()
            future.add_done_callback(lambda f: loop.call_soon_threadsafe(self._adopt, f))
            raise

    async def warm(self) -> None:
        """Start the children now, in the background of a starting worker, so first calls find them up."""
        await asyncio.gather(*(self._warm_one() for _ in range(self.size)))

    async def _warm_one(self) -> None:
        async with self._busy:
            if len(self._live) >= self.size or self._closed:
                return
            child = await self._start()
            self._live.add(child)
            self._idle.append(child)

    def _adopt(self, future: concurrent.futures.Future[_Child]) -> None:
        """Keep a child whose start outlived the call that asked for it (retire it if there is no room)."""
        if future.cancelled() or future.exception() is not None:
            return
        child = future.result()
        if self._closed or len(self._live) >= self.size:
            child.conn.close()
            return
        self._live.add(child)
        self._idle.append(child)

    def _start_child(self) -> _Child:
        mine, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_child.serve,
            args=(theirs, list(sys.path), self.serializer, self.deserializer),
            name="aqueue-task-child",
            daemon=True,
        )
        with self._start_lock:
            process.start()
        theirs.close()
        return _Child(process, mine)

    async def _exchange(self, child: _Child, message: tuple[Any, ...]) -> tuple[Any, ...] | _Died:
        """Run one call in ``child``; a cancellation (timeout, abort, shutdown) kills the child."""
        future = self._threads.submit(child.exchange, message)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            self._kill(child)
            loop = asyncio.get_running_loop()
            future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._forget, child))
            raise

    def _outcome(
        self, task: Task[Any, Any], ctx: Mapping[str, Any], child: _Child, reply: tuple[Any, ...] | _Died
    ) -> Any:
        if isinstance(reply, _Died):
            self._live.discard(child)
            raise ProcessCrashed(
                f"{task.name}: the child process (pid {child.pid}) running job {ctx.get('job_id')} "
                f"{describe_death(reply.exitcode)}"
            )
        child.calls += 1
        self._give_back(child)
        kind, *rest = reply
        if kind == "ok":
            return self.deserializer(rest[0])
        if kind == "err":
            raise self.deserializer(rest[0])
        if kind == "pickled":
            raise pickle.loads(rest[0])
        raise TaskError(*rest)

    def _give_back(self, child: _Child) -> None:
        """Put ``child`` back to work, or retire it once it has run ``max_tasks_per_child`` calls."""
        if self._closed or (self.max_tasks_per_child is not None and child.calls >= self.max_tasks_per_child):
            child.conn.close()  # the child sees its pipe close and exits
            loop = asyncio.get_running_loop()
            future = self._threads.submit(child.reap, received=False)
            future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._forget, child))
        else:
            self._idle.append(child)

    def _forget(self, child: _Child) -> None:
        """A child (retired or killed) is gone: its slot is free."""
        if child in self._live:
            self._live.discard(child)
            self._busy.release()

    def _kill(self, child: _Child) -> None:
        """SIGTERM now, SIGKILL after ``kill_grace_s`` unless it is gone by then."""
        child.send(signal.SIGTERM)
        asyncio.get_running_loop().call_later(self.kill_grace_s, child.send, _KILL)

    async def close(self) -> None:
        """End every child and wait until they are gone (idle ones exit, any other is killed)."""
        self._closed = True
        idle, self._idle = self._idle, []
        for child in idle:
            child.conn.close()
        children = list(self._live)
        for child in children:
            if child not in idle:
                child.send(signal.SIGTERM)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._threads, _join_all, children, self.kill_grace_s)
        finally:
            for child in children:
                child.send(_KILL)
            _join_all(children, 2.0)
            self._live.clear()
            self._threads.shutdown(wait=False)


def _join_all(children: Sequence[_Child], seconds: float) -> None:
    """Wait up to ``seconds`` in all for ``children`` to end; mark those that did as gone."""
    deadline = time.monotonic() + seconds
    for child in children:
        with child.lock:
            child.process.join(max(deadline - time.monotonic(), 0))
            if not child.process.is_alive():
                child.gone = True


class ProcessPoolExtension(WorkerExtension):
    """Routes the worker's process tasks to a :class:`ProcessPool` it owns, closed when the worker stops."""

    def __init__(
        self,
        tasks: Sequence[Task[Any, Any]],
        *,
        size: int | None = None,
        max_tasks_per_child: int | None = None,
    ) -> None:
        self.size = size or os.cpu_count() or 1
        self.max_tasks_per_child = max_tasks_per_child
        self.process_tasks = {t.name: t for t in tasks if t.executor == "process"}
        self.pool: ProcessPool | None = None
        for t in self.process_tasks.values():
            _check_importable(t)

    def bind(self, context: WorkerContext) -> None:
        """Make the pool (children start on demand) with the worker's serializer pair."""
        try:
            pickle.dumps((context.serializer, context.deserializer))
        except Exception as e:
            raise ConfigurationError(
                "process tasks need a job_serializer and job_deserializer that a child process can "
                f"import (module-level functions): {e}"
            ) from e
        self.pool = ProcessPool(
            size=self.size,
            serializer=context.serializer,
            deserializer=context.deserializer,
            max_tasks_per_child=self.max_tasks_per_child,
        )

    def wrap_call(self, call: Call, envelope: Any) -> Call:
        """Send a process task's calls to the pool (other tasks keep ``call``)."""
        task = self.process_tasks.get(envelope.name)
        if task is None or self.pool is None:
            return call
        return functools.partial(self.pool.run, task)

    def services(self) -> Sequence[Service]:
        """Start the children at once, keep them while the worker runs, end them when it stops."""
        return (self._hold,)

    async def _hold(self) -> None:
        pool = self.pool
        try:
            if pool is not None:
                await pool.warm()
            await asyncio.get_running_loop().create_future()
        finally:
            if pool is not None:
                await pool.close()


def _where(t: Task[Any, Any]) -> tuple[str, str, str]:
    """Say where a child finds the task's function: module, qualified name, and the module's file."""
    func = t.func
    module = sys.modules.get(func.__module__)
    return (func.__module__, func.__qualname__, getattr(module, "__file__", None) or "")


def _check_importable(t: Task[Any, Any]) -> None:
    """Refuse a process task that a child could not import by module path."""
    func = t.func
    where = "in __main__" if func.__module__ == "__main__" else None
    if "<locals>" in func.__qualname__:
        where = "inside a function"
    if where is not None:
        raise ConfigurationError(
            f"task {t.name!r} runs in a process pool, so its function must be importable by module path "
            f"from a child process; it is defined {where}: move it to a module"
        )
