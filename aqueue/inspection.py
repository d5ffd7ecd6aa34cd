"""Listing and reading jobs for people (``aqueue jobs``, the dashboard): never on the hot path.

Jobs are listed from where they live, never by scanning the keyspace: queued, deferred and running
jobs from a queue's sorted set (a running job is one whose ``in-progress`` key exists; the set holds
it at its lease's end), dead ones from ``{prefix}dead``. A page reads at most ``MAX_EXAMINED``
entries of its source; ``JobPage.next_cursor`` says where the next page starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aqueue._clock import ms_to_datetime, now_ms
from aqueue._redis.connection import text
from aqueue._redis.errors import redis_errors
from aqueue._redis.keys import tries_started
from aqueue.dead import DeadJob, dead_job, list_dead
from aqueue.errors import ConfigurationError, TaskError
from aqueue.jobs import JobResult, JobStatus
from aqueue.progress import Progress, read_progress

if TYPE_CHECKING:
    from aqueue.client import Client

__all__ = [
    "MAX_EXAMINED",
    "MAX_LIMIT",
    "JobDetail",
    "JobPage",
    "JobState",
    "JobSummary",
    "check_name",
    "job_detail",
    "list_jobs",
    "parse_state",
]

#: The most source entries one page reads (a filter that matches little stops there, with a cursor).
MAX_EXAMINED = 2_000
#: The largest page.
MAX_LIMIT = 500
#: The longest job id, queue or task name a filter takes.
MAX_NAME = 512


class JobState(StrEnum):
    """What ``aqueue jobs --state`` and the dashboard's jobs page filter on."""

    ACTIVE = "active"  # queued, deferred or running: everything in the queue's sorted set
    QUEUED = "queued"
    DEFERRED = "deferred"
    RUNNING = "running"
    DEAD = "dead"
    SUCCEEDED = "succeeded"  # finished ones: from the queue's events stream, newest first
    FAILED = "failed"
    ABORTED = "aborted"


#: The states listed from the events stream (finished jobs have no index of their own in arq's layout).
FINISHED = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.ABORTED})


@dataclass(frozen=True, slots=True)
class JobSummary:
    """One row of a listing."""

    job_id: str
    queue: str
    state: str
    task: str
    tries: int
    enqueued_at: datetime | None
    due_at: datetime | None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of a listing; ``next_cursor`` is None on the last page."""

    jobs: list[JobSummary]
    cursor: int
    next_cursor: int | None


@dataclass(frozen=True, slots=True)
class JobDetail:
    """Everything known about one job, for its page."""

    job_id: str
    queue: str
    state: str
    task: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    tries: int
    enqueued_at: datetime | None
    due_at: datetime | None
    progress: Progress | None
    result: JobResult | None
    dead: DeadJob | None
    workflow_run: str | None

    @property
    def finished(self) -> bool:
        """Whether the job has ended (a result, or dead-lettered)."""
        return self.result is not None or self.dead is not None

    @property
    def error(self) -> tuple[str, str, str] | None:
        """Return the failure as (type, message, traceback text), or None if it did not fail."""
        if self.result is None or self.result.success:
            return None
        failure = self.result.result
        if isinstance(failure, TaskError):
            return failure.type_name, failure.message, failure.traceback
        if isinstance(failure, BaseException):
            trace = getattr(failure, "__aqueue_traceback__", "") or ""
            return type(failure).__name__, str(failure), trace
        return "Error", str(failure), ""


def _moment(ms: Any) -> datetime | None:
    """Return epoch milliseconds as a UTC datetime; None when absent or beyond what a datetime holds."""
    try:
        return ms_to_datetime(int(ms)) if ms is not None else None
    except (ValueError, OverflowError, OSError, TypeError):
        return None


def parse_state(value: str | None) -> JobState:
    """Return the state a filter names (``active`` when empty); raise ConfigurationError if unknown."""
    if not value:
        return JobState.ACTIVE
    try:
        return JobState(value)
    except ValueError:
        names = ", ".join(s.value for s in JobState)
        raise ConfigurationError(f"unknown job state {value!r}: use one of {names}") from None


def check_name(what: str, value: str | None) -> str | None:
    """Return ``value`` if it can name a queue, task or job (non-empty, short, no control characters)."""
    if value is None:
        return None
    if not value or len(value) > MAX_NAME or any(ord(c) < 32 for c in value):
        raise ConfigurationError(f"bad {what} {value[:40]!r}: 1 to {MAX_NAME} printable characters")
    return value


def _check_page(limit: int, cursor: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ConfigurationError(f"limit must be 1 to {MAX_LIMIT}, not {limit}")
    if cursor < 0:
        raise ConfigurationError(f"cursor must be 0 or more, not {cursor}")


async def list_jobs(
    client: Client,
    *,
    queue: str | None = None,
    state: JobState = JobState.ACTIVE,
    task: str | None = None,
    limit: int = 50,
    cursor: int = 0,
) -> JobPage:
    """Return one page of jobs in ``state`` on ``queue`` (the client's default), of ``task`` if given.

    Raises ConfigurationError for a bad limit, cursor or name, and RedisFailure if Redis fails.
    """
    _check_page(limit, cursor)
    check_name("queue", queue)
    check_name("task", task)
    if state is JobState.DEAD:
        return await _dead_page(client, queue, task, limit, cursor)
    if state in FINISHED:
        return await _finished_page(
            client, client.queue_key(queue), state, task=task, limit=limit, cursor=cursor
        )
    return await _queue_page(client, client.queue_key(queue), state, task=task, limit=limit, cursor=cursor)


def _score_range(state: JobState, now: int) -> tuple[str | int, str | int]:
    if state is JobState.QUEUED:
        return "-inf", now
    if state in (JobState.DEFERRED, JobState.RUNNING):
        return f"({now}", "+inf"
    return "-inf", "+inf"


async def _queue_page(
    client: Client, queue_key: str, state: JobState, *, task: str | None, limit: int, cursor: int
) -> JobPage:
    now = now_ms()
    low, high = _score_range(state, now)
    found: list[JobSummary] = []
    position = cursor
    chunk = max(limit, 100)
    while len(found) < limit and position - cursor < MAX_EXAMINED:
        with redis_errors(client.address):
            entries = await client.redis.zrangebyscore(
                queue_key, low, high, start=position, num=chunk, withscores=True
            )
            rows = await _rows(client, queue_key, [text(member) for member, _ in entries])
        start = position
        for (member, score), row in zip(entries, rows, strict=True):
            position += 1
            summary = _summary(client, text(member), queue_key=queue_key, score=int(score), row=row, now=now)
            if _wanted(summary, state, task):
                found.append(summary)
                if len(found) == limit:
                    break
        if len(entries) < chunk and position == start + len(entries):  # the source is exhausted
            return JobPage(found, cursor, None)
    return JobPage(found, cursor, position)


async def _rows(
    client: Client, queue_key: str, job_ids: Sequence[str]
) -> list[tuple[bytes | None, bool, int]]:
    keys = client.keys_for(queue_key)
    async with client.redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.get(keys.job(job_id))
            pipe.exists(keys.in_progress(job_id))
            pipe.get(keys.retry(job_id))
            pipe.hget(keys.deliveries, job_id)
        flat = await pipe.execute()
    return [
        (flat[i], bool(flat[i + 1]), tries_started(flat[i + 2], flat[i + 3])) for i in range(0, len(flat), 4)
    ]


def _envelope(client: Client, payload: bytes | None) -> dict[str, Any]:
    if payload is None:
        return {}
    try:
        decoded = client.job_deserializer(payload)
    except Exception:
        return {"f": "<undecodable>"}
    return decoded if isinstance(decoded, dict) else {}


def _summary(
    client: Client,
    job_id: str,
    *,
    queue_key: str,
    score: int,
    row: tuple[bytes | None, bool, int],
    now: int,
) -> JobSummary:
    payload, running, tries = row
    envelope = _envelope(client, payload)
    state = JobState.RUNNING if running else JobState.QUEUED if score <= now else JobState.DEFERRED
    return JobSummary(
        job_id,
        queue_key,
        state.value,
        str(envelope.get("f", "<expired>")),
        tries,
        _moment(envelope.get("et")),
        None if running else _moment(score),
    )


def _wanted(summary: JobSummary, state: JobState, task: str | None) -> bool:
    if state in (JobState.DEFERRED, JobState.RUNNING) and summary.state != state.value:
        return False
    return task is None or summary.task == task


async def _dead_page(client: Client, queue: str | None, task: str | None, limit: int, cursor: int) -> JobPage:
    with redis_errors(client.address):
        dead = await list_dead(client, limit=MAX_EXAMINED, start=cursor)
    queue_key = client.queue_key(queue) if queue else None
    found: list[JobSummary] = []
    examined = 0
    for job in dead:
        examined += 1
        if (queue_key is None or job.queue == queue_key) and (task is None or job.function == task):
            found.append(_dead_summary(job))
            if len(found) == limit:
                break
    more = len(dead) == MAX_EXAMINED or examined < len(dead)
    return JobPage(found, cursor, cursor + examined if more else None)


def _dead_summary(job: DeadJob) -> JobSummary:
    return JobSummary(
        job.job_id,
        job.queue,
        JobState.DEAD.value,
        job.function,
        job.tries,
        None,
        _moment(job.dead_at_ms),
    )


async def _finished_page(
    client: Client, queue_key: str, state: JobState, *, task: str | None, limit: int, cursor: int
) -> JobPage:
    """List finished jobs from the queue's events stream (``client.events``), newest first.

    The ``cursor``-th event on is read, at most ``MAX_EXAMINED`` of them; a client without events
    (an aqueue before them) cannot list finished jobs: that is a ConfigurationError.
    """
    events = getattr(client, "events", None)
    if events is None:
        raise ConfigurationError("finished jobs are listed from the events stream, which this aqueue lacks")
    found: list[JobSummary] = []
    seen = 0
    async for event in events(queue_key, follow=False, reverse=True, limit=cursor + MAX_EXAMINED):
        seen += 1
        if seen <= cursor or event.kind != state.value or (task is not None and event.task != task):
            continue
        found.append(
            JobSummary(
                event.job_id, event.queue, state.value, event.task, event.job_try or 0, None, None, event.time
            )
        )
        if len(found) == limit:
            return JobPage(found, cursor, seen)
    return JobPage(found, cursor, seen if seen == cursor + MAX_EXAMINED else None)


async def job_detail(client: Client, job_id: str, queue: str | None = None) -> JobDetail | None:
    """Return everything known about ``job_id`` on ``queue``, or None if nothing is (gone or never)."""
    check_name("job id", job_id)
    check_name("queue", queue)
    handle = client.job(job_id, queue)
    queue_key = client.queue_key(queue)
    keys = client.keys_for(queue_key)
    with redis_errors(client.address):
        async with client.redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.job(job_id))
            pipe.get(keys.retry(job_id))
            pipe.hget(keys.deliveries, job_id)
            pipe.zscore(queue_key, job_id)
            pipe.zscore(keys.dead, job_id)
            payload, counter, history, score, dead_at = await pipe.execute()
            tries = tries_started(counter, history)
        status = await handle.status()
        result = await handle.result_info()
        progress = await read_progress(client.redis, keys, job_id, client.job_deserializer)
    dead = await dead_job(client, job_id) if dead_at is not None else None
    return _detail(
        client,
        job_id,
        queue_key=queue_key,
        payload=payload,
        tries=tries,
        score=score,
        status=status,
        result=result,
        progress=progress,
        dead=dead,
    )


def _detail(
    client: Client,
    job_id: str,
    *,
    queue_key: str,
    payload: bytes | None,
    tries: int,
    score: float | None,
    status: JobStatus,
    result: JobResult | None,
    progress: Progress | None,
    dead: DeadJob | None,
) -> JobDetail | None:
    envelope = _envelope(client, payload)
    if not envelope and result is None and dead is None:
        return None
    state = "running" if status is JobStatus.in_progress else status.value
    if dead is not None and result is None:
        state = JobState.DEAD.value
    if result is not None:
        state = "succeeded" if result.success else "failed"
    return JobDetail(
        job_id=job_id,
        queue=(result.queue_name or queue_key) if result is not None else (dead.queue if dead else queue_key),
        state=state,
        task=str(envelope.get("f") or (result.function if result else dead.function if dead else "?")),
        args=tuple(envelope.get("a") or (result.args if result else ())),
        kwargs=dict(envelope.get("k") or (result.kwargs if result else {})),
        tries=int(tries or (result.job_try if result else dead.tries if dead else 0)),
        enqueued_at=_moment(envelope.get("et")) or (result.enqueue_time if result else None),
        due_at=None if status is JobStatus.in_progress else _moment(score),
        progress=progress,
        result=result,
        dead=dead,
        workflow_run=job_id.rpartition(":")[0] if "wf" in envelope else None,
    )
