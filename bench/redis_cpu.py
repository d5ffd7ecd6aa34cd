"""Redis CPU per job: ``INFO cpu`` across a drain of N no-op jobs, aqueue and plain arq on one Redis.

``python -m bench.redis_cpu [--jobs N] [--rounds R] [--url URL]`` pre-enqueues N jobs (untimed), drains
them with one burst worker in this process (aqueue's ``Worker``, then arq's with its default and a 10 ms
poll delay), and reports the server's CPU (``used_cpu_user + used_cpu_sys``) spent during each drain,
per job, and aqueue's ratio to arq. Rounds alternate the peers so that load from other processes falls
on all of them alike; the median per peer is reported.

Self-contained on purpose (aqueue, arq and redis-py only): :func:`redis_cpu_s` and
:func:`redis_cpu_per_job` are the reusable parts.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop
from arq.connections import RedisSettings, create_pool
from arq.constants import expires_extra_ms, job_key_prefix
from arq.jobs import serialize_job
from arq.worker import Worker as ArqWorker
from redis.asyncio import Redis

import aqueue
from aqueue.embedded import RedisServer

AQUEUE_QUEUE = "redis-cpu"
ARQ_QUEUE = "arq:queue:redis-cpu-arq"


async def noop(ctx: dict[str, Any]) -> None:
    return None


async def redis_cpu_s(redis: Redis) -> float:
    """Return the CPU seconds the server has used so far (``INFO cpu``: user + sys)."""
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def redis_cpu_per_job(redis: Redis, drain: Callable[[], Awaitable[Any]], jobs: int) -> float:
    """Run ``drain`` and return the server CPU it caused, in µs per job."""
    before = await redis_cpu_s(redis)
    await drain()
    return (await redis_cpu_s(redis) - before) / jobs * 1e6


async def aqueue_drain(redis: Redis, url: str, jobs: int, events: bool = True) -> float:
    """Pre-enqueue ``jobs`` no-ops with ``enqueue_many``; return the µs of server CPU per job of a drain.

    ``events=False``: the client and the worker write no job lifecycle events.
    """
    async with aqueue.Client(url, queue_name=AQUEUE_QUEUE, events=events) as client:
        await client.enqueue_many("noop", [() for _ in range(jobs)])
    worker = aqueue.Worker(
        [noop], redis_settings=url, queue_name=AQUEUE_QUEUE, burst=True, max_jobs=100, events=events
    )
    try:
        return await redis_cpu_per_job(redis, worker.async_run, jobs)
    finally:
        await worker.close()


async def arq_drain(redis: Redis, url: str, jobs: int, poll_delay: float) -> float:
    """Pre-enqueue ``jobs`` no-ops the way ``enqueue_job`` writes them; return µs of server CPU per job."""
    now = int(time.time() * 1000)
    for start in range(0, jobs, 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for _ in range(start, min(start + 1000, jobs)):
                job_id = uuid.uuid4().hex
                pipe.psetex(
                    job_key_prefix + job_id, expires_extra_ms, serialize_job("noop", (), {}, None, now)
                )
                pipe.zadd(ARQ_QUEUE, {job_id: now})
            await pipe.execute()
    pool = await create_pool(RedisSettings.from_dsn(url))
    worker = ArqWorker(
        [noop],  # type: ignore[list-item]
        redis_pool=pool,
        queue_name=ARQ_QUEUE,
        burst=True,
        max_jobs=100,
        poll_delay=poll_delay,
        handle_signals=False,
    )
    try:
        return await redis_cpu_per_job(redis, worker.async_run, jobs)
    finally:
        await worker.close()
        await pool.aclose()


PEERS: dict[str, Callable[[Redis, str, int], Awaitable[float]]] = {
    "aqueue": aqueue_drain,
    "aqueue (events off)": lambda r, u, n: aqueue_drain(r, u, n, events=False),
    "arq (poll 0.5 s)": lambda r, u, n: arq_drain(r, u, n, 0.5),
    "arq (poll 10 ms)": lambda r, u, n: arq_drain(r, u, n, 0.01),
}


async def measure(url: str, jobs: int, rounds: int, peers: list[str]) -> dict[str, list[float]]:
    """Return each peer's µs of server CPU per job, one value per round."""
    redis = Redis.from_url(url)
    samples: dict[str, list[float]] = {name: [] for name in peers}
    try:
        for _ in range(rounds):
            for name in peers:
                await redis.flushall()
                samples[name].append(await PEERS[name](redis, url, jobs))
        await redis.flushall()
    finally:
        await redis.aclose()
    return samples


def report(samples: dict[str, list[float]], jobs: int) -> str:
    """Return a small table: median (min–max) µs per job, and aqueue's ratio to each arq peer."""
    ours = statistics.median(samples["aqueue"]) if "aqueue" in samples else None
    rounds = len(next(iter(samples.values())))
    lines = [f"Redis CPU per job, drain of {jobs:,} no-op jobs, {rounds} rounds (median, range)"]
    for name, values in samples.items():
        median = statistics.median(values)
        ratio = "" if not name.startswith("arq") or ours is None else f"   aqueue/arq = {ours / median:.2f}×"
        lines.append(f"  {name:20} {median:7.1f} µs/job  ({min(values):.1f}–{max(values):.1f}){ratio}")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.redis_cpu", description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--only", default=",".join(PEERS), help=f"comma-separated subset of: {', '.join(PEERS)}"
    )
    parser.add_argument("--url", help="an existing Redis (FLUSHALLed!); default: a throwaway redis-server")
    args = parser.parse_args()
    peers = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        parser.error(f"unknown peers {unknown}; choose from {list(PEERS)}")
    if args.url:
        print(report(await measure(args.url, args.jobs, args.rounds, peers), args.jobs))
        return
    with RedisServer() as server:
        print(report(await measure(server.url, args.jobs, args.rounds, peers), args.jobs))


if __name__ == "__main__":
    uvloop.run(main())
