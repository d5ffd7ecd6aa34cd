"""What the operations plane costs: events and Prometheus metrics on against both off, A/B in one run.

``python -m bench.ops_cost [--jobs N] [--rounds R] [--pickups P] [--out FILE]``: one embedded
redis-server; per round and side (alternating which goes first), N no-op jobs are pre-enqueued and
drained by an in-process burst worker (max_jobs=100), then P jobs are enqueued one at a time to an
idle worker. Reported per side, as medians over the rounds: drain rate (jobs/s, wall clock), the
worker's CPU per job, Redis CPU per drained job (``INFO cpu``), and
pickup latency (enqueue → task start, median of P) with the Redis CPU per job of those (enqueue,
hand-over, run, result read). ``--out`` also writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import orjson
import uvloop
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from aqueue import Client, Worker, task
from aqueue.contrib.prometheus import PrometheusMetrics
from aqueue.embedded import RedisServer

STARTS: dict[str, float] = {}


@task
async def noop(ctx: dict[str, Any]) -> None:
    return None


@task
async def stamp(ctx: dict[str, Any], job_id: str) -> None:
    STARTS[job_id] = time.time()


async def redis_cpu_s(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def worker(url: str, on: bool, **options: Any) -> Worker:
    extensions = [PrometheusMetrics(CollectorRegistry())] if on else []
    return Worker(
        [noop, stamp],
        redis_settings=url,
        handle_signals=False,
        max_jobs=100,
        events=on,
        extensions=extensions,
        **options,
    )


async def drain(url: str, redis: Redis, n: int, on: bool) -> dict[str, float]:
    async with Client(url, events=on) as client:
        await client.enqueue_many("noop", [() for _ in range(n)])
    built = worker(url, on, burst=True)
    cpu, redis_before, wall = time.process_time(), await redis_cpu_s(redis), time.perf_counter()
    await built.async_run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    redis_us = (await redis_cpu_s(redis) - redis_before) / n * 1e6
    await built.close()
    return {
        "drain_jobs_per_s": n / wall,
        "worker_cpu_us_per_job": cpu / n * 1e6,
        "redis_cpu_us_per_job": redis_us,
    }


async def pickups(url: str, redis: Redis, n: int, on: bool) -> dict[str, float]:
    """Enqueue ``n`` jobs one at a time to an idle worker: Redis CPU per enqueue+run, pickup latency."""
    built = worker(url, on)
    runner = asyncio.create_task(built.async_run())
    latencies = []
    try:
        async with Client(url, events=on) as client:
            await asyncio.sleep(0.3)
            before = await redis_cpu_s(redis)
            for i in range(n):
                job_id = f"p{i}-{on}"
                sent = time.time()
                job = await client.enqueue("stamp", job_id, _job_id=job_id)
                assert job is not None
                await job.result(timeout=10)
                latencies.append((STARTS.pop(job_id) - sent) * 1000)
            redis_us = (await redis_cpu_s(redis) - before) / n * 1e6
    finally:
        built.request_stop(force=True)
        await runner
        await built.close()
    return {"pickup_ms": statistics.median(latencies), "one_at_a_time_redis_cpu_us_per_job": redis_us}


async def measure(url: str, jobs: int, rounds: int, pickup_jobs: int) -> dict[str, dict[str, float]]:
    redis = Redis.from_url(url)
    samples: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    try:
        for i in range(rounds):
            for on in (False, True) if i % 2 == 0 else (True, False):
                await redis.flushall()
                sample = await drain(url, redis, jobs, on)
                sample.update(await pickups(url, redis, pickup_jobs, on))
                samples[on].append(sample)
    finally:
        await redis.aclose()
    return {
        ("on" if on else "off"): {key: statistics.median(s[key] for s in runs) for key in runs[0]}
        for on, runs in samples.items()
    }


def report(result: dict[str, dict[str, float]], jobs: int, rounds: int) -> str:
    off, on = result["off"], result["on"]
    lines = [f"events + metrics on vs off: drain of {jobs:,} no-ops, {rounds} rounds alternating (medians)"]
    for key in off:
        lines.append(
            f"  {key:24} off {off[key]:10.1f}   on {on[key]:10.1f}   on/off {on[key] / off[key]:.2f}"
        )
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ops_cost", description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--pickups", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with RedisServer() as server:
        result = await measure(server.url, args.jobs, args.rounds, args.pickups)
    print(report(result, args.jobs, args.rounds))
    if args.out:
        document = {"bench": "ops_cost", "jobs": args.jobs, "rounds": args.rounds, "pickups": args.pickups}
        args.out.write_bytes(orjson.dumps({**document, **result}, option=orjson.OPT_INDENT_2) + b"\n")


if __name__ == "__main__":
    uvloop.run(main())
