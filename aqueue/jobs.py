"""The producer's handle on one job: status, result (woken by notification), abort."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import orjson
from arq.jobs import JobStatus

from aqueue._clock import ms_to_datetime, now_ms
from aqueue._priority import ready_priority, timed
from aqueue._redis.errors import redis_errors
from aqueue.errors import JobAborted, JobTimeout, MaxTriesExceeded, ResultNotFound, SerializationError
from aqueue.progress import Progress, read_progress

if TYPE_CHECKING:
    from aqueue.client import Client

__all__ = ["Job", "JobResult", "JobStatus"]

#: First re-read of a stored result when no notification came (safety net), then doubling.
RECHECK_START_S = 0.25
RECHECK_MAX_S = 5.0

#: What the job's task returns: ``Job[int]`` from ``await add.enqueue(1, 2)``; ``Job[Any]`` by name.
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class JobResult:
    """A finished job's stored result envelope, decoded."""

    job_id: str
    function: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    job_try: int
    success: bool
    result: Any
    enqueue_time: datetime | None
    start_time: datetime | None
    finish_time: datetime | None
    queue_name: str

    @classmethod
    def from_envelope(cls, job_id: str, data: dict[str, Any]) -> JobResult:
        """Build from arq's result envelope (keys ``t f a k et s r st ft q``)."""
        return cls(
            job_id=job_id,
            function=data.get("f", "<unknown>"),
            args=tuple(data.get("a") or ()),
            kwargs=dict(data.get("k") or {}),
            job_try=int(data.get("t") or 0),
            success=bool(data.get("s")),
            result=_aborted(data.get("r")),
            enqueue_time=ms_to_datetime(data.get("et")),
            start_time=ms_to_datetime(data.get("st")),
            finish_time=ms_to_datetime(data.get("ft")),
            queue_name=data.get("q", ""),
        )

    def value(self) -> Any:
        """Return the result, or raise the task's failure."""
        if self.success:
            return self.result
        if isinstance(self.result, BaseException):
            raise self.result
        # a failure stored as text: the worker could not encode it (arq's producers raise their
        # SerializationError for it too)
        raise SerializationError(str(self.result))


def _aborted(value: Any) -> Any:
    """Return a stored ``CancelledError`` (arq's record of an aborted job) as JobAborted; else ``value``."""
    if isinstance(value, asyncio.CancelledError):
        return JobAborted(str(value) or "the job was aborted")
    return value


class Job(Generic[T]):
    """A handle on one job, by id. Obtained from ``enqueue``, or built with ``client.job(id)``.

    ``T`` is what :meth:`result` returns: the task's result type when the job was enqueued through
    a typed :class:`aqueue.Task`, ``Any`` when by name. It is a declaration only (the worker's value
    is returned as decoded, never checked or converted).

    Its calls raise :class:`aqueue.errors.RedisFailure` subclasses when Redis fails; a task's own
    failure, re-raised by :meth:`result`, is never translated (even if it is a redis-py error).
    """

    __slots__ = ("_client", "_group_key", "_queue_key", "deduplicated", "job_id")

    def __init__(
        self, job_id: str, client: Client, queue_key: str, *, deduplicated: bool = False, group: str = ""
    ) -> None:
        self.job_id = job_id
        self._client = client
        self._queue_key = queue_key
        #: where the job waits if it belongs to a group (``_group``): its group's set, else its queue
        self._group_key = client.keys_for(queue_key).group(queue_key, group) if group else queue_key
        #: True when an enqueue under a unique key returned this existing job instead of a new one.
        self.deduplicated = deduplicated

    def __repr__(self) -> str:
        return f"<aqueue.Job {self.job_id} on {self._queue_key}>"

    async def status(self) -> JobStatus:
        """Return deferred, queued, in_progress, complete or not_found."""
        keys = self._client.keys_for(self._queue_key)
        with redis_errors(self._client.address):
            async with self._client.redis.pipeline(transaction=False) as pipe:
                pipe.exists(keys.result(self.job_id))
                pipe.exists(keys.in_progress(self.job_id))
                self._queued_on(pipe)
                complete, running, score, ready, delayed, held, grouped = await pipe.execute()
        if complete:
            return JobStatus.complete
        if running:
            return JobStatus.in_progress
        score = score if score is not None else grouped
        if score is None and not (ready or delayed or held):
            score = await self._score_in_group()
        if ready is not None or held is not None:
            return JobStatus.queued
        if delayed is not None:
            score = timed(delayed)[0]
        if score is None:
            return JobStatus.not_found
        return JobStatus.deferred if score > now_ms() else JobStatus.queued

    def _queued_on(self, pipe: Any) -> None:
        """Queue on ``pipe`` the reads of where a waiting job is.

        The queue, the ready and delayed sets, and the flow limits' held-back jobs (``{p}waiting``).
        """
        keys = self._client.keys_for(self._queue_key)
        pipe.zscore(self._queue_key, self.job_id)
        pipe.zscore(keys.ready(self._queue_key), self.job_id)
        pipe.zscore(keys.delayed(self._queue_key), self.job_id)
        pipe.hget(keys.waiting(), self.job_id)
        pipe.zscore(self._group_key, self.job_id)

    async def _score_in_group(self) -> float | None:
        """Return the run-at of a job waiting in its group, for a handle that was not told its group."""
        raw = await self._client.redis.get(self._client.keys_for(self._queue_key).job(self.job_id))
        if raw is None or self._group_key != self._queue_key:
            return None
        try:
            group = self._client.job_deserializer(raw).get("g")
        except Exception:  # a payload this client cannot read: it is not one of our groups' jobs
            return None
        if not isinstance(group, str):
            return None
        score: float | None = await self._client.redis.zscore(
            self._client.keys_for(self._queue_key).group(self._queue_key, group), self.job_id
        )
        return score

    async def priority(self) -> int | None:
        """Return the job's priority (0-9) while it is queued, deferred or running; None once gone."""
        keys = self._client.keys_for(self._queue_key)
        with redis_errors(self._client.address):
            async with self._client.redis.pipeline(transaction=False) as pipe:
                self._queued_on(pipe)
                pipe.zscore(keys.leased(self._queue_key), self.job_id)
                pipe.exists(keys.job(self.job_id))
                score, ready, delayed, held, grouped, leased, stored = await pipe.execute()
        score = score if score is not None else grouped
        if ready is not None:
            return ready_priority(ready)
        if held is not None and stored:
            return 0  # held back by a limit: claimed as priority 0 when its turn comes
        timed_score = delayed if delayed is not None else leased
        if timed_score is not None and stored:
            return timed(timed_score)[1]
        return 0 if score is not None else None

    async def result_info(self) -> JobResult | None:
        """Return the stored result envelope, or None if there is none (yet)."""
        with redis_errors(self._client.address):
            raw = await self._client.redis.get(self._client.keys_for(self._queue_key).result(self.job_id))
        return None if raw is None else self._decode(raw)

    def _decode(self, raw: bytes) -> JobResult:
        return JobResult.from_envelope(self.job_id, self._client.job_deserializer(raw))

    async def _poll_once(self) -> JobResult | None:
        """Read the result; raise if the job is gone without one."""
        keys = self._client.keys_for(self._queue_key)
        async with self._client.redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.result(self.job_id))
            self._queued_on(pipe)
            pipe.exists(keys.in_progress(self.job_id))
            pipe.zscore(keys.dead, self.job_id)
            raw, score, ready, delayed, held, grouped, running, dead = await pipe.execute()
        if ready is not None or delayed is not None or held is not None or grouped is not None:
            score = 0
        if raw is not None:
            return self._decode(raw)
        if dead is not None:
            raise MaxTriesExceeded(
                f"job {self.job_id} was dead-lettered: delivered too often without finishing"
            )
        if score is None and not running and await self._score_in_group() is None:
            raise ResultNotFound(
                f"job {self.job_id} has no result and is not queued: it expired, its result was not kept "
                "(keep_result=0) or its result expired"
            )
        return None

    async def result(self, timeout: float | None = None) -> T:
        """Wait for the job to finish and return its result, or re-raise its failure.

        Wakes on the worker's completion notice; re-reads the stored result now and then, so a missed
        notice never hangs. Raises :class:`aqueue.errors.JobTimeout` after ``timeout`` seconds.
        """
        info = await self.wait(timeout)
        value: T = info.value()
        return value

    async def wait(self, timeout: float | None = None) -> JobResult:
        """Wait for the job to finish and return its :class:`JobResult` without raising its failure."""
        keys = self._client.keys_for(self._queue_key)
        channel = keys.done_channel(self.job_id)
        with redis_errors(self._client.address):  # JobTimeout passes through: it is no Redis error
            async with self._client.notifier.watch(channel, keys.listening) as event:
                found: JobResult = await wait_until(self._poll_once, event, timeout, f"job {self.job_id}")
                return found

    async def abort(self, timeout: float | None = None) -> bool:
        """Abort the job: drop it if not started yet, else cancel it on its worker.

        Waits up to ``timeout`` seconds (None: forever, 0: don't wait) and returns whether the job
        ended aborted.
        """
        state = await self._client.abort_job(self.job_id, self._queue_key)
        if state == "missing" or timeout == 0:
            return state == "aborted"
        try:
            info = await self.wait(timeout)
        except (JobTimeout, ResultNotFound):
            return False
        return not info.success and isinstance(info.result, JobAborted | asyncio.CancelledError)

    async def progress(self) -> Progress | None:
        """Return the latest progress the task reported (``ctx["progress"]``), or None."""
        with redis_errors(self._client.address):
            return await read_progress(
                self._client.redis,
                self._client.keys_for(self._queue_key),
                self.job_id,
                self._client.job_deserializer,
            )

    async def info(self) -> dict[str, Any] | None:
        """Return the job's envelope while queued or running (None once finished or gone).

        A job enqueued with ``_unique`` that holds its key has it under ``"unique"``; its ``priority``
        (0-9) is under that key; a job of a group has it under ``"g"``; a job a flow limit holds back
        says why under ``"waiting"`` (:func:`waiting_reason`).
        """
        keys = self._client.keys_for(self._queue_key)
        with redis_errors(self._client.address):
            async with self._client.redis.pipeline(transaction=False) as pipe:
                pipe.get(keys.job(self.job_id))
                pipe.hget(keys.uniques, self.job_id)
                pipe.hget(keys.waiting(), self.job_id)
                raw, spec, held = await pipe.execute()
        if raw is None:
            return None
        envelope = dict(self._client.job_deserializer(raw))
        if spec is not None:
            envelope["unique"] = _unique_key(spec)
        if held is not None:
            envelope["waiting"] = waiting_reason(held)
        envelope["priority"] = await self.priority() or 0
        return envelope

    async def unique_key(self) -> str | None:
        """Return the unique key this job holds (``_unique``), or None (none, or it ended)."""
        with redis_errors(self._client.address):
            spec = await self._client.redis.hget(self._client.keys_for(self._queue_key).uniques, self.job_id)  # type: ignore[misc]
        return None if spec is None else _unique_key(spec)


def waiting_reason(held: bytes) -> dict[str, str]:
    """Return why a limit holds a job back, from its ``{p}waiting`` entry (``why⏎queue⏎scope``).

    ``reason`` is ``concurrency`` or ``rate``; ``limit`` names the task, and the group when it is a
    per-group limit (``task`` or ``task group=G``).
    """
    why, _queue, kind, *scope = held.decode().split("\n")
    limit = scope[0] if kind == "t" else f"{scope[0]} group={scope[1]}"
    return {"reason": why, "limit": limit}


def _unique_key(spec: bytes) -> str:
    """Return the key of a job's unique spec (``{p}uniques``: JSON ``k q f``)."""
    key: str = orjson.loads(spec)["k"]
    return key


async def wait_until(
    poll: Callable[[], Awaitable[Any]], event: asyncio.Event, timeout: float | None, what: str
) -> Any:
    """Call ``poll`` until it returns non-None; sleep between calls until ``event`` is set.

    Re-polls now and then even without the event (a missed notification never hangs), and raises
    :class:`JobTimeout` after ``timeout`` seconds.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    recheck = RECHECK_START_S
    while True:
        event.clear()
        found = await poll()
        if found is not None:
            return found
        pause = recheck
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise JobTimeout(f"{what} did not finish in time")
            pause = min(pause, remaining)
        try:
            await asyncio.wait_for(event.wait(), pause)
        except TimeoutError:
            recheck = min(recheck * 2, RECHECK_MAX_S)
