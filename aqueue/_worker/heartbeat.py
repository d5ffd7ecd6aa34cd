"""A worker's heartbeat: arq's health-check key and aqueue's live-worker hash ``{prefix}worker:{id}``."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from aqueue._backoff import Backoff, every
from aqueue._clock import now_ms
from aqueue._redis.errors import describe_pool
from aqueue._redis.keys import Keys

#: How often the live-worker hash is refreshed, and how long it outlives a silent worker.
BEAT_S = 5.0
WORKER_KEY_TTL_MS = 15_000

logger = logging.getLogger("aqueue.worker")


@dataclass
class Heartbeat:
    """Publishes a worker's counters: to its hash every BEAT_S, to arq's key every health_interval_s."""

    redis: Any
    keys: Keys
    worker_id: str
    queue: str
    health_key: str
    health_interval_s: float
    #: every queue the worker serves (``queue`` is the first)
    queues: tuple[str, ...] = ()

    async def run(self, counters: Callable[[], str]) -> None:
        """Beat until cancelled; ``counters`` renders arq's ``j_complete=… j_ongoing=…`` text.

        A beat Redis does not take (unreachable, out of memory, read-only, …) is logged once and
        tried again at the next beat: the cadence is the retry, so the worker looks alive again
        as soon as Redis takes writes.
        """
        last_health = -self.health_interval_s

        async def step() -> None:
            nonlocal last_health
            health_due = time.monotonic() - last_health >= self.health_interval_s
            await self.beat(counters(), health_due)
            if health_due:  # only once written: a refused beat writes the health key next time
                last_health = time.monotonic()

        backoff = Backoff(f"worker {self.worker_id}: heartbeat", logger, where=describe_pool(self.redis))
        await every(BEAT_S, step, backoff, at_start=True)

    async def beat(self, info: str, with_health_key: bool) -> None:
        """Write the live-worker hash and, if asked, arq's health-check key (with the queue's size)."""
        key = self.keys.worker(self.worker_id)
        beat_ms = now_ms()
        queued = await self.redis.zcard(self.queue) if with_health_key else None
        async with self.redis.pipeline(transaction=False) as pipe:
            if with_health_key:
                text = f"{time.strftime('%b-%d %H:%M:%S')} {info} queued={queued}"
                pipe.psetex(self.health_key, int((self.health_interval_s + 1) * 1000), text.encode())
            pipe.hset(
                key,
                mapping={
                    "queue": self.queue,
                    "queues": orjson.dumps(list(self.queues or (self.queue,))),
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "heartbeat_ms": beat_ms,
                    "info": info,
                },
            )
            pipe.pexpire(key, WORKER_KEY_TTL_MS)
            pipe.zadd(self.keys.workers, {self.worker_id: beat_ms})
            pipe.zremrangebyscore(self.keys.workers, "-inf", beat_ms - WORKER_KEY_TTL_MS)
            await pipe.execute()
