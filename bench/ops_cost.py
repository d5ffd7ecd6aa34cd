"""What the operations plane costs: events and Prometheus metrics on against both off, A/B in one run.

``python -m bench.ops_cost [--jobs N] [--rounds R] [--pickups P] [--out STEM]``: one embedded
redis-server; per round and side (alternating which goes first), N no-op jobs are pre-enqueued and
drained by an in-process burst worker (max_jobs=100), then P jobs are enqueued one at a time to an
idle worker. Reported per side: drain rate (jobs/s, wall clock; median, min and max over the rounds),
the worker's CPU per job, Redis CPU per drained job (``INFO cpu``), pickup latency (enqueue → task
start: p50, p95, p99 of every pickup) and the Redis CPU per job of those (enqueue, hand-over, run,
result read); and the on/off ratio of the drain rate per round (each round's two sides ran back to
back), its median against the target (issue 12: on at least 0.90× of off). ``--out STEM`` writes
``STEM.json`` and ``STEM.md``; ``--profile`` prints the on side's top functions (cProfile, one drain).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import math
import os
import pstats
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


async def pickups(url: str, redis: Redis, n: int, on: bool) -> dict[str, Any]:
    """Enqueue ``n`` jobs one at a time to an idle worker: Redis CPU per enqueue+run, pickup latencies."""
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
    return {"pickups_ms": latencies, "one_at_a_time_redis_cpu_us_per_job": redis_us}


def percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank ``share`` (0-1) percentile of ``values``."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * share)) - 1]


async def measure(url: str, jobs: int, rounds: int, pickup_jobs: int) -> dict[str, Any]:
    redis = Redis.from_url(url)
    samples: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    try:
        await drain(url, redis, min(jobs, 2000), True)  # warm up: scripts loaded, code paths hot
        for i in range(rounds):
            for on in (False, True) if i % 2 == 0 else (True, False):
                await redis.flushall()
                sample = await drain(url, redis, jobs, on)
                sample.update(await pickups(url, redis, pickup_jobs, on))
                samples[on].append(sample)
    finally:
        await redis.aclose()
    return summarize(samples)


def summarize(samples: dict[bool, list[dict[str, Any]]]) -> dict[str, Any]:
    """Return per side the medians, the drain rate's spread and the pickup percentiles; the ratios."""
    result: dict[str, Any] = {}
    for on, runs in samples.items():
        rates = [s["drain_jobs_per_s"] for s in runs]
        pooled = [ms for s in runs for ms in s["pickups_ms"]]
        side = {key: statistics.median(s[key] for s in runs) for key in runs[0] if key != "pickups_ms"}
        side.update(drain_min=min(rates), drain_max=max(rates))
        side.update({f"pickup_p{p}_ms": percentile(pooled, p / 100) for p in (50, 95, 99)})
        result["on" if on else "off"] = side
    ratios = [
        on["drain_jobs_per_s"] / off["drain_jobs_per_s"]
        for on, off in zip(samples[True], samples[False], strict=True)
    ]
    result["drain_ratio_per_round"] = ratios
    result["drain_ratio_median"] = statistics.median(ratios)
    return result


ROWS = [
    ("drain_jobs_per_s", "drain, jobs/s (median)", "{:,.0f}"),
    ("drain_min", "drain, slowest round", "{:,.0f}"),
    ("drain_max", "drain, fastest round", "{:,.0f}"),
    ("worker_cpu_us_per_job", "worker CPU per drained job, µs", "{:.1f}"),
    ("redis_cpu_us_per_job", "Redis CPU per drained job, µs", "{:.1f}"),
    ("pickup_p50_ms", "pickup latency p50, ms", "{:.3f}"),
    ("pickup_p95_ms", "pickup latency p95, ms", "{:.3f}"),
    ("pickup_p99_ms", "pickup latency p99, ms", "{:.3f}"),
    ("one_at_a_time_redis_cpu_us_per_job", "Redis CPU per job, one at a time, µs", "{:.1f}"),
]


def report(result: dict[str, Any], jobs: int, rounds: int, pickup_jobs: int) -> str:
    off, on = result["off"], result["on"]
    ratio = result["drain_ratio_median"]
    per_round = ", ".join(f"{r:.2f}" for r in result["drain_ratio_per_round"])
    lines = [
        f"events + metrics on vs both off: {rounds} rounds, sides alternating, each a drain of {jobs:,}",
        f"no-ops then {pickup_jobs} pickups one at a time (one redis-server, one process)",
        "",
        "| | off | on | on/off |",
        "|---|---|---|---|",
    ]
    for key, name, fmt in ROWS:
        lines.append(
            f"| {name} | {fmt.format(off[key])} | {fmt.format(on[key])} | {on[key] / off[key]:.2f} |"
        )
    verdict = "meets" if ratio >= 0.90 else "misses"
    lines += ["", f"drain on/off per round: {per_round}; median {ratio:.2f} ({verdict} the 0.90 target)"]
    return "\n".join(lines)


async def profile_on(url: str, jobs: int) -> None:
    """Print the top functions of one drain with events and metrics on."""
    redis = Redis.from_url(url)
    try:
        await drain(url, redis, min(jobs, 2000), True)
        await redis.flushall()
        profiler = cProfile.Profile()
        profiler.enable()
        await drain(url, redis, jobs, True)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    finally:
        await redis.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ops_cost", description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--pickups", type=int, default=200)
    parser.add_argument("--out", type=Path, help="write STEM.json and STEM.md")
    parser.add_argument("--profile", action="store_true", help="profile one drain with both on instead")
    args = parser.parse_args()
    with RedisServer() as server:
        if args.profile:
            await profile_on(server.url, args.jobs)
            return
        load = os.getloadavg()
        result = await measure(server.url, args.jobs, args.rounds, args.pickups)
    text = report(result, args.jobs, args.rounds, args.pickups)
    text += f"\nload average before: {load[0]:.2f}, after: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)"
    print(text)
    if args.out:
        document = {"bench": "ops_cost", "jobs": args.jobs, "rounds": args.rounds, "pickups": args.pickups}
        stem = args.out.with_suffix("")
        stem.with_suffix(".json").write_bytes(
            orjson.dumps({**document, **result}, option=orjson.OPT_INDENT_2) + b"\n"
        )
        stem.with_suffix(".md").write_text(f"# Cost of events and metrics\n\n{text}\n", encoding="utf-8")


if __name__ == "__main__":
    uvloop.run(main())
