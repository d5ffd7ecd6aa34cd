"""Looking at a live system: queue sizes, live workers, one job's state (``aqueue status``/``aqueue job``)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from aqueue._clock import now_ms
from aqueue._redis.connection import text
from aqueue._redis.errors import redis_errors
from aqueue._worker.heartbeat import WORKER_KEY_TTL_MS
from aqueue.jobs import JobResult, JobStatus
from aqueue.progress import Progress

if TYPE_CHECKING:
    from aqueue.client import Client

__all__ = [
    "JobView",
    "QueueStats",
    "WorkerInfo",
    "job_view",
    "known_queues",
    "live_workers",
    "queue_stats",
]


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A live worker, from its heartbeat hash."""

    worker_id: str
    host: str
    pid: int
    queue: str
    info: str
    seconds_since_beat: float
    #: every queue it serves (``queue`` is the first)
    queues: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QueueStats:
    """A queue's jobs: due now, scheduled later or leased (running), and dead letters overall.

    Jobs of priority > 0 and of groups are counted too; ``paused``: workers claim nothing from it.
    Of the due jobs, ``grouped`` wait in one of ``groups`` groups (``_group``; counted over the first
    :data:`GROUPS_COUNTED` groups) and ``held_back`` wait for a flow limit, by reason
    (``{"concurrency": n, "rate": m}``, see docs/limits.md).
    """

    queue: str
    due: int
    later_or_running: int
    dead: int
    paused: bool = False
    groups: int = 0
    grouped: int = 0
    held_back: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobView:
    """Everything known about one job."""

    job_id: str
    status: JobStatus
    progress: Progress | None
    result: JobResult | None
    unique: str | None = None  # the unique key it holds (``_unique``)
    priority: int | None = None
    group: str | None = None  # its group (``_group``)
    waiting: dict[str, str] | None = None  # why a flow limit holds it back (``Job.info``'s ``waiting``)


async def queue_stats(client: Client, queue_name: str | None = None) -> QueueStats:
    """Count a queue's due jobs and the rest (deferred, or leased by a running worker)."""
    queue = client.queue_key(queue_name)
    keys = client.keys_for(queue)
    now = now_ms()
    with redis_errors(client.address):
        async with client.redis.pipeline(transaction=False) as pipe:
            pipe.zcount(queue, "-inf", now)
            pipe.zcard(queue)
            pipe.zcard(keys.dead)
            pipe.zcard(keys.ready(queue))
            pipe.zcount(keys.delayed(queue), "-inf", now * 16 + 15)
            pipe.zcard(keys.delayed(queue))
            pipe.sismember(keys.paused, queue)
            due, total, dead, ready, delayed_due, delayed, paused = await pipe.execute()
    due += ready + delayed_due
    total += ready + delayed
    groups, grouped, grouped_later = await _grouped(client, queue, now)
    held = await _held_back(client, queue)
    due += grouped + sum(held.values())
    total += grouped + grouped_later + sum(held.values())
    return QueueStats(queue, due, total - due, dead, bool(paused), groups, grouped, held)


#: A status counts the jobs of this many groups at most (the groups with the earliest turns).
GROUPS_COUNTED = 1000


async def _grouped(client: Client, queue: str, now: int) -> tuple[int, int, int]:
    """Return how many groups ``queue`` has, and their due and deferred jobs."""
    keys = client.keys_for(queue)
    with redis_errors(client.address):
        groups = await client.redis.zcard(keys.groups(queue))
        if not groups:
            return 0, 0, 0
        names = await client.redis.zrange(keys.groups(queue), 0, GROUPS_COUNTED - 1)
        async with client.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.zcount(keys.group(queue, name.decode()), "-inf", now)
                pipe.zcard(keys.group(queue, name.decode()))
            counts = await pipe.execute()
    due, total = sum(counts[0::2]), sum(counts[1::2])
    return groups, due, total - due


async def _held_back(client: Client, queue: str) -> dict[str, int]:
    """Return how many of ``queue``'s jobs flow limits hold back, by reason (concurrency, rate)."""
    keys = client.keys_for(queue)
    with redis_errors(client.address):
        scopes = await client.redis.zrange(keys.blocked(queue), 0, -1)
        if not scopes:
            return {}
        async with client.redis.pipeline(transaction=False) as pipe:
            for scope in scopes:
                pipe.zcard(keys.wait(queue, scope.decode()))
                pipe.zrange(keys.wait(queue, scope.decode()), 0, 0)
            rows = await pipe.execute()
        firsts = [ids[0] if ids else b"" for ids in rows[1::2]]
        reasons = await client.redis.hmget(keys.waiting(), firsts)  # type: ignore[misc]
    held: dict[str, int] = {}
    for count, entry in zip(rows[0::2], reasons, strict=True):
        if count and entry is not None:  # a scope's jobs wait for the same reason (its first one's)
            why = entry.decode().split("\n", 1)[0]
            held[why] = held.get(why, 0) + count
    return held


async def known_queues(client: Client) -> list[str]:
    """Return the queue keys that are known without scanning the keyspace, sorted.

    Those are the queues live workers serve (from their heartbeats), the paused ones, and the
    client's default queue when it holds jobs.
    """
    served = {q for w in await live_workers(client) for q in w.queues if q}
    default = client.default_queue
    with redis_errors(client.address):
        waiting = {default} if await client.redis.zcard(default) else set()
    return sorted(served | waiting | await client.paused_queues())


async def live_workers(client: Client, queue_name: str | None = None) -> list[WorkerInfo]:
    """Return workers whose heartbeat is fresh (their hash expires 15 s after their last beat).

    Workers are listed in ``{prefix}workers`` by last beat, so this reads no more keys than there are
    live workers (nothing scans the keyspace). On Redis Cluster that registry is per queue: the
    workers of ``queue_name`` (default: the client's queue); elsewhere ``queue_name`` changes nothing.
    """
    keys = client.keys_for(client.queue_key(queue_name))
    now = now_ms()
    with redis_errors(client.address):
        ids = [
            text(i) for i in await client.redis.zrangebyscore(keys.workers, now - WORKER_KEY_TTL_MS, "+inf")
        ]
        async with client.redis.pipeline(transaction=False) as pipe:
            for worker_id in ids:
                pipe.hgetall(keys.worker(worker_id))
            rows: list[dict[bytes, bytes]] = await pipe.execute()
    return sorted(
        (_worker_info(worker_id, row, now) for worker_id, row in zip(ids, rows, strict=True) if row),
        key=lambda w: w.worker_id,
    )


def _queues(row: dict[bytes, bytes]) -> tuple[str, ...]:
    """Return the queues a heartbeat names (a worker of an older version names only ``queue``)."""
    raw = row.get(b"queues")
    if raw:
        with contextlib.suppress(orjson.JSONDecodeError):
            return tuple(str(q) for q in orjson.loads(raw))
    return (text(row.get(b"queue", b"")),)


def _worker_info(worker_id: str, row: dict[bytes, bytes], now: int) -> WorkerInfo:
    return WorkerInfo(
        worker_id,
        text(row.get(b"host", b"")),
        int(row.get(b"pid", 0)),
        text(row.get(b"queue", b"")),
        text(row.get(b"info", b"")),
        (now - int(row.get(b"heartbeat_ms", 0))) / 1000,
        _queues(row),
    )


async def job_view(client: Client, job_id: str, queue_name: str | None = None) -> JobView:
    """Return a job's status, latest progress and, once finished, its result record."""
    job = client.job(job_id, queue_name)
    status, progress, result = await job.status(), await job.progress(), await job.result_info()
    if result is not None:  # it finished between the reads: a result means complete, as status() says
        status = JobStatus.complete
    info = await job.info() if result is None else None
    group = info.get("g") if info is not None else None
    waiting = info.get("waiting") if info is not None else None
    return JobView(
        job_id, status, progress, result, await job.unique_key(), await job.priority(),
        group if isinstance(group, str) else None, waiting,
    )  # fmt: skip
