"""The producer side: ``Client`` and the module-level ``enqueue`` on a default client.

A producer needs no task code: jobs address tasks by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, overload

from arq.connections import ArqRedis, RedisSettings
from arq.constants import expires_extra_ms as DEFAULT_EXPIRES_EXTRA_MS
from arq.worker import Function

from aqueue import serialization
from aqueue._clock import datetime_to_ms, now_ms, to_seconds
from aqueue._enqueue import (
    CLUSTER_REPLICAS,
    Attempt,
    enqueue_again,
    enqueue_replicated,
    enqueue_unique,
    replicas_setting,
    retry_window,
    unique_setting,
)
from aqueue._envelope import encode_job, result_envelope
from aqueue._naming import PlainFunction, TaskRef, task_name
from aqueue._priority import check_group, check_priority
from aqueue._redis.cluster import ClusterLayout, is_cluster
from aqueue._redis.connection import (
    DEFAULT_REPLY_TIMEOUT_S,
    RedisLike,
    connect,
    describe,
    reply_timeout,
    resolve_settings,
    text,
)
from aqueue._redis.core import (
    Abort,
    AbortArgs,
    Enqueue,
    EnqueueArgs,
    EnqueueJob,
    Pause,
    PauseArgs,
    Purge,
    PurgeArgs,
)
from aqueue._redis.errors import REDIS_ERRORS, describe_pool, redis_errors
from aqueue._redis.keys import DEFAULT_PREFIX, Keys
from aqueue._redis.notify import Notifier
from aqueue._redis.replication import DEFAULT_REPLICATION_TIMEOUT_S
from aqueue._redis.scripts import ScriptRegistry
from aqueue._redis.transport import Transport, choose_transport, open_transport
from aqueue.errors import ConfigurationError, JobAborted
from aqueue.events import DEFAULT_EVENTS_MAXLEN, Event, events_cap, read_events
from aqueue.extensions import client_hooks
from aqueue.jobs import Job

if TYPE_CHECKING:
    from aqueue.tasks import Task

__all__ = ["Client", "close_default_client", "default_client", "enqueue"]

Serializer = Any  # Callable[[Any], bytes]
Deserializer = Any  # Callable[[bytes], Any]
#: Jobs per Lua call in enqueue_many (bounded so one call never blocks Redis for long).
BATCH_SIZE = 500
#: Queue entries a purge looks at per Lua call (bounded so one call never blocks Redis for long).
PURGE_BATCH = 1000
NOT_CONNECTED = "client is not connected: use 'async with Client(...)' or await connect()"
#: How long ``enqueue`` keeps retrying after a failed attempt (a failover takes a few seconds).
DEFAULT_RETRY_WINDOW_S = 5.0


def new_job_id() -> str:
    """Return a fresh job id: 32 random hex digits, like arq's ``uuid4().hex``.

    ``os.urandom`` directly: building a ``UUID`` costs ~2 µs warm and ~40 µs on a cold (idle) process,
    which is the common case for a producer that enqueues now and then.
    """
    return os.urandom(16).hex()


def _score(now: int, defer_until: datetime | None, defer_by: float | timedelta | None) -> int:
    if defer_until is not None and defer_by is not None:
        raise ConfigurationError("use either _defer_until or _defer_by, not both")
    if defer_until is not None:
        return datetime_to_ms(defer_until)
    seconds = to_seconds(defer_by)
    return now + int(seconds * 1000) if seconds else now


P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
#: Tasks addressed without types: by name, an arq ``Function`` or a plain function (not a ``Task``).
Untyped = str | Function | PlainFunction


class Workflow(Protocol[R_co]):
    """What :meth:`Client.run` starts: anything that enqueues itself on a client (``aqueue.workflows``)."""

    def enqueue(self, client: Client, /, **options: Any) -> Awaitable[R_co]:
        """Start on ``client``; return the run handle."""
        ...


@dataclass(frozen=True, slots=True)
class Placement:
    """Where and when jobs go: queue, deferral, expiry, starting try."""

    queue_name: str | None = None
    defer_until: datetime | None = None
    defer_by: float | timedelta | None = None
    expires: float | timedelta | None = None
    job_try: int | None = None
    priority: int = 0
    group: str = ""


class Client:
    """A connection to the queue for producers: enqueue, inspect and abort jobs, run workflows.

    ``redis`` is a URL, an arq ``RedisSettings``, an existing arq pool, or None for
    ``AQUEUE_REDIS_URL``. Use as ``async with Client(...) as client`` or call ``connect``/``aclose``.
    A command Redis leaves unanswered for ``reply_timeout_s`` fails (the connection is presumed dead,
    e.g. half-open) instead of waiting forever; raise it to run longer blocking commands on
    ``client.redis``. A pool passed in keeps its own settings. ``events=False`` writes no ``enqueued``
    events (see :mod:`aqueue.events`); ``events_maxlen`` caps each queue's event stream (approximately).
    ``transport`` picks the hot path's connection (see :mod:`aqueue._redis.transport`): ``"auto"``
    (aqueue's lean connection on plain TCP and unix sockets, redis-py for TLS, Sentinel or a pool
    passed in), ``"wire"`` or ``"redis-py"``.

    Redis failures raise :class:`aqueue.errors.RedisFailure` subclasses: ``RedisUnavailableError``
    (unreachable, or the connection dropped) and ``RedisRefusedError`` (an error reply: out of memory,
    a read-only replica, …), never redis-py's exceptions, on either transport. ``client.redis``
    itself is redis-py's.

    Failovers: an ``enqueue`` that fails on a lost connection (or a server still loading its data)
    is retried for up to ``retry_window_s`` seconds (0: not retried), without
    ever creating a second job: the retry sends the same job id and checks it (see
    :mod:`aqueue._enqueue`). ``min_replicas=N`` (or ``enqueue(..., _min_replicas=N)``) returns only once
    N replicas have the job (``WAIT``), raising :class:`aqueue.errors.ReplicationError` if they do not
    confirm it within ``replication_timeout_s`` (retried within the window as well).
    """

    def __init__(
        self,
        redis: RedisLike | ArqRedis = None,
        *,
        key_prefix: str = DEFAULT_PREFIX,
        queue_name: str | None = None,
        job_serializer: Serializer | None = None,
        job_deserializer: Deserializer | None = None,
        expires_extra_ms: int = DEFAULT_EXPIRES_EXTRA_MS,
        reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S,
        transport: str = "auto",
        retry_window_s: float = DEFAULT_RETRY_WINDOW_S,
        min_replicas: int = 0,
        replication_timeout_s: float = DEFAULT_REPLICATION_TIMEOUT_S,
        events: bool = True,
        events_maxlen: int = DEFAULT_EVENTS_MAXLEN,
    ) -> None:
        self.events_on, self.events_maxlen = events, events_cap(events_maxlen)
        self.reply_timeout_s = reply_timeout(reply_timeout_s)
        self.retry_window_s = retry_window(retry_window_s)
        self.min_replicas, self.replication_timeout_s = replicas_setting(min_replicas, replication_timeout_s)
        self._pool: ArqRedis | None = redis if isinstance(redis, ArqRedis) else None
        self._owns_pool = self._pool is None
        self.settings: RedisSettings = (
            RedisSettings() if isinstance(redis, ArqRedis) else resolve_settings(redis)
        )
        #: The server's address, without password, as error messages name it.
        self.address = describe_pool(redis) if isinstance(redis, ArqRedis) else describe(self.settings)
        choose_transport(transport, self.settings if self._owns_pool else None)  # bad values fail here
        self._transport_choice = transport
        #: Redis Cluster: every queue's keys under a prefix with its hash tag (None: arq's one layout).
        self.layout = ClusterLayout(key_prefix) if self._owns_pool and is_cluster(self.settings) else None
        self.keys: Keys = Keys(key_prefix) if self.layout is None else self.layout.keys(queue_name)
        if self.layout is not None and self.min_replicas:
            raise ConfigurationError(CLUSTER_REPLICAS)
        self.default_queue = self.keys.queue(queue_name)
        self.job_serializer = job_serializer or serialization.job_serializer
        self.job_deserializer = job_deserializer or serialization.job_deserializer
        self.expires_extra_ms = expires_extra_ms
        self._transport: Transport | None = None
        self._scripts: ScriptRegistry | None = None
        self._enqueue: Enqueue | None = None
        self._notifier: Notifier | None = None

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def connect(self) -> Client:
        """Open the connection pool (retrying briefly); idempotent."""
        if self._pool is None:
            self._pool = await connect(
                self.settings,
                reply_timeout_s=self.reply_timeout_s,
                job_serializer=self.job_serializer,
                job_deserializer=self.job_deserializer,
                default_queue_name=self.default_queue,
                expires_extra_ms=self.expires_extra_ms,
            )
        if self._transport is None:
            self._transport = open_transport(
                self._transport_choice,
                pool=self._pool,
                settings=self.settings if self._owns_pool else None,
                reply_timeout_s=self.reply_timeout_s,
            )
            hooks = client_hooks({"events": self.events_on, "events_maxlen": self.events_maxlen})
            self._scripts = ScriptRegistry(self._transport, hooks)  # layers' Lua in enqueue (events)
            self._enqueue = self._scripts.get(Enqueue)
        return self

    async def aclose(self) -> None:
        """Close the notifier and, if this client opened it, the pool; a lost connection is no error."""
        if self._notifier is not None:
            await self._notifier.aclose()
            self._notifier = None
        if self._transport is not None:
            await self._transport.aclose()
        if self._pool is not None and self._owns_pool:
            with contextlib.suppress(*REDIS_ERRORS):
                await self._pool.aclose()
        self._pool = None
        self._transport = self._scripts = self._enqueue = None

    @property
    def redis(self) -> ArqRedis:
        """Return the arq Redis pool (an ``ArqRedis``: arq's own ``enqueue_job`` works on it too)."""
        if self._pool is None:
            raise ConfigurationError(NOT_CONNECTED)
        return self._pool

    @property
    def transport(self) -> Transport:
        """Return the hot path's transport (``transport.name``: ``"wire"`` or ``"redis-py"``)."""
        if self._transport is None:
            raise ConfigurationError(NOT_CONNECTED)
        return self._transport

    @property
    def scripts(self) -> ScriptRegistry:
        """Return the Lua scripts bound to this client's transport (``client.scripts.get(Kind)``)."""
        if self._scripts is None:
            raise ConfigurationError(NOT_CONNECTED)
        return self._scripts

    @property
    def notifier(self) -> Notifier:
        """Return the shared result notifier, created on first use."""
        if self._notifier is None:
            self._notifier = Notifier(self.redis)
        return self._notifier

    def queue_key(self, queue_name: str | None = None) -> str:
        """Return the Redis key of queue ``queue_name``, or of this client's default queue."""
        return self.keys.queue(queue_name) if queue_name else self.default_queue

    def keys_for(self, queue_key: str | None) -> Keys:
        """Return the keys of queue ``queue_key``: :attr:`keys`, but on Redis Cluster (a prefix per queue)."""
        if self.layout is None or not queue_key:
            return self.keys
        return self.layout.keys(queue_key)

    def job(self, job_id: str, queue_name: str | None = None) -> Job[Any]:
        """Return a handle on an existing job by id."""
        return Job(job_id, self, self.queue_key(queue_name))

    def events(
        self,
        queue: str | Sequence[str] | None = None,
        *,
        follow: bool = True,
        since: datetime | str | None = None,
        reverse: bool = False,
        limit: int | None = None,
    ) -> AsyncIterator[Event]:
        """Iterate over job lifecycle events (:class:`aqueue.events.Event`) of ``queue`` (None: every queue).

        ``follow=True`` waits for new events forever (from now, or from ``since``: a time or an event's
        ``position``), resuming after a dropped connection without losing or repeating one.
        ``follow=False`` yields the events kept (from ``since``), oldest first or, with ``reverse``,
        newest first, at most ``limit``, then stops. See :func:`aqueue.events.read_events`.
        """
        names = [queue] if isinstance(queue, str) else queue
        queues = None if names is None else [self.queue_key(name) for name in names]
        if self.layout is not None and (queues is None or len(queues) != 1):
            raise ConfigurationError("on Redis Cluster events are read one queue at a time: name the queue")
        return read_events(
            self.redis,
            self.keys_for(queues[0] if queues else None),
            queues,
            follow=follow,
            since=since,
            reverse=reverse,
            limit=limit,
        )

    # Typed through a Task (see aqueue.tasks: arguments are checked only in calls without options),
    # untyped by name; None only when a ``_job_id`` is given. Declarations only, no run-time cost.
    @overload
    async def enqueue(self, task: Task[P, R], *args: P.args, **kwargs: P.kwargs) -> Job[R]: ...
    @overload
    async def enqueue(self, task: Task[Any, R], *args: Any, _job_id: str, **kwargs: Any) -> Job[R] | None: ...
    @overload
    async def enqueue(self, task: Task[Any, R], *args: Any, _job_id: None, **kwargs: Any) -> Job[R]: ...
    @overload
    async def enqueue(
        self, task: Task[Any, R], *args: Any, _queue_name: str | None, **kwargs: Any
    ) -> Job[R]: ...
    @overload
    async def enqueue(
        self, task: Task[Any, R], *args: Any, _defer_until: datetime | None, **kwargs: Any
    ) -> Job[R]: ...
    @overload
    async def enqueue(
        self, task: Task[Any, R], *args: Any, _defer_by: float | timedelta | None, **kwargs: Any
    ) -> Job[R]: ...
    @overload
    async def enqueue(
        self, task: Task[Any, R], *args: Any, _expires: float | timedelta | None, **kwargs: Any
    ) -> Job[R]: ...
    @overload
    async def enqueue(
        self, task: Task[Any, R], *args: Any, _job_try: int | None, **kwargs: Any
    ) -> Job[R]: ...
    @overload
    async def enqueue(
        self, task: Task[Any, R], *args: Any, _min_replicas: int | None, **kwargs: Any
    ) -> Job[R]: ...
    @overload
    async def enqueue(self, task: Task[Any, R], *args: Any, _unique: str | None, **kwargs: Any) -> Job[R]: ...
    @overload
    async def enqueue(
        self, task: Task[Any, R], *args: Any, _unique_for: float | timedelta | None, **kwargs: Any
    ) -> Job[R]: ...
    @overload
    async def enqueue(
        self, task: Task[Any, R], *args: Any, _debounce: float | timedelta | None, **kwargs: Any
    ) -> Job[R]: ...
    @overload
    async def enqueue(
        self, task: Task[Any, R], *args: Any, _priority: int | None, **kwargs: Any
    ) -> Job[R]: ...
    @overload
    async def enqueue(self, task: Task[Any, R], *args: Any, _group: str | None, **kwargs: Any) -> Job[R]: ...
    @overload
    async def enqueue(self, task: Untyped, *args: Any, _job_id: str, **kwargs: Any) -> Job[Any] | None: ...
    @overload
    async def enqueue(self, task: Untyped, *args: Any, **kwargs: Any) -> Job[Any]: ...

    async def enqueue(  # type: ignore[misc]  # mypy: P.kwargs of overload 1 might hold an _option
        self,
        task: TaskRef,
        *args: Any,
        _job_id: str | None = None,
        _queue_name: str | None = None,
        _defer_until: datetime | None = None,
        _defer_by: float | timedelta | None = None,
        _expires: float | timedelta | None = None,
        _job_try: int | None = None,
        _min_replicas: int | None = None,
        _unique: str | None = None,
        _unique_for: float | timedelta | None = None,
        _debounce: float | timedelta | None = None,
        _priority: int | None = None,
        _group: str | None = None,
        **kwargs: Any,
    ) -> Job[Any] | None:
        """Enqueue a job for ``task`` (a name or a Task); return its Job, or None if ``_job_id`` exists.

        The hot path of a producer: one Lua call, no batching structures. A failed call is retried
        within ``retry_window_s``; ``_min_replicas`` overrides the client's ``min_replicas``.

        ``_unique="key"``: while a job holding that key is queued, deferred or running, return that
        job (``job.deduplicated`` is True) instead of a new one; ``_unique_for=seconds`` holds the key
        that long after the job ended (throttle); ``_debounce=seconds``: a holder still waiting takes
        these arguments and runs ``seconds`` from now, else a new job runs then. A ``_job_id`` that
        exists gives None before the key is looked at; otherwise it names the new job.
        ``_priority`` (0-9, default the Task's ``priority``, else 0): among due jobs of a queue, higher
        ones are claimed first, FIFO within a priority (docs/flow.md).
        ``_group="tenant-42"``: the job belongs to that group; claims rotate over a queue's groups, and
        a task's ``group_concurrency``/``group_rate_limit`` apply per group (docs/limits.md).
        """
        name = task if type(task) is str else task_name(task)
        priority = 0 if _priority is None and type(task) is str else _priority_of(task, _priority)
        group = "" if _group is None else check_group(_group, priority)
        queue = self.queue_key(_queue_name)
        now = now_ms()
        unique = None
        if _unique is not None or _unique_for is not None or _debounce is not None:
            deferred = _defer_until is not None or _defer_by is not None
            unique = unique_setting(_unique, _unique_for, _debounce, deferred=deferred)
            if unique.debounce:
                _defer_by = _debounce  # each enqueue of a burst moves the run time
        if _defer_until is None and _defer_by is None and _expires is None:
            score, ttl = now, self.expires_extra_ms
        else:
            score, ttl = self._timing(now, Placement(None, _defer_until, _defer_by, _expires))
        job_id = _job_id or new_job_id()
        extra = {"g": group} if group else None
        payload = encode_job(
            self.job_serializer, name, args, kwargs, job_try=_job_try, enqueue_ms=now, extra=extra
        )
        if self._enqueue is None:
            raise ConfigurationError(NOT_CONNECTED)
        # positional, in the fields' order: keywords cost ~0.4 µs per enqueue here
        job = EnqueueJob(job_id, payload, score, ttl)
        if unique is not None:
            return await self._enqueue_unique(
                Attempt(
                    self.keys_for(queue).prefix,
                    queue,
                    now,
                    job,
                    name,
                    _job_id is None,
                    unique,
                    priority,
                    group,
                ),
                _min_replicas,
            )
        script_args = EnqueueArgs(
            self.keys_for(queue).prefix, queue, now, _job_id is not None, (job,), priority, group
        )
        replicas = self.min_replicas if _min_replicas is None else _min_replicas
        if not replicas:
            try:
                written = await self._enqueue(script_args)
            except REDIS_ERRORS as e:  # no extra coroutine or context on the hot path until it fails
                written = [await enqueue_again(self, Attempt.of(script_args, name), e)]
        else:
            written = [await enqueue_replicated(self, Attempt.of(script_args, name), replicas)]
        return Job(job_id, self, queue, group=group) if written[0] else None

    async def _enqueue_unique(self, attempt: Attempt, min_replicas: int | None) -> Job[Any] | None:
        """Enqueue under a unique key (``enqueue_unique.lua``): the new job, or the one holding the key."""
        replicas = self.min_replicas if min_replicas is None else min_replicas
        landed = await enqueue_unique(self, attempt, replicas)
        if landed is None:
            return None
        group = attempt.group if landed.job_id == attempt.job_id else ""  # a holder's group: not known here
        return Job(landed.job_id, self, landed.queue, deduplicated=landed.deduplicated, group=group)

    async def enqueue_many(
        self,
        task: TaskRef,
        calls: Iterable[Sequence[Any] | tuple[Sequence[Any], dict[str, Any]]],
        *,
        _queue_name: str | None = None,
        _defer_until: datetime | None = None,
        _defer_by: float | timedelta | None = None,
        _expires: float | timedelta | None = None,
        _priority: int | None = None,
        _group: str | None = None,
    ) -> list[Job[Any] | None]:
        """Enqueue many jobs of one task in few round trips; each call is an args tuple or (args, kwargs).

        ``_priority`` applies to all of them (default: the Task's ``priority``, else 0), and so does
        ``_group``.
        """
        priority = _priority_of(task, _priority)
        group = "" if _group is None else check_group(_group, priority)
        specs = [_call_spec(call) for call in calls]
        placement = Placement(_queue_name, _defer_until, _defer_by, _expires, priority=priority, group=group)
        return await self._enqueue_batch(task_name(task), specs, placement)

    async def _enqueue_batch(
        self,
        name: str,
        specs: list[tuple[Sequence[Any], dict[str, Any], str | None]],
        placement: Placement,
    ) -> list[Job[Any] | None]:
        queue = self.queue_key(placement.queue_name)
        now = now_ms()
        score, ttl = self._timing(now, placement)
        serializer, job_try = self.job_serializer, placement.job_try
        extra = {"g": placement.group} if placement.group else None
        table = [  # one pass, positional: every step here is paid once per job
            EnqueueJob(
                job_id or new_job_id(),
                encode_job(serializer, name, a, k, job_try=job_try, enqueue_ms=now, extra=extra),
                score,
                ttl,
            )
            for a, k, job_id in specs
        ]
        check_ids = any(job_id is not None for _, _, job_id in specs)
        written = await self.write_jobs(
            queue, table, now, check_ids=check_ids, priority=placement.priority, group=placement.group
        )
        group = placement.group
        return [
            Job(i, self, queue, group=group) if ok else None
            for (i, _, _, _), ok in zip(table, written, strict=True)
        ]

    def _timing(self, now: int, placement: Placement) -> tuple[int, int]:
        """Return the queue score and the job key's TTL (ms) for jobs enqueued at ``now``."""
        score = _score(now, placement.defer_until, placement.defer_by)
        expires_s = to_seconds(placement.expires)
        ttl = int(expires_s * 1000) if expires_s else score - now + self.expires_extra_ms
        if ttl <= 0:
            raise ConfigurationError("_expires must be positive")
        return score, ttl

    async def write_jobs(
        self,
        queue: str,
        jobs: Sequence[EnqueueJob],
        now: int,
        *,
        check_ids: bool = True,
        priority: int = 0,
        group: str = "",
    ) -> list[bool]:
        """Write encoded jobs to ``queue`` at ``priority`` (0-9, checked by the caller); wake idle workers.

        An id whose job or result exists is skipped (False), unless ``check_ids`` is False: the ids
        are fresh random ones and the check would cost a Redis call per job for nothing.
        """
        enqueue = self.scripts.get(Enqueue)
        flags: list[bool] = []
        with redis_errors(self.address):
            for start in range(0, len(jobs), BATCH_SIZE):
                batch = jobs[start : start + BATCH_SIZE]
                args = EnqueueArgs(
                    prefix=self.keys_for(queue).prefix,
                    queue=queue,
                    now_ms=now,
                    check_ids=check_ids,
                    jobs=batch,
                    priority=priority,
                    group=group,
                )
                flags.extend(await enqueue(args))
        return flags

    async def abort_job(self, job_id: str, queue_key: str) -> str:
        """Abort ``job_id``: returns 'aborted' (was waiting), 'flagged' (running) or 'missing'."""
        now = now_ms()
        error = JobAborted(f"job {job_id} was aborted before it started")
        aborted = result_envelope(
            job_id=job_id,
            name="<aborted>",
            args=[],
            kwargs={},
            job_try=0,
            enqueue_ms=now,
            success=False,
            value=error,
            start_ms=now,
            finish_ms=now,
            queue=queue_key,
        )
        args = AbortArgs(
            prefix=self.keys_for(queue_key).prefix,
            queue=queue_key,
            job_id=job_id,
            now_ms=now,
            result=self.job_serializer(aborted),
            ttl_ms=3_600_000,
        )
        with redis_errors(self.address):
            return await self.scripts.get(Abort)(args)

    # -- queue control: pause, resume, purge --------------------------------------------------------

    async def pause_queue(self, name: str | None = None) -> bool:
        """Pause queue ``name`` (default: this client's queue): workers stop claiming from it.

        Enqueues still write jobs (none is handed to an idle worker); jobs already running go on.
        Returns whether it was running before (False: it was already paused).
        """
        return await self._pause(name, paused=True)

    async def resume_queue(self, name: str | None = None) -> bool:
        """Resume a paused queue: its idle workers are woken and claim at once.

        Returns whether it was paused.
        """
        return await self._pause(name, paused=False)

    async def _pause(self, name: str | None, *, paused: bool) -> bool:
        queue = self.queue_key(name)
        args = PauseArgs(prefix=self.keys_for(queue).prefix, queue=queue, paused=paused)
        with redis_errors(self.address):
            return await self.scripts.get(Pause)(args)

    async def paused_queues(self) -> set[str]:
        """Return the keys of the paused queues (each is the name to pass to ``resume_queue``)."""
        with redis_errors(self.address):
            members = await self.redis.smembers(self.keys.paused)  # type: ignore[misc]
        return {text(m) for m in members}

    async def purge_queue(self, name: str | None = None) -> int:
        """Remove the queued and deferred jobs of queue ``name`` (not running ones) with their job keys.

        Returns how many were removed. Done in batches: jobs enqueued meanwhile may be removed too.
        """
        purge = self.scripts.get(Purge)
        queue, start, removed = self.queue_key(name), 0, 0
        with redis_errors(self.address):
            while True:
                reply = await purge(PurgeArgs(self.keys_for(queue).prefix, queue, start, PURGE_BATCH))
                removed += reply.removed
                if reply.next_start is None:
                    return removed
                start = reply.next_start

    async def run(self, workflow: Workflow[R], **options: Any) -> R:
        """Start a workflow (chain, group, chord, …) and return its run handle."""
        return await workflow.enqueue(self, **options)


def _priority_of(task: TaskRef, given: int | None) -> int:
    """Return the priority of a job of ``task``: ``given`` (checked), else a Task's default, else 0."""
    if given is None:
        given = getattr(task, "priority", None) if type(task) is not str else None
    return 0 if given is None else check_priority(given)


def _call_spec(call: Any) -> tuple[Sequence[Any], dict[str, Any], str | None]:
    if (
        isinstance(call, tuple)
        and len(call) == 2
        and isinstance(call[1], dict)
        and isinstance(call[0], list | tuple)
    ):
        return tuple(call[0]), call[1], None
    if isinstance(call, list | tuple):
        return tuple(call), {}, None
    return (call,), {}, None


_default_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Client] = weakref.WeakKeyDictionary()


async def default_client() -> Client:
    """Return this event loop's default client (``AQUEUE_REDIS_URL``), connecting on first use."""
    loop = asyncio.get_running_loop()
    client = _default_clients.get(loop)
    if client is None:
        client = Client()
        _default_clients[loop] = client
    return await client.connect()


async def close_default_client() -> None:
    """Close this event loop's default client, if one was opened."""
    client = _default_clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


# Typed as Client.enqueue is.
@overload
async def enqueue(task: Task[P, R], *args: P.args, **kwargs: P.kwargs) -> Job[R]: ...
@overload
async def enqueue(task: Task[Any, R], *args: Any, _job_id: str, **kwargs: Any) -> Job[R] | None: ...
@overload
async def enqueue(task: Task[Any, R], *args: Any, _job_id: None, **kwargs: Any) -> Job[R]: ...
@overload
async def enqueue(task: Task[Any, R], *args: Any, _queue_name: str | None, **kwargs: Any) -> Job[R]: ...
@overload
async def enqueue(task: Task[Any, R], *args: Any, _defer_until: datetime | None, **kwargs: Any) -> Job[R]: ...
@overload
async def enqueue(
    task: Task[Any, R], *args: Any, _defer_by: float | timedelta | None, **kwargs: Any
) -> Job[R]: ...
@overload
async def enqueue(
    task: Task[Any, R], *args: Any, _expires: float | timedelta | None, **kwargs: Any
) -> Job[R]: ...
@overload
async def enqueue(task: Task[Any, R], *args: Any, _job_try: int | None, **kwargs: Any) -> Job[R]: ...
@overload
async def enqueue(task: Task[Any, R], *args: Any, _min_replicas: int | None, **kwargs: Any) -> Job[R]: ...
@overload
async def enqueue(task: Task[Any, R], *args: Any, _unique: str | None, **kwargs: Any) -> Job[R]: ...
@overload
async def enqueue(
    task: Task[Any, R], *args: Any, _unique_for: float | timedelta | None, **kwargs: Any
) -> Job[R]: ...
@overload
async def enqueue(
    task: Task[Any, R], *args: Any, _debounce: float | timedelta | None, **kwargs: Any
) -> Job[R]: ...
@overload
async def enqueue(task: Task[Any, R], *args: Any, _priority: int | None, **kwargs: Any) -> Job[R]: ...
@overload
async def enqueue(task: Task[Any, R], *args: Any, _group: str | None, **kwargs: Any) -> Job[R]: ...
@overload
async def enqueue(task: Untyped, *args: Any, _job_id: str, **kwargs: Any) -> Job[Any] | None: ...
@overload
async def enqueue(task: Untyped, *args: Any, **kwargs: Any) -> Job[Any]: ...


async def enqueue(task: Task[Any, Any] | Untyped, *args: Any, **kwargs: Any) -> Job[Any] | None:
    """Enqueue on the default client: ``await aqueue.enqueue("resize", image_id)``."""
    job: Job[Any] | None = await (await default_client()).enqueue(task, *args, **kwargs)
    return job
