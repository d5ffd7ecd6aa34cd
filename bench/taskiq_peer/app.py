"""The taskiq broker (Redis streams) and the one task: it records how long after the producer's clock
reading it started."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import redis.asyncio as aredis
import uvloop
from taskiq_redis import RedisStreamBroker

asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # the worker's loop, like aqueue's and arq's

URL = os.environ["BENCH_TASKIQ_URL"]
LATENCIES_KEY = "bench:taskiq:pickup"
LOOP_KEY = "bench:taskiq:loop"

broker = RedisStreamBroker(url=URL)
_clients: dict[str, Any] = {}  # the worker's own connection for recording, made on first use


@broker.task
async def pickup(enqueued_at: float) -> None:
    latency = time.time() - enqueued_at
    redis = _clients.get("r")
    if redis is None:
        redis = _clients["r"] = aredis.Redis.from_url(URL)
        await redis.set(LOOP_KEY, type(asyncio.get_running_loop()).__module__)
    await redis.rpush(LATENCIES_KEY, repr(latency))
