"""The worker: arq's ``Worker`` with aqueue's hot path — batch claims, leases, wake-on-enqueue.

Life of the process (one ``asyncio.TaskGroup``): the fetch loop claims due jobs in batches (one Lua
call), starts one task per job, and blocks on its wake list while idle; the lease loop renews claims
and delivers aborts; the finisher records outcomes in batches; extensions' services (the cron
scheduler) run beside them; layers plug in only through :mod:`aqueue.extensions`. On SIGTERM/SIGINT
the worker stops claiming, lets running jobs finish within ``job_completion_wait`` seconds, hands the
rest back to the queue and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from arq.connections import ArqRedis, RedisSettings
from arq.constants import default_queue_name as ARQ_DEFAULT_QUEUE
from arq.worker import FailedJobs, Function
from arq.worker import Worker as ArqWorker  # bound at import: tests may patch arq.worker.Worker

from aqueue import _loop, serialization
from aqueue._backoff import Backoff, every
from aqueue._clock import now_ms
from aqueue._enqueue import CLUSTER_REPLICAS, replicas_setting
from aqueue._loop import add_signal_handler, remove_signal_handler
from aqueue._redis.cluster import ClusterLayout, is_cluster
from aqueue._redis.connection import (
    DEFAULT_REPLY_TIMEOUT_S,
    RedisLike,
    connect,
    describe,
    reply_timeout,
    resolve_settings,
)
from aqueue._redis.errors import REDIS_ERRORS, describe_pool, redis_failure
from aqueue._redis.keys import DEFAULT_PREFIX, Keys
from aqueue._redis.replication import DEFAULT_REPLICATION_TIMEOUT_S, Replicating, Replication
from aqueue._redis.scripts import ScriptRegistry
from aqueue._redis.transport import Transport, choose_transport, open_transport
from aqueue._worker.arq_log import ArqJobLog
from aqueue._worker.execution import Defaults, JobRunner
from aqueue._worker.finisher import Finisher
from aqueue._worker.heartbeat import Heartbeat
from aqueue._worker.procpool import ProcessPoolExtension
from aqueue._worker.queue_ops import QueueOps, QueuesSetting, parse_handoff, queue_plan
from aqueue._worker.types import ClaimedJob, Outcome, OutcomeKind
from aqueue.errors import ConfigurationError
from aqueue.events import DEFAULT_EVENTS_MAXLEN, events_cap
from aqueue.extensions import Service, WorkerContext, WorkerExtension, overrides
from aqueue.extensions import default_extensions as _defaults
from aqueue.tasks import Task, TaskLike, as_task

__all__ = ["Worker"]

logger = logging.getLogger("aqueue.worker")


#: ``WorkerSettings.lifespan``: called with the worker's ctx once it is connected; the mapping its
#: context manager yields is merged into every job's ctx; it is left when the worker closes.
Lifespan = Callable[[dict[str, Any]], contextlib.AbstractAsyncContextManager[Mapping[str, Any] | None]]


class Interrupt(StrEnum):
    """Why a running job was cancelled."""

    NONE = ""
    ABORT = "abort"  # Job.abort() asked for it
    LOST = "lost"  # the lease was lost: another worker may run it
    SHUTDOWN = "shutdown"  # the worker is stopping; the job is handed back


def _queue_key(keys: Keys, queue_name: str | None, redis_pool: ArqRedis | None) -> str:
    """Return the queue key to serve: ``queue_name``'s, else (as arq) the pool's default queue."""
    if queue_name is None and redis_pool is not None and redis_pool.default_queue_name != ARQ_DEFAULT_QUEUE:
        return redis_pool.default_queue_name
    return keys.queue(queue_name)


def _replicas(count: int, timeout_s: float, layout: ClusterLayout | None) -> tuple[int, float]:
    """Return the checked ``min_replicas`` and ``replication_timeout_s`` (refused on a cluster)."""
    checked = replicas_setting(count, timeout_s)
    if checked[0] and layout is not None:
        raise ConfigurationError(CLUSTER_REPLICAS)
    return checked


def _cluster_keys(layout: ClusterLayout, queue_keys: Sequence[str]) -> Keys:
    """Return the keys of the one queue a worker on Redis Cluster serves; several: ConfigurationError."""
    if len(queue_keys) > 1:
        raise ConfigurationError(
            f"a worker on Redis Cluster serves one queue, not {len(queue_keys)}: each queue lives on "
            "its own shard, so run one worker per queue"
        )
    return layout.keys(queue_keys[0])


@dataclass(slots=True)
class _Running:
    job: ClaimedJob
    task: asyncio.Task[None] | None = None
    reason: Interrupt = Interrupt.NONE
    finishing: bool = False


#: arq's ``Worker`` options as arq's own constructor checks and fills them in; aqueue's Worker keeps
#: them under arq's names (it is not an arq ``Worker``: none of arq's protocol methods run on it).
ARQ_ATTRIBUTES = (
    "functions",
    "queue_name",
    "redis_settings",
    "_pool",
    "ctx",
    "burst",
    "max_jobs",
    "max_burst_jobs",
    "poll_delay_s",
    "queue_read_limit",
    "on_startup",
    "on_shutdown",
    "on_job_start",
    "on_job_end",
    "after_job_end",
    "log_results",
    "keep_result_s",
    "keep_result_forever",
    "max_tries",
    "job_timeout_s",
    "retry_jobs",
    "allow_abort_jobs",
    "job_serializer",
    "job_deserializer",
    "health_check_interval",
    "health_check_key",
    "expires_extra_ms",
    "timezone",
    "_job_completion_wait",
    "jobs_complete",
    "jobs_failed",
    "jobs_retried",
)
Hook = Callable[[dict[str, Any]], Awaitable[Any]]


class Worker:
    """Runs jobs from one queue or several; takes arq's ``Worker`` options under their arq names.

    Options of its own:

    ``queues`` (instead of ``queue_name``: ``["critical", "default"]`` serves them in strict order,
    a later one only when the earlier ones have nothing due; ``{"a": 3, "b": 1}`` splits claims 3:1
    under a backlog on both; one claim call and one wake-up cover them all), ``key_prefix`` (Redis
    key prefix, default arq's), ``lease_s`` (a running job's claim lapses this long after its worker
    stops renewing it), ``max_deliveries`` (deliveries without an outcome before
    a job is dead-lettered; 0 disables), ``job_completion_wait`` (shutdown grace, default 10 s),
    ``reply_timeout_s`` (a command Redis leaves unanswered this long means the connection is dead, e.g.
    half-open after a network fault: it is dropped and reopened; default 30 s. It applies to
    ``ctx["redis"]`` too: raise it for tasks that run longer blocking commands there), ``transport``
    (the hot path's connection: ``"auto"``, ``"wire"`` or ``"redis-py"``; see
    :mod:`aqueue._redis.transport`), ``extensions`` (:class:`aqueue.extensions.WorkerExtension`
    objects, added to the default ones: workflows, and cron when ``cron_jobs`` are given;
    ``default_extensions=False`` leaves those out),
    ``lifespan`` (an async context manager factory called with ``ctx`` once connected: database
    pools, HTTP clients; the mapping it yields is merged into every job's ``ctx``, and it is left on
    shutdown, after ``on_shutdown``, even when start-up failed after it was entered),
    ``events`` (False: write no job lifecycle events, see :mod:`aqueue.events`), ``events_maxlen``
    (each queue's event stream keeps about this many entries),
    ``log_jobs`` (arq's INFO line as each job starts and ends, on the ``arq.worker`` logger; off by
    default: it costs more than a small job), ``process_pool_size`` (child processes for
    ``@task(executor="process")`` tasks, default the CPU count) and ``max_tasks_per_child`` (a child
    is replaced after that many tasks; default never): see :mod:`aqueue._worker.procpool`.

    arq's options keep arq's meaning (docs/arq.md), with one default of aqueue's own:
    ``allow_abort_jobs`` is True, so ``job.abort()`` works out of the box (False: the worker never
    cancels a job). A ``queue_name`` is a Redis key as in arq (see ``Keys.queue``; None with a
    ``redis_pool``: the pool's ``default_queue_name``); ``cron_jobs`` takes aqueue's and arq's cron jobs.
    """

    functions: dict[str, Function]
    queue_name: str
    redis_settings: RedisSettings | None
    _pool: ArqRedis | None
    ctx: dict[str, Any]
    burst: bool
    max_jobs: int
    max_burst_jobs: int
    poll_delay_s: float
    queue_read_limit: int
    on_startup: Hook | None
    on_shutdown: Hook | None
    on_job_start: Hook | None
    on_job_end: Hook | None
    after_job_end: Hook | None
    log_results: bool
    keep_result_s: float
    keep_result_forever: bool
    max_tries: int
    job_timeout_s: float | None
    retry_jobs: bool
    allow_abort_jobs: bool
    job_serializer: Callable[[Any], bytes]
    job_deserializer: Callable[[bytes], Any]
    health_check_interval: float
    health_check_key: str
    expires_extra_ms: int
    timezone: Any
    _job_completion_wait: float
    jobs_complete: int
    jobs_failed: int
    jobs_retried: int

    def __init__(
        self,
        functions: Sequence[TaskLike] = (),
        *,
        queue_name: str | None = None,
        queues: QueuesSetting | None = None,
        cron_jobs: Sequence[Any] | None = None,
        redis_settings: RedisLike = None,
        redis_pool: ArqRedis | None = None,
        key_prefix: str = DEFAULT_PREFIX,
        lease_s: float = 5.0,
        max_deliveries: int = 5,
        job_completion_wait: float = 10,
        reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S,
        min_replicas: int = 0,
        replication_timeout_s: float = DEFAULT_REPLICATION_TIMEOUT_S,
        transport: str = "auto",
        handle_signals: bool = True,
        job_serializer: Callable[[Any], bytes] | None = None,
        job_deserializer: Callable[[bytes], Any] | None = None,
        extensions: Sequence[WorkerExtension] = (),
        default_extensions: bool = True,
        allow_abort_jobs: bool = True,
        log_jobs: bool = False,
        metrics_port: int | None = None,
        events: bool = True,
        events_maxlen: int = DEFAULT_EVENTS_MAXLEN,
        lifespan: Lifespan | None = None,
        process_pool_size: int | None = None,
        max_tasks_per_child: int | None = None,
        **arq_options: Any,
    ) -> None:
        self.cron_definitions = list(cron_jobs or [])
        layer_options = {
            "functions": list(functions),
            "cron_jobs": self.cron_definitions,
            "timezone": arq_options.get("timezone"),
            "metrics_port": metrics_port,
            "events": events,
            "events_maxlen": events_cap(events_maxlen),
        }
        defaults = _defaults(layer_options) if default_extensions else []
        self.extensions: list[WorkerExtension] = [*defaults, *extensions]
        tasks = [as_task(f) for f in functions] + [t for e in self.extensions for t in e.tasks()]
        self.task_defs: dict[str, Task[Any, Any]] = {t.name: t for t in tasks}
        self._add_process_pool(process_pool_size, max_tasks_per_child)
        settings = None if redis_pool is not None else resolve_settings(redis_settings)
        layout = ClusterLayout(key_prefix) if is_cluster(settings) else None
        self.keys = Keys(key_prefix) if layout is None else layout.keys(queue_name)
        if lease_s <= 0.1:
            raise ConfigurationError(f"lease_s must be more than 0.1 seconds, got {lease_s}")
        self.reply_timeout_s = reply_timeout(reply_timeout_s)
        self.min_replicas, self.replication_timeout_s = _replicas(min_replicas, replication_timeout_s, layout)
        if queues is not None and queue_name is not None:
            raise ConfigurationError("use queues or queue_name, not both")
        if queues is not None:
            self.queue_keys, self.queue_weights = queue_plan(self.keys, queues)
        else:
            self.queue_keys, self.queue_weights = [_queue_key(self.keys, queue_name, redis_pool)], None
        if layout is not None:
            self.keys = _cluster_keys(layout, self.queue_keys)
        try:
            parsed = ArqWorker(
                [t.to_arq() for t in self.task_defs.values()],
                queue_name=self.queue_keys[0],
                redis_settings=settings,
                redis_pool=redis_pool,
                handle_signals=False,
                allow_abort_jobs=allow_abort_jobs,
                job_completion_wait=job_completion_wait,  # type: ignore[arg-type]
                job_serializer=job_serializer or serialization.job_serializer,
                job_deserializer=job_deserializer or serialization.job_deserializer,
                **arq_options,
            )
        except (RuntimeError, ValueError, TypeError) as e:
            raise ConfigurationError(f"invalid worker settings: {e}") from e
        for name in ARQ_ATTRIBUTES:
            setattr(self, name, getattr(parsed, name))
        self.lease_s = lease_s
        self.max_deliveries = max_deliveries
        choose_transport(transport, self.redis_settings)  # a bad value fails here, not at connect
        self._transport_choice = transport
        self.worker_id = f"{socket.gethostname()[:20]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._job_log = ArqJobLog(log_results=self.log_results) if log_jobs else None
        self._handle_os_signals = handle_signals
        self._lifespan = lifespan
        self._lifespan_stack: contextlib.AsyncExitStack | None = None
        self._running: dict[str, _Running] = {}
        self._stopping = asyncio.Event()
        self._nudge = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._force = False
        self._started = 0
        self._transport: Transport | None = None  # hot-path scripts and the wake-up BLPOP
        self.scripts: ScriptRegistry | None = None  # the scripts bound to that transport
        self._pending_wake: asyncio.Future[Any] | None = None
        self._claim_sent = 0.0  # when the last claim was asked for: no hand-over to us is older
        self._ops: QueueOps | None = None
        self._finisher: Finisher | None = None
        self._runner: JobRunner | None = None

    def _replication(self, transport: Transport, where: str) -> Replication | None:
        """Return how outcome writes wait for replicas (``min_replicas``), or None when they do not."""
        if not self.min_replicas:
            return None
        if not isinstance(transport, Replicating):  # a cluster's (refused by the settings check)
            raise ConfigurationError(f"min_replicas needs one Redis (or Sentinel), not {where}")
        return Replication(transport, self.min_replicas, self.replication_timeout_s, where)

    def _add_process_pool(self, size: int | None, max_tasks_per_child: int | None) -> None:
        """Give process tasks their pool: an extension whose call wrapping comes first (innermost)."""
        for name, value in (("process_pool_size", size), ("max_tasks_per_child", max_tasks_per_child)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
        if any(t.executor == "process" for t in self.task_defs.values()):
            pool = ProcessPoolExtension(
                list(self.task_defs.values()), size=size, max_tasks_per_child=max_tasks_per_child
            )
            self.extensions.insert(0, pool)

    # -- lifecycle ---------------------------------------------------------------------------------

    def run(self) -> None:
        """Run until stopped (blocking), on uvloop where it is installed, then close connections."""
        _loop.run(self.serve())

    async def serve(self) -> None:
        """Run until stopped, then close connections (what ``aqueue worker`` does)."""
        try:
            await self.main()
        finally:
            await self.close()

    async def async_run(self) -> None:
        """Run until stopped (or, in burst mode, until the queue is empty); connections stay open."""
        await self.main()

    async def run_check(self, retry_jobs: bool | None = None, max_burst_jobs: int | None = None) -> int:
        """Run (burst mode, as arq's ``run_check``); return the jobs completed, or raise arq's FailedJobs."""
        if retry_jobs is not None:
            self.retry_jobs = retry_jobs
        if max_burst_jobs is not None:
            self.max_burst_jobs = max_burst_jobs
        await self.async_run()
        if self.jobs_failed:
            failed = [r for r in await self.pool.all_job_results() if not r.success]
            raise FailedJobs(self.jobs_failed, failed)
        return self.jobs_complete

    @property
    def pool(self) -> ArqRedis:
        """Return the worker's redis-py pool (arq's ``Worker.pool``); connected by :meth:`main`."""
        if self._pool is None:
            raise RuntimeError("the worker is not connected: run it first")
        return self._pool

    async def main(self) -> None:
        """Connect, then run the fetch, lease, finish and service loops until stopped."""
        await self._open()
        for extension in self.extensions:
            if overrides(extension, "startup"):
                await extension.startup()
        self._install_signals()
        try:
            async with asyncio.TaskGroup() as group:
                assert self._finisher is not None
                group.create_task(self._finisher.run(), name="aqueue-finisher")
                side = [
                    group.create_task(self._lease_loop(), name="aqueue-leases"),
                    group.create_task(self._heartbeat().run(self._counters), name="aqueue-heartbeat"),
                ]
                side += [
                    group.create_task(_guarded(service, describe_pool(self._pool)), name="aqueue-service")
                    for extension in self.extensions
                    for service in extension.services()
                ]
                await self._fetch_loop()
                await self._drain()
                self._finisher.close(give_up_after_s=0 if self._force else float(self._job_completion_wait))
                await _cancel_until_done(side)
        finally:
            self._remove_signals()

    def request_stop(self, *, force: bool = False) -> None:
        """Stop taking jobs; running ones get the grace period unless ``force``."""
        self._force = self._force or force
        self._stopping.set()
        self._nudge.set()
        self._slot_freed.set()

    def handle_sig(self, signum: int) -> None:
        """Stop as on SIGTERM (arq's ``handle_sig``: arq's CLI calls it, e.g. to restart on ``--watch``)."""
        self._on_signal(signal.Signals(signum))

    @property
    def tasks(self) -> dict[str, asyncio.Task[None]]:
        """Return the running jobs' asyncio tasks by job id (arq's ``Worker.tasks``; a snapshot)."""
        return {job_id: r.task for job_id, r in self._running.items() if r.task is not None}

    @property
    def job_tasks(self) -> dict[str, asyncio.Task[None]]:
        """Return :attr:`tasks` (arq keeps the running jobs' tasks under both names)."""
        return self.tasks

    @property
    def aborting_tasks(self) -> set[str]:
        """Return the ids of running jobs being aborted (arq's ``Worker.aborting_tasks``; a snapshot)."""
        return {job_id for job_id, r in self._running.items() if r.reason is Interrupt.ABORT}

    async def close(self) -> None:
        """Remove the health key, run ``on_shutdown`` and close connections."""
        if self._pool is None:
            return
        with contextlib.suppress(*REDIS_ERRORS):
            await self._pool.delete(self.health_check_key, self.keys.worker(self.worker_id))
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await self._leave_lifespan()
        await self._stop_waking()
        for conn in (self._pool, self._transport):
            if conn is not None:
                with contextlib.suppress(*REDIS_ERRORS):
                    await conn.aclose()
        self._pool, self._transport, self.scripts = None, None, None

    async def _enter_lifespan(self) -> None:
        """Enter ``lifespan(ctx)`` once; what it yields (a mapping) is merged into every job's ctx."""
        if self._lifespan is None or self._lifespan_stack is not None:
            return
        stack = contextlib.AsyncExitStack()
        provided = await stack.enter_async_context(self._lifespan(self.ctx))
        self._lifespan_stack = stack  # from here on, close() leaves it, whatever fails next
        if provided:
            self.ctx.update(provided)

    async def _leave_lifespan(self) -> None:
        stack, self._lifespan_stack = self._lifespan_stack, None
        if stack is not None:
            await stack.aclose()

    async def _open(self) -> None:
        if self._pool is None:
            self._pool = await self._connect()
        settings = self.redis_settings or RedisSettings()
        if self._transport is None or self.scripts is None:
            self._transport = open_transport(
                self._transport_choice,
                pool=self._pool,
                settings=self.redis_settings,  # None: a pool passed in (redis-py)
                reply_timeout_s=self.reply_timeout_s,
                block_s=self.poll_delay_s,
            )
            hooks = [h for h in (e.lua() for e in self.extensions) if h is not None]
            self.scripts = ScriptRegistry(  # extensions' Lua in claim and finish
                self._transport, hooks, self._replication(self._transport, describe_pool(self._pool))
            )
        self.ctx["redis"] = self._pool
        self.ctx.setdefault("worker_id", self.worker_id)
        lease_ms = int(self.lease_s * 1000)
        self._ops = QueueOps(
            self.scripts,
            self.keys,
            self.queue_name,
            self.worker_id,
            lease_ms,
            queues=self.queue_keys,
            weights=self.queue_weights,
        )
        self._bind_extensions(lease_ms)
        recorders = [e for e in self.extensions if overrides(e, "handles")]
        noter = next((e for e in self.extensions if overrides(e, "finish_note")), None)
        self._runner = self._make_runner()
        self._finisher = Finisher(
            self._ops,
            recorders,
            capacity=self._capacity,
            start=self._start_claimed,
            where=describe_pool(self._pool),
            note=noter.finish_note if noter is not None else None,
            ended=self._runner.ended,
        )
        await self._enter_lifespan()
        if self.on_startup:
            await self.on_startup(self.ctx)
        if self._job_log is not None:
            self._job_log.worker_started(self.functions)
        logger.info(
            "worker %s on %s, queue %s: %d tasks (%s)",
            self.worker_id,
            describe(settings),
            _describe_queues(self.queue_keys, self.queue_weights),
            len(self.functions),
            ", ".join(sorted(self.functions)),
        )

    def _bind_extensions(self, lease_ms: int) -> None:
        assert self._pool is not None and self._ops is not None and self.scripts is not None
        context = WorkerContext(
            redis=self._pool,
            scripts=self.scripts,
            keys=self.keys,
            queue=self.queue_name,
            worker_id=self.worker_id,
            lease_ms=lease_ms,
            ops=self._ops,
            serializer=self.job_serializer,
            deserializer=self.job_deserializer,
            start=self._start,
            running_jobs=lambda: len(self._running),
        )
        for extension in self.extensions:
            extension.bind(context)

    async def _connect(self) -> ArqRedis:
        assert self.redis_settings is not None
        return await connect(
            self.redis_settings,
            reply_timeout_s=self.reply_timeout_s,
            job_serializer=self.job_serializer,
            job_deserializer=self.job_deserializer,
            default_queue_name=self.queue_name,
            expires_extra_ms=self.expires_extra_ms,
        )

    def _make_runner(self) -> JobRunner:
        defaults = Defaults(
            self.job_timeout_s,
            self.max_tries,
            self.keep_result_s,
            self.keep_result_forever,
            retry_jobs=self.retry_jobs,
            allow_abort_jobs=self.allow_abort_jobs,
        )
        return JobRunner(
            functions={k: v for k, v in self.functions.items() if isinstance(v, Function)},
            tasks=self.task_defs,
            queue=self.queue_name,
            ctx=self.ctx,
            serializer=self.job_serializer,
            deserializer=self.job_deserializer,
            defaults=defaults,
            on_job_start=self.on_job_start,
            keys=self.keys,
            on_job_end=self.on_job_end,
            extensions=self.extensions,
            job_log=self._job_log,
        )

    def _heartbeat(self) -> Heartbeat:
        return Heartbeat(
            self._pool,
            self.keys,
            self.worker_id,
            self.queue_name,
            self.health_check_key,
            float(self.health_check_interval),
            tuple(self.queue_keys),
        )

    # -- signals -----------------------------------------------------------------------------------

    def _install_signals(self) -> None:
        if not self._handle_os_signals:
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            add_signal_handler(sig, self._on_signal)

    def _remove_signals(self) -> None:
        if self._handle_os_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        again = self._stopping.is_set()
        logger.info(
            "%s: %s (%d running)",
            sig.name,
            "stopping now" if again else "stopping gracefully",
            len(self._running),
        )
        self.request_stop(force=again)

    # -- fetching ----------------------------------------------------------------------------------

    async def _fetch_loop(self) -> None:
        """Claim and start jobs until stopped; a Redis failure (lost, or an error reply) backs off."""
        backoff = Backoff(f"worker {self.worker_id}: claiming jobs", logger, where=describe_pool(self._pool))
        while not self._stopping.is_set():
            try:
                if await self._fetch_once():
                    return
            except REDIS_ERRORS as e:
                await self._sleep(backoff.failed(e))
                continue
            backoff.succeeded()

    async def _fetch_once(self) -> bool:
        """Claim and start one batch, or wait; return True when burst mode is done."""
        free = self.max_jobs - len(self._running)
        if self.burst and self.max_burst_jobs >= 0:
            free = min(free, self.max_burst_jobs - self._started)
            if free <= 0 and not self._running:
                return True
        if free <= 0:
            self._slot_freed.clear()
            await self._slot_freed.wait()
            return False
        assert self._ops is not None
        limit = min(free, self.queue_read_limit)
        sent = self._claim_sent = time.monotonic()
        # a nudge from here on (a retry queued while this claim is in flight, which its reply may not
        # cover) must end the idle wait that may follow, so it is cleared before the claim, not after
        self._nudge.clear()
        jobs, head = await self._ops.claim(
            limit, register_idle=not self.burst, max_deliveries=self.max_deliveries
        )
        if jobs:
            self._start_claimed(jobs, sent)
            return False
        if self.burst:
            return await self._burst_done(head)
        await self._idle_wait(head)
        return False

    async def _burst_done(self, head: int | None) -> bool:
        if self._running:
            self._slot_freed.clear()
            await self._slot_freed.wait()
            return False
        if head is None:
            return True
        await self._sleep(min(self.poll_delay_s, max((head - now_ms()) / 1000, 0.005)))
        return False

    async def _idle_wait(self, head: int | None) -> None:
        """Block until an enqueue wakes us, the next deferred job is due, or ``poll_delay`` passes."""
        timeout = self.poll_delay_s
        if head is not None:
            timeout = min(timeout, (head - now_ms()) / 1000)
        if timeout <= 0.001:
            return
        wake = self._wake_future(timeout)
        nudge = asyncio.ensure_future(self._nudge.wait())
        try:
            done, _ = await asyncio.wait({wake, nudge}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            nudge.cancel()
        if wake in done:
            self._pending_wake = None
            wake.result()  # surfaces connection errors to the fetch loop

    def _wake_future(self, timeout: float) -> asyncio.Future[Any]:
        """Return the outstanding BLPOP on our wake list, sending one if none is.

        A BLPOP outlives a wait that a nudge or a due deferred job ended: cancelling it could drop a
        job that was already popped for us. Whenever it answers, :meth:`_on_wake` starts that job.
        """
        if self._pending_wake is None or self._pending_wake.done():
            assert self._transport is not None
            # a hand-over needs us registered idle, which the last claim did: it is no older than that
            # claim, though it may have been pushed before this BLPOP (while the process was frozen)
            sent = self._claim_sent
            fut = self._transport.blpop(self.keys.wake(self.worker_id), timeout)
            fut.add_done_callback(lambda done: self._on_wake(done, sent))
            self._pending_wake = fut
        return self._pending_wake

    def _on_wake(self, fut: asyncio.Future[Any], sent: float) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return  # an error surfaces in _idle_wait if one was waiting; else the next BLPOP reconnects
        popped = fut.result()
        job = parse_handoff(popped[1], self.worker_id) if popped else None
        if job is not None:  # enqueue handed us a job, already claimed for us (after `sent`)
            self._start_claimed([job], sent)

    async def _stop_waking(self) -> None:
        """Cancel the outstanding BLPOP and close its connection: no handoff arrives after this."""
        pending, self._pending_wake = self._pending_wake, None
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, *REDIS_ERRORS):
                await pending
        if self._transport is not None:
            with contextlib.suppress(*REDIS_ERRORS):
                await self._transport.stop_blocking()
        # A BLPOP that answered just before we got here has its _on_wake callback scheduled, not run:
        # let it start the handed-over job now, so the drain and hand-back below see it.
        await asyncio.sleep(0)

    async def _sleep(self, seconds: float) -> None:
        """Sleep until a nudge (a due retry, a stop) or ``seconds`` pass.

        A nudge set before this sleep was served by the claim that preceded it, so it is cleared first:
        a stale one must not turn the sleep into a busy loop. A stop still ends the sleep at once.
        """
        if self._stopping.is_set():
            return
        self._nudge.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._nudge.wait(), seconds)

    # -- running -----------------------------------------------------------------------------------

    def _capacity(self) -> int | None:
        """Free job slots, or None once stopping (no new work may be taken)."""
        return None if self._stopping.is_set() else self.max_jobs - len(self._running)

    def _start_claimed(self, jobs: Sequence[ClaimedJob], sent: float) -> None:
        """Start jobs claimed by a request sent at ``sent`` (``time.monotonic()``).

        A reply read more than half a lease after its request was sent may hold claims that lapsed
        meanwhile (the process was frozen, e.g. SIGSTOP, or its loop blocked), which another worker
        may be running: those jobs are checked first, all in one renewal, and only those still ours
        start. A fresh reply, the normal case, costs one clock read.
        """
        if time.monotonic() - sent < self.lease_s / 2:
            for job in jobs:
                self._start(job)
            return
        lapsed = asyncio.ensure_future(self._lapsed(jobs))
        for job in jobs:
            self._start(job, lapsed)

    async def _lapsed(self, jobs: Sequence[ClaimedJob]) -> set[str]:
        """Renew the claims on ``jobs``; return the ids of those no longer ours (all, if Redis fails)."""
        assert self._ops is not None
        try:
            actions = await self._ops.renew([(job.job_id, job.token) for job in jobs])
        except REDIS_ERRORS as e:
            logger.warning("cannot check %d late claims (%s): not starting them", len(jobs), e)
            return {job.job_id for job in jobs}
        lost = {job_id for job_id, state in actions if state != "abort"}
        if lost:
            logger.warning("not starting %d jobs whose claims lapsed before they could start", len(lost))
        return lost

    def _start(self, job: ClaimedJob, lapsed: asyncio.Future[set[str]] | None = None) -> None:
        running = _Running(job)
        self._running[job.job_id] = running
        self._started += 1
        running.task = asyncio.create_task(self._run_one(running, lapsed))

    async def _run_one(self, running: _Running, lapsed: asyncio.Future[set[str]] | None = None) -> None:
        assert self._runner is not None and self._finisher is not None
        job = running.job
        try:
            if lapsed is not None and job.job_id in await asyncio.shield(lapsed):  # shared by the batch
                return  # the claim lapsed before the job started: another worker has it, or will
            outcome = await self._runner.run(job, lambda: running.reason is Interrupt.ABORT)
            running.finishing = True
            recorded = await self._finisher.submit(outcome)
            self._count(outcome.kind, recorded, outcome.retry_score)
            observers = self._runner.observers(outcome) if recorded else ()
            if observers:  # most jobs have none: no coroutine for them
                await self._observe(outcome, observers)
            if self.after_job_end and recorded:
                await self.after_job_end({**self.ctx, "job_id": job.job_id, "job_try": outcome.job.job_try})
        except asyncio.CancelledError:
            if running.reason not in (Interrupt.SHUTDOWN, Interrupt.LOST):
                raise
        except Exception:
            logger.exception("internal error while running job %s", job.job_id)
        finally:
            self._running.pop(job.job_id, None)
            self._slot_freed.set()

    async def _observe(self, outcome: Outcome, observers: Sequence[WorkerExtension]) -> None:
        for extension in observers:
            try:
                await extension.on_outcome(outcome)
            except Exception:
                logger.exception("extension %r failed to observe an outcome", extension)

    def _count(self, kind: OutcomeKind, recorded: bool, retry_score: int) -> None:
        if not recorded:
            return
        if kind is OutcomeKind.OK:
            self.jobs_complete += 1
        elif kind is OutcomeKind.ERR:
            self.jobs_failed += 1
        else:
            self.jobs_retried += 1
            # look again: an idle wait computed before this retry was queued would sleep past it
            # (up to poll_delay) — the claim that follows sees it and waits only until it is due
            self._nudge.set()

    # -- leases ------------------------------------------------------------------------------------

    async def _lease_loop(self) -> None:
        """Renew leases every ``interval``; a failed renewal is retried at the next one (logged once)."""
        backoff = Backoff(
            f"worker {self.worker_id}: renewing leases", logger, where=describe_pool(self._pool)
        )
        await every(min(self.lease_s / 3, 1.0), self._renew, backoff)

    async def _renew(self) -> None:
        held = [(job_id, r.job.token, r.job.queue) for job_id, r in self._running.items()]
        if not held:
            return
        assert self._ops is not None
        for job_id, state in await self._ops.renew(held):
            if state != "abort":
                self._interrupt(job_id, Interrupt.LOST)
            elif self.allow_abort_jobs:
                self._interrupt(job_id, Interrupt.ABORT)

    def _interrupt(self, job_id: str, reason: Interrupt) -> None:
        running = self._running.get(job_id)
        if running is None or running.finishing or running.task is None or running.reason:
            return
        if reason is Interrupt.LOST:
            logger.warning("job %s: lease lost (another worker may run it); cancelling here", job_id)
        running.reason = reason
        running.task.cancel()

    # -- shutdown ----------------------------------------------------------------------------------

    async def _drain(self) -> None:
        await self._stop_waking()
        if self._running and not self._force:
            grace = None if self.burst else float(self._job_completion_wait)
            logger.info("waiting up to %ss for %d running jobs", grace, len(self._running))
            deadline = None if grace is None else time.monotonic() + grace
            while self._running and not self._force and (deadline is None or time.monotonic() < deadline):
                self._slot_freed.clear()
                with contextlib.suppress(TimeoutError):
                    remaining = None if deadline is None else max(deadline - time.monotonic(), 0)
                    await asyncio.wait_for(self._slot_freed.wait(), remaining)
        await self._hand_back()

    async def _hand_back(self) -> None:
        left = [r for r in self._running.values() if not r.finishing]
        for r in left:
            r.reason = Interrupt.SHUTDOWN
        await _cancel_until_done([r.task for r in left if r.task is not None])
        assert self._ops is not None
        held = [(r.job.job_id, r.job.token, r.job.queue) for r in left]
        try:
            count = await self._ops.release(held)  # also leaves the idle set
            if count:
                logger.info("handed %d unfinished jobs back to the queue", count)
        except REDIS_ERRORS as e:
            failure = redis_failure(e, describe_pool(self._pool))
            what = f"hand back {len(held)} jobs (their leases will lapse)" if held else "leave the idle set"
            logger.warning("could not %s: %s", what, failure)

    # -- health ------------------------------------------------------------------------------------

    @property
    def running_jobs(self) -> int:
        """Return how many jobs this worker holds: running, or ending (recorded, observers not yet done)."""
        return len(self._running)

    def _counters(self) -> str:
        return (
            f"j_complete={self.jobs_complete} j_failed={self.jobs_failed} j_retried={self.jobs_retried} "
            f"j_ongoing={len(self._running)}"
        )

    def __repr__(self) -> str:
        return (
            f"<aqueue.Worker {self.worker_id} j_complete={self.jobs_complete} j_failed={self.jobs_failed} "
            f"j_retried={self.jobs_retried} j_ongoing={len(self._running)}>"
        )


def _describe_queues(queues: Sequence[str], weights: Sequence[int] | None) -> str:
    """Return the queues as the start-up line names them: ``a``, ``a > b`` (strict), ``a×3 b×1``."""
    if weights is None:
        return " > ".join(queues)
    return " ".join(f"{q}×{w}" for q, w in zip(queues, weights, strict=True))


async def _cancel_until_done(tasks: Sequence[asyncio.Task[Any]], every_s: float = 1.0) -> None:
    """Cancel ``tasks`` and wait for them, cancelling again every ``every_s`` while any still runs.

    One cancellation can go missing: a service that catches it by mistake, or a library that loses it
    (seen with redis-py 5.3 on Python 3.11: the heartbeat, cancelled inside a call that had to
    reconnect, carried on). Without asking again, the worker would never finish stopping.
    """
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every_s)
        if pending:
            logger.warning("%d worker tasks ignored a cancellation; cancelling them again", len(pending))
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not report it as never retrieved


async def _guarded(service: Service, where: str) -> None:
    """Run a service; restart it after a Redis failure (with backoff); log any other crash.

    Neither takes the worker down.
    """
    backoff = Backoff(f"worker service {service!r}", logger, where=where)
    while True:
        try:
            await service()
            return
        except REDIS_ERRORS as e:
            await asyncio.sleep(backoff.failed(e))
        except Exception:
            logger.exception("worker service %r crashed", service)
            return
