"""Eager mode: inside ``with aqueue.testing.eager():`` an enqueue returns once its job has run.

There is no second execution path. Eager mode runs on a real Redis (an embedded ``redis-server``
started for the block, or the one given) with real in-process workers (:func:`run_worker`), started
in the event loop of the first enqueue, one per queue enqueued to. An enqueue writes the job as it
always does (so an argument the serializer refuses fails there, as in production), then drains the
workers: retries, timeouts, ``max_tries``, workflow continuations, ``job.result()`` and
``job.status()`` all behave as they do under ``aqueue worker``, because the worker is that code.

How enqueues are caught: for the block, ``Client.connect``, ``Client.enqueue``,
``Client.enqueue_many`` and ``CanvasElement.enqueue`` are replaced (process-wide; one eager block at
a time; restored on exit). A client connecting inside the block is pointed at the eager Redis
whatever URL it was given (producer code needs no test configuration; the default client behind
``aqueue.enqueue`` and ``Task.enqueue`` is one), and every enqueue is followed by a drain. An
enqueue made by a task running in the eager worker does not drain (it would wait for itself); the
enqueue that started it drains everything.

The price: a Redis per block (or the plugin's session one), and a few milliseconds per enqueue.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import functools
import logging
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from arq.connections import RedisSettings

from aqueue._naming import TaskRef
from aqueue._redis.connection import RedisLike, describe, resolve_settings
from aqueue.client import Client, close_default_client, default_client
from aqueue.embedded import RedisServer
from aqueue.errors import ConfigurationError
from aqueue.jobs import Job
from aqueue.tasks import Task, as_task
from aqueue.testing._drain import DrainReport, JobFailure, raise_first
from aqueue.testing._worker import RunningWorker, WorkerTarget, run_worker, worker_options
from aqueue.workflows import CanvasElement, WorkflowRun

__all__ = ["Eager", "eager"]

logger = logging.getLogger("aqueue.testing")

#: True in the tasks of eager workers: their enqueues do not drain.
_IN_EAGER_WORKER: contextvars.ContextVar[bool] = contextvars.ContextVar("aqueue_eager_worker", default=False)
#: The task object whose ``Task.enqueue`` is under way (it enqueues by name).
_ENQUEUING: contextvars.ContextVar[Task[Any, Any] | None] = contextvars.ContextVar(
    "aqueue_eager_enqueuing", default=None
)
_ACTIVE: list[Eager] = []  # the eager session, while one is on


def eager(
    target: WorkerTarget = (),
    /,
    *,
    redis: RedisLike = None,
    queues: Iterable[str] = (),
    raise_failures: bool = False,
    run_deferred: bool = True,
    timeout: float = 30.0,
    **options: Any,
) -> Eager:
    """Return an eager-mode block: use it with ``with`` (or ``async with``), given your settings.

    ``target`` names the tasks, as for :func:`run_worker`: a settings class, its import path, or a
    list of tasks; a task enqueued as an object (``add.enqueue(…)``, ``enqueue(add, …)``) is
    registered when first enqueued, so ``eager()`` alone serves those. ``redis`` is a Redis to use
    (it is not flushed); by default an embedded one is started for the block. ``queues`` start
    workers up front for queues that only workflow steps or other queues' tasks enqueue to.
    ``raise_failures`` makes an enqueue raise the first failure of the jobs it ran (otherwise
    failures are in ``job.result()`` and in :attr:`Eager.failures`); ``run_deferred=False`` leaves
    deferred jobs to run when due; ``timeout`` bounds each enqueue's drain. ``options`` are worker
    options (``max_jobs``, ``job_timeout``, …).
    """
    return Eager(
        target,
        redis=redis,
        queues=tuple(queues),
        raise_failures=raise_failures,
        run_deferred=run_deferred,
        timeout=timeout,
        options=options,
    )


class Eager:
    """An eager-mode block (from :func:`eager`); ``failures`` lists every job that failed in it."""

    def __init__(
        self,
        target: WorkerTarget,
        *,
        redis: RedisLike,
        queues: Sequence[str],
        raise_failures: bool,
        run_deferred: bool,
        timeout: float,
        options: Mapping[str, Any],
    ) -> None:
        self.target = target
        self.raise_failures = raise_failures
        self.run_deferred = run_deferred
        self.timeout = timeout
        self.failures: list[JobFailure] = []
        self._redis = redis
        self._queues = tuple(queues)
        self._options = dict(options)
        self._extra: dict[str, Task[Any, Any]] = {}
        self._known: set[str] | None = None
        self._server: RedisServer | None = None
        self._runtimes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Runtime] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self._live = 0  # keeper tasks alive, in any event loop
        self._closing = False
        self.url = ""
        self.address = ""
        self.settings = RedisSettings()

    def __repr__(self) -> str:
        return f"<aqueue.testing.Eager on {self.address or '(not started)'}>"

    # -- the block ---------------------------------------------------------------------------------

    def __enter__(self) -> Eager:
        self._open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close()

    async def __aenter__(self) -> Eager:
        self._open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """End eager mode, and stop this event loop's eager workers before returning."""
        runtime = self._runtimes.get(asyncio.get_running_loop())
        self._close()
        if runtime is not None:
            await runtime.wait_closed()

    async def drain(self) -> DrainReport:
        """Drain this event loop's eager workers (after ``start_workflow``, or deferred jobs)."""
        return await self.runtime().drain()

    def _open(self) -> None:
        if _ACTIVE:
            raise ConfigurationError("eager mode is on already: one eager() block at a time")
        if self._closing:
            raise ConfigurationError("this eager() block has ended; make a new one")
        if self._redis is None:
            self._server = RedisServer().start()
            atexit.register(self._server.close)
            self.url = self._server.url
        settings = resolve_settings(self._redis or self.url)
        self.url = self.url or _url_of(self._redis)
        self.settings = settings
        self.address = describe(settings)
        _ACTIVE.append(self)
        _install()

    def _close(self) -> None:
        """End the block: restore the patched methods; the Redis stops once the workers have.

        Eager workers still running (a sync ``with`` block inside a coroutine cannot wait for them)
        are left to their event loop: they stop, connections closed, when it closes, which cancels
        them; ``async with`` (and :meth:`aclose`) stops them before it returns.
        """
        if self not in _ACTIVE:
            return
        _ACTIVE.remove(self)
        _uninstall()
        with self._lock:
            self._closing = True
        self._release()

    # -- what the patched methods use --------------------------------------------------------------

    def runtime(self) -> _Runtime:
        """Return the current event loop's eager workers."""
        loop = asyncio.get_running_loop()
        runtime = self._runtimes.get(loop)
        if runtime is None:
            runtime = self._runtimes[loop] = _Runtime(self, loop)
        return runtime

    def redirect(self, client: Client) -> None:
        """Point a client that is about to connect at the eager Redis."""
        if not _connected(client):
            client.settings = self.settings
            client.address = self.address

    def check(self, client: Client) -> None:
        """Refuse a client on another Redis (connected before the block, or given a pool)."""
        if client.address != self.address:
            raise ConfigurationError(
                f"eager mode: this client talks to {client.address or 'a pool passed in'}, not the eager "
                f"Redis {self.address}; use a client that connects inside the eager block"
            )

    def knows(self, name: str) -> bool:
        """Return whether the eager workers register a task named ``name``."""
        if self._known is None:
            functions = worker_options(self.target, self._options).get("functions", ())
            self._known = {as_task(f).name for f in functions}
        return name in self._known or name in self._extra

    def learn(self, found: Task[Any, Any]) -> None:
        """Register a task that was enqueued as an object."""
        self._extra[found.name] = found

    def worker_kwargs(self, prefix: str, queue: str) -> dict[str, Any]:
        """Return the options of the eager worker for ``queue`` under ``prefix``."""
        settings = worker_options(self.target, self._options)
        functions = [*settings.get("functions", ()), *self._extra.values()]
        if not functions and not settings.get("cron_jobs"):
            raise ConfigurationError(
                "eager(): no tasks to run: pass your WorkerSettings (or a list of tasks) to eager(), "
                "or enqueue task objects (add.enqueue(...)) rather than names"
            )
        return {
            **self._options,
            "functions": functions,
            "key_prefix": prefix,
            "queue_name": queue,
        }

    @property
    def queues(self) -> tuple[str, ...]:
        """Return the queues whose workers start with the first enqueue."""
        return self._queues

    def keeper_started(self) -> None:
        """Count a worker keeper in."""
        with self._lock:
            self._live += 1

    def keeper_done(self) -> None:
        """Count a worker keeper out; the last one out of an ended block stops its Redis."""
        with self._lock:
            self._live -= 1
        self._release()

    def _release(self) -> None:
        with self._lock:
            server = self._server if self._closing and self._live == 0 else None
            if server is not None:
                self._server = None
        if server is not None:
            server.close()
            atexit.unregister(server.close)


def _url_of(redis: RedisLike) -> str:
    return redis if isinstance(redis, str) else ""


def _connected(client: Client) -> bool:
    try:
        client.redis  # noqa: B018 - raises ConfigurationError until connected (a pool passed in is)
    except ConfigurationError:
        return False
    return True


@dataclass(slots=True)
class _Keeper:
    """One eager worker: the task that runs it, its readiness, and the event that stops it."""

    task: asyncio.Task[None]
    ready: asyncio.Future[RunningWorker]
    stop: asyncio.Event


class _Runtime:
    """The eager workers of one event loop, one per (prefix, queue), started on demand."""

    def __init__(self, session: Eager, loop: asyncio.AbstractEventLoop) -> None:
        self.session = session
        self.loop = loop
        self._keepers: dict[tuple[str, str], _Keeper] = {}

    async def prepare(self, client: Client, task: TaskRef | None, queue_name: str | None) -> None:
        """Make sure a worker knowing ``task`` serves the queue ``client`` is about to write to."""
        self.session.check(client)
        found = _task_object(task)
        if found is not None and not _IN_EAGER_WORKER.get() and not self.session.knows(found.name):
            self.session.learn(found)
            await self._restart()  # the workers' task registries are fixed when they start
        for queue in (*self.session.queues, queue_name):
            await self._worker(client.keys.prefix, client.queue_key(queue))

    async def settle(self) -> None:
        """Drain after an enqueue (unless the enqueue came from an eager task); raise if asked."""
        if _IN_EAGER_WORKER.get():
            return
        report = await self.drain()
        if self.session.raise_failures:
            raise_first(report.failures, "eager enqueue")

    async def drain(self) -> DrainReport:
        """Drain every eager worker of this loop until a round finds nothing more to run."""
        reports: list[DrainReport] = []
        while True:
            keepers = list(self._keepers.values())
            round_ = [
                await (await asyncio.shield(k.ready)).drain(
                    self.session.timeout, raise_failures=False, run_deferred=self.session.run_deferred
                )
                for k in keepers
            ]
            reports += round_
            if all(r.empty for r in round_) and len(self._keepers) == len(keepers):
                break
        report = DrainReport.merge(reports)
        self.session.failures.extend(report.failures)
        return report

    async def wait_closed(self) -> None:
        """Stop this loop's workers and wait for them; close the default client they served."""
        await self._stop_all()
        await close_default_client()

    async def _restart(self) -> None:
        await self._stop_all()

    async def _stop_all(self) -> None:
        keepers = list(self._keepers.values())
        self._keepers.clear()
        for keeper in keepers:
            keeper.stop.set()
        if keepers:
            await asyncio.wait({k.task for k in keepers})

    async def _worker(self, prefix: str, queue: str) -> RunningWorker:
        keeper = self._keepers.get((prefix, queue))
        if keeper is None:
            keeper = self._keepers[(prefix, queue)] = self._start(prefix, queue)
        return await asyncio.shield(keeper.ready)

    def _start(self, prefix: str, queue: str) -> _Keeper:
        ready: asyncio.Future[RunningWorker] = self.loop.create_future()
        stop = asyncio.Event()
        context = contextvars.copy_context()
        context.run(_IN_EAGER_WORKER.set, True)
        self.session.keeper_started()
        task = self.loop.create_task(
            self._keep(prefix, queue, ready, stop), name=f"aqueue-eager-{queue}", context=context
        )
        return _Keeper(task, ready, stop)

    async def _keep(
        self, prefix: str, queue: str, ready: asyncio.Future[RunningWorker], stop: asyncio.Event
    ) -> None:
        """Run one eager worker until asked to stop (or until the loop closes: cancelled, it cleans up)."""
        try:
            kwargs = self.session.worker_kwargs(prefix, queue)
            redis = self.session.url or self.session.settings
            async with run_worker(self.session.target, redis=redis, **kwargs) as worker:
                ready.set_result(worker)
                await stop.wait()
        except asyncio.CancelledError:
            await close_default_client()  # the loop is closing: nobody else will close it
            raise
        except Exception as e:
            if not ready.done():
                ready.set_exception(e)
            else:
                logger.exception("eager worker for %s failed", queue)
        finally:
            if not ready.done():
                ready.cancel()
            self.session.keeper_done()


def _task_object(task: TaskRef | None) -> Task[Any, Any] | None:
    """Return the task object behind an enqueue (``Task.enqueue`` passes its name), if there is one."""
    if isinstance(task, str):
        current = _ENQUEUING.get()
        return current if current is not None and current.name == task else None
    return None if task is None else as_task(task)  # type: ignore[arg-type]


def _session() -> Eager:
    if not _ACTIVE:
        raise ConfigurationError("eager mode is off")  # only reachable if a patch outlived its block
    return _ACTIVE[0]


# -- the patched methods ---------------------------------------------------------------------------

# Typed Any: the originals are overloaded (typed tasks); the replacements take and pass on anything.
_CONNECT: Any = Client.connect
_ENQUEUE: Any = Client.enqueue
_ENQUEUE_MANY: Any = Client.enqueue_many
_START: Any = CanvasElement.enqueue
_TASK_ENQUEUE: Any = Task.enqueue


@functools.wraps(_CONNECT)
async def _connect(self: Client) -> Client:
    _session().redirect(self)
    connected: Client = await _CONNECT(self)
    return connected


@functools.wraps(_ENQUEUE)
async def _enqueue(self: Client, task: TaskRef, *args: Any, **kwargs: Any) -> Job[Any] | None:
    runtime = _session().runtime()
    await runtime.prepare(self, task, kwargs.get("_queue_name"))
    job: Job[Any] | None = await _ENQUEUE(self, task, *args, **kwargs)
    await runtime.settle()
    return job


@functools.wraps(_ENQUEUE_MANY)
async def _enqueue_many(self: Client, task: TaskRef, calls: Any, **options: Any) -> list[Job[Any] | None]:
    runtime = _session().runtime()
    await runtime.prepare(self, task, options.get("_queue_name"))
    jobs: list[Job[Any] | None] = await _ENQUEUE_MANY(self, task, calls, **options)
    await runtime.settle()
    return jobs


@functools.wraps(_TASK_ENQUEUE)
async def _task_enqueue(self: Task[Any, Any], *args: Any, **kwargs: Any) -> Job[Any] | None:
    token = _ENQUEUING.set(self)
    try:
        job: Job[Any] | None = await _TASK_ENQUEUE(self, *args, **kwargs)
        return job
    finally:
        _ENQUEUING.reset(token)


@functools.wraps(_START)
async def _start(self: CanvasElement, client: Client | None = None, **options: Any) -> WorkflowRun:
    client = client or await default_client()
    runtime = _session().runtime()
    await runtime.prepare(client, None, options.get("queue_name"))
    run: WorkflowRun = await _START(self, client, **options)
    await runtime.settle()
    return run


_PATCHES: tuple[tuple[type, str, Any, Any], ...] = (
    (Client, "connect", _CONNECT, _connect),
    (Client, "enqueue", _ENQUEUE, _enqueue),
    (Client, "enqueue_many", _ENQUEUE_MANY, _enqueue_many),
    (CanvasElement, "enqueue", _START, _start),
    (Task, "enqueue", _TASK_ENQUEUE, _task_enqueue),
)


def _install() -> None:
    for owner, name, _, patched in _PATCHES:
        setattr(owner, name, patched)


def _uninstall() -> None:
    for owner, name, original, _ in _PATCHES:
        setattr(owner, name, original)
