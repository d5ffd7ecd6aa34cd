"""In-process workers for tests: ``run_worker()``, ``drain()`` and ``run_cron()``.

The worker is the real :class:`aqueue.Worker`, built from a settings class as ``aqueue worker``
builds it, running as a task on the test's event loop. It sees nothing of the test but one extra
:class:`~aqueue.extensions.WorkerExtension`, an observer: its service tells when the worker is up,
and its ``on_outcome`` hook collects every recorded outcome, which is how ``drain()`` knows which
jobs failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from aqueue._clock import now_ms
from aqueue._imports import import_string
from aqueue._redis.connection import RedisLike
from aqueue._worker.types import Outcome
from aqueue.client import Client
from aqueue.errors import ConfigurationError, JobTimeout
from aqueue.extensions import Service, WorkerExtension
from aqueue.jobs import Job
from aqueue.settings import settings_kwargs
from aqueue.testing._cron import CronClock, CronRun, attach_clock, cron_runner, step_at
from aqueue.testing._drain import EVERY_DEFERRED_MS, DrainReport, QueueScan, raise_first
from aqueue.worker import Worker

__all__ = ["RunningWorker", "WorkerTarget", "run_worker", "worker_options"]

#: What ``run_worker`` takes: a settings class (or dict, or its import path), or a list of tasks.
WorkerTarget = type | Mapping[str, Any] | str | Sequence[Any]
#: How long a worker may take to connect and start.
START_TIMEOUT_S = 15.0
#: How long a stopping worker may take (it cancels running jobs and hands them back).
STOP_TIMEOUT_S = 15.0
#: How often a drain looks at the queue when no outcome arrives (a safety net; outcomes wake it).
POLL_S = 0.05


class Observer(WorkerExtension):
    """The test's window on the worker: up yet? and which outcomes were recorded."""

    def __init__(self) -> None:
        self.up = asyncio.Event()
        self.changed = asyncio.Event()
        self._outcomes: list[Outcome] = []

    def services(self) -> Sequence[Service]:
        """Return a service that only says the worker is up (services start once it is running)."""
        return [self._announce]

    async def _announce(self) -> None:
        self.up.set()

    async def on_outcome(self, outcome: Outcome) -> None:
        """Keep ``outcome`` for the next drain."""
        self._outcomes.append(outcome)
        self.changed.set()

    def take(self) -> list[Outcome]:
        """Return the outcomes recorded since the last call."""
        taken, self._outcomes = self._outcomes, []
        return taken


def worker_options(target: WorkerTarget, options: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``Worker`` options from a settings class, dict or import path, or a list of tasks."""
    if isinstance(target, str):
        target = import_string(target)
    if isinstance(target, type | dict):
        merged = settings_kwargs(target)
    elif isinstance(target, Sequence):
        merged = {"functions": list(target)}
    else:
        raise ConfigurationError(
            f"run_worker needs a settings class (or dict, or import path) or a list of tasks, not {target!r}"
        )
    return {**merged, **options}


class RunningWorker:
    """A worker running in this event loop for a test (from :func:`run_worker`).

    ``worker`` is the :class:`aqueue.Worker`; ``client`` a :class:`aqueue.Client` on the same Redis,
    key prefix, queue and serializer, for enqueueing and reading results.
    """

    def __init__(
        self, worker: Worker, client: Client, observer: Observer, runner: asyncio.Task[None], clock: CronClock
    ) -> None:
        self.worker = worker
        self.client = client
        self.cron_clock = clock
        self._observer = observer
        self._runner = runner
        self._scan = QueueScan(client.redis, worker.keys.prefix, worker.queue_name)

    def __repr__(self) -> str:
        return f"<aqueue.testing.RunningWorker {self.worker!r} on {self.worker.queue_name}>"

    @property
    def queue_name(self) -> str:
        """Return the key of the queue the worker serves."""
        return str(self.worker.queue_name)

    def job(self, job_id: str) -> Job[Any]:
        """Return a handle on job ``job_id`` of this worker's queue."""
        return self.client.job(job_id)

    async def drain(
        self, timeout: float = 30.0, *, raise_failures: bool = True, run_deferred: bool = True
    ) -> DrainReport:
        """Run until the queue is empty and the worker holds no job; return what ended meanwhile.

        With ``run_deferred`` (the default) a deferred job (``_defer_by``, a retry's backoff, a cron
        run for a slot ahead of the real clock) is made due at once, so everything runs now; without
        it deferred jobs stay queued and the drain ends once no job is due or running. The first job
        that failed is re-raised, its own exception (its type kept, as ``job.result()`` keeps it),
        unless ``raise_failures`` is False: the report lists failures either way. A queue still busy
        after ``timeout`` seconds raises :class:`aqueue.JobTimeout`.
        """
        deadline = time.monotonic() + timeout
        while True:
            self._check_running()
            self._observer.changed.clear()
            now = now_ms()
            busy, _ = await self._scan(now, EVERY_DEFERRED_MS if run_deferred else now)
            if not busy and not self.worker.running_jobs:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise JobTimeout(
                    f"drain: {busy} jobs still due or running on {self.queue_name} after {timeout:g}s"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._observer.changed.wait(), min(POLL_S, remaining))
        report = DrainReport.of(self._observer.take())
        if raise_failures:
            raise_first(report.failures, "drain()")
        return report

    async def run_cron(
        self, at: datetime, *, timeout: float = 30.0, raise_failures: bool = True
    ) -> list[CronRun]:
        """Run the cron slots due at ``at`` (an aware datetime), then drain; return the slots claimed.

        The scheduler's clock moves only when this is called (it starts at ``run_worker``'s
        ``cron_start``). Failures of the runs are re-raised as :meth:`drain` does.
        """
        runs = await step_at(cron_runner(self.worker.extensions), self.cron_clock, at, timeout)
        await self.drain(timeout, raise_failures=raise_failures)
        return runs

    def _check_running(self) -> None:
        if self._runner.done():
            error = None if self._runner.cancelled() else self._runner.exception()
            raise ConfigurationError(f"the test worker stopped: {error!r}") from error


@contextlib.asynccontextmanager
async def run_worker(
    target: WorkerTarget = (),
    /,
    *,
    redis: RedisLike = None,
    cron_start: datetime | None = None,
    **options: Any,
) -> AsyncIterator[RunningWorker]:
    """Run a worker in this event loop for the ``async with`` block, and yield a :class:`RunningWorker`.

    ``target`` is a settings class (or dict, or its import path: read as ``aqueue worker`` reads it)
    or a list of tasks. ``redis`` (a URL or ``RedisSettings``) replaces the settings' own Redis;
    ``options`` override worker options (``max_jobs=1``, ``queue_name="fast"``, …); the settings'
    ``burst`` is ignored (:meth:`RunningWorker.drain` is the test's burst) and so is their
    ``metrics_port`` (pass ``metrics_port=`` to serve metrics from a test worker). Cron jobs run
    only when :meth:`RunningWorker.run_cron` says, on a clock that starts at ``cron_start`` (default:
    now). On leaving the block the worker stops at once: running jobs are cancelled and handed back
    to the queue.
    """
    chosen = {"redis_settings": redis} if redis is not None else {}
    kwargs = worker_options(target, {"metrics_port": None, **chosen, **options})
    kwargs.setdefault("handle_signals", False)
    kwargs["burst"] = False  # drain() is the test's burst
    observer = Observer()
    kwargs["extensions"] = [*kwargs.get("extensions", ()), observer]
    worker = Worker(**kwargs)
    clock = CronClock(cron_start)
    attach_clock(worker.extensions, clock)
    client = Client(
        worker.redis_settings or worker.pool,
        key_prefix=worker.keys.prefix,
        queue_name=worker.queue_name,
        job_serializer=worker.job_serializer,
        job_deserializer=worker.job_deserializer,
    )
    runner = asyncio.create_task(worker.async_run(), name="aqueue-testing-worker")
    try:
        await _started(runner, observer)
        await client.connect()
        yield RunningWorker(worker, client, observer, runner, clock)
    finally:
        await _stop(worker, runner, client)


async def _started(runner: asyncio.Task[None], observer: Observer) -> None:
    """Wait until the worker runs; raise its start-up failure (bad settings, Redis down) if it ends."""
    up = asyncio.ensure_future(observer.up.wait())
    try:
        done, _ = await asyncio.wait(
            {runner, up}, timeout=START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        up.cancel()
    if runner in done:
        runner.result()  # raises the failure
        raise ConfigurationError("the test worker stopped before it started")
    if not done:
        raise ConfigurationError(f"the test worker did not start in {START_TIMEOUT_S:g}s")


async def _stop(worker: Worker, runner: asyncio.Task[None], client: Client) -> None:
    """Stop the worker now (running jobs handed back) and close its connections and the client.

    Written to finish even when the task running it was cancelled (an event loop closing cancels
    every task once, this one and the worker's alike): it never awaits the cancelled worker task
    directly.
    """
    worker.request_stop(force=True)
    _, pending = await asyncio.wait({runner}, timeout=STOP_TIMEOUT_S)
    if pending:
        runner.cancel()
        await asyncio.wait({runner}, timeout=STOP_TIMEOUT_S)
    try:
        await worker.close()
    finally:
        await client.aclose()
    error = runner.exception() if runner.done() and not runner.cancelled() else None
    if error is not None:
        raise error
