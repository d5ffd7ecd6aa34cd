"""What the overview page and ``/metrics`` show: queue depths, live workers, recent throughput.

Queues are the ones configured, the default one, and those live workers serve (nothing scans the
keyspace for queue keys). Running jobs are those of the set held at a lease's end (the next
``LEASE_WINDOW_MS``) whose ``in-progress`` key exists, up to ``MAX_RUNNING_CHECKED``; throughput and
failure rate come from the change in the workers' ``j_complete``/``j_failed`` counters between
heartbeat samples this process keeps for the last minutes; pickup latency (p50, p95) from the
``started`` events of the last minutes (:mod:`aqueue.dashboard._latency`).
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aqueue._clock import now_ms
from aqueue._redis.connection import text
from aqueue._redis.errors import redis_errors
from aqueue.dashboard._latency import Latency, pickup_latencies
from aqueue.monitor import WorkerInfo, live_workers

if TYPE_CHECKING:
    from aqueue.client import Client

#: How far back throughput is measured, and the oldest sample kept.
WINDOW_S = 300.0
#: Samples closer together than this are not kept (a page refreshing every second adds nothing).
SAMPLE_EVERY_S = 2.0

#: Running jobs sit in their queue's set at their lease's end: this far ahead (longer than any lease).
LEASE_WINDOW_MS = 60_000
#: The most jobs checked for running per queue (the count shown is then a lower bound).
MAX_RUNNING_CHECKED = 1_000

_COUNTER = re.compile(r"(j_complete|j_failed|j_retried|j_ongoing)=(\d+)")


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """One queue's jobs now, and its recent throughput (None until two samples span some time)."""

    queue: str
    due: int
    deferred: int
    running: int
    workers: int
    paused: bool
    per_minute: float | None
    failure_rate: float | None
    pickup: Latency | None = None  # None: no start in the window (or events are off)


@dataclass(frozen=True, slots=True)
class Overview:
    """Every queue, the dead letters and the live workers."""

    queues: list[QueueDepth]
    dead: int
    workers: list[WorkerInfo]
    window_s: float


def counters(info: str) -> dict[str, int]:
    """Return the ``j_…`` counters of a worker's heartbeat text."""
    return {name: int(value) for name, value in _COUNTER.findall(info)}


@dataclass(frozen=True, slots=True)
class _Sample:
    at: float
    done: dict[str, tuple[str, int, int]]  # worker id → (queue, finished, failed)


class Throughput:
    """Heartbeat counter samples of the last ``WINDOW_S`` seconds, and rates from them."""

    def __init__(self) -> None:
        self._samples: deque[_Sample] = deque()

    def add(self, workers: Iterable[WorkerInfo], at: float | None = None) -> None:
        """Record the workers' counters (at most one sample per SAMPLE_EVERY_S)."""
        at = time.monotonic() if at is None else at
        if self._samples and at - self._samples[-1].at < SAMPLE_EVERY_S:
            return
        done = {}
        for worker in workers:
            c = counters(worker.info)
            done[worker.worker_id] = (
                worker.queue,
                c.get("j_complete", 0) + c.get("j_failed", 0),
                c.get("j_failed", 0),
            )
        self._samples.append(_Sample(at, done))
        while self._samples and at - self._samples[0].at > WINDOW_S:
            self._samples.popleft()

    def rates(self, queue: str) -> tuple[float | None, float | None]:
        """Return (jobs finished per minute, share of them that failed) on ``queue``, or Nones."""
        if len(self._samples) < 2:
            return None, None
        first, last = self._samples[0], self._samples[-1]
        span = last.at - first.at
        finished = failed = 0
        for worker_id, (q, done, bad) in last.done.items():
            before = first.done.get(worker_id)
            if q != queue or before is None:
                continue
            finished += max(0, done - before[1])
            failed += max(0, bad - before[2])
        if span <= 0:
            return None, None
        return finished * 60 / span, (failed / finished if finished else 0.0)

    @property
    def window_s(self) -> float:
        """Return the time the samples span."""
        return self._samples[-1].at - self._samples[0].at if len(self._samples) > 1 else 0.0


async def _running(client: Client, candidates: list[list[bytes]]) -> list[int]:
    """Return, per queue, how many of its candidate ids have an ``in-progress`` key."""
    async with client.redis.pipeline(transaction=False) as pipe:
        for ids in candidates:
            for job_id in ids:
                pipe.exists(client.keys.in_progress(text(job_id)))
        flags = iter(await pipe.execute())
    return [sum(next(flags) for _ in ids) for ids in candidates]


def known_queues(
    client: Client, configured: Sequence[str], workers: Sequence[WorkerInfo], paused: Iterable[str]
) -> list[str]:
    """Return the queue keys to show: configured, the default, served by live workers, paused."""
    names = {client.queue_key(q) for q in configured} | {client.default_queue}
    names |= {q for w in workers for q in w.queues if q}
    names |= {client.queue_key(q) for q in paused}
    return sorted(names)


async def read_overview(
    client: Client, configured: Sequence[str], throughput: Throughput, paused: set[str]
) -> Overview:
    """Read every shown queue's depth, the dead-letter count and the live workers."""
    workers = await live_workers(client)
    throughput.add(workers)
    queues = known_queues(client, configured, workers, paused)
    now = now_ms()
    with redis_errors(client.address):
        async with client.redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.zcount(queue, "-inf", now)
                pipe.zcard(queue)
                pipe.zrangebyscore(queue, f"({now}", now + LEASE_WINDOW_MS, start=0, num=MAX_RUNNING_CHECKED)
            pipe.zcard(client.keys.dead)
            replies = await pipe.execute()
        running = await _running(client, [replies[3 * i + 2] for i in range(len(queues))])
    latencies = await pickup_latencies(client, queues)
    dead = int(replies.pop())
    paused_keys = {client.queue_key(q) for q in paused}
    depths = []
    for i, queue in enumerate(queues):
        due, total = int(replies[3 * i]), int(replies[3 * i + 1])
        per_minute, failure_rate = throughput.rates(queue)
        depths.append(
            QueueDepth(
                queue,
                due,
                total - due - running[i],
                running[i],
                sum(1 for w in workers if queue in w.queues),
                queue in paused_keys,
                per_minute,
                failure_rate,
                latencies.get(queue),
            )
        )
    return Overview(depths, dead, workers, throughput.window_s)
