"""``python -m bench.depth``: Redis memory per queued job, and how enqueue and drain rates move with depth.

Two embedded ``redis-server``s (no persistence): one is filled with ``--jobs`` no-op jobs (1,000,000 by
default), reading ``INFO memory`` before and after (bytes per queued job: the job key, its queue
entry, Redis's overhead); the other keeps an (almost) empty queue. Then, ``--rounds`` times, each
server in turn (alternating which goes first, so drift on a shared machine hits both alike): enqueue
one at a time and in batches (``enqueue_many``), then drain ``--sample`` jobs with one in-process
burst worker (``max_burst_jobs``). Each figure is the median over the rounds. Results go to
``bench/results/depth.{md,json}`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from aqueue import Client, Worker, _loop
from aqueue.embedded import RedisServer

OUT_DIR = Path(__file__).resolve().parent / "results"
FILL_BATCH = 1000


async def noop(ctx: dict[str, Any]) -> None:
    return None


@dataclass
class Rates:
    """Enqueue and drain rates at one queue depth."""

    depth: int
    enqueue_one_per_s: float
    enqueue_batch_per_s: float
    drain_per_s: float
    drain_worker_cpu_us: float
    drain_redis_cpu_us: float


@dataclass
class Memory:
    """What ``jobs`` queued no-op jobs cost in Redis."""

    jobs: int
    used_memory_before: int
    used_memory_after: int
    bytes_per_job: float
    job_key_bytes: int
    payload_bytes: int
    queue_zset_bytes: int
    fill_s: float


async def info(redis: Redis, section: str) -> dict[str, Any]:
    return dict(await redis.info(section))


async def redis_cpu(redis: Redis) -> float:
    cpu = await info(redis, "cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


async def enqueue_one(client: Client, n: int) -> float:
    began = time.perf_counter()
    for _ in range(n):
        await client.enqueue("noop")
    return n / (time.perf_counter() - began)


async def enqueue_batch(client: Client, n: int, batch: int = 500) -> float:
    began = time.perf_counter()
    for start in range(0, n, batch):
        await client.enqueue_many("noop", [() for _ in range(min(batch, n - start))])
    return n / (time.perf_counter() - began)


async def drain(url: str, redis: Redis, n: int) -> tuple[float, float, float]:
    """Run one burst worker (max_jobs=100) until it has run ``n`` jobs; return rate, worker µs, Redis µs."""
    worker = Worker(
        [noop], redis_settings=url, burst=True, max_burst_jobs=n, max_jobs=100, handle_signals=False
    )
    cpu0, redis0 = resource.getrusage(resource.RUSAGE_SELF), await redis_cpu(redis)
    began = time.perf_counter()
    try:
        await worker.async_run()
    finally:
        await worker.close()
    wall = time.perf_counter() - began
    cpu1, redis1 = resource.getrusage(resource.RUSAGE_SELF), await redis_cpu(redis)
    ran = worker.jobs_complete
    if ran != n:
        raise RuntimeError(f"the drain ran {ran} jobs, not {n}")
    worker_s = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    return n / wall, worker_s / n * 1e6, (redis1 - redis0) / n * 1e6


@dataclass
class Side:
    """One server under measurement: its URL, a meter connection, a producer, and each round's numbers."""

    url: str
    redis: Redis
    client: Client
    depth: int
    runs: list[tuple[float, ...]] = field(default_factory=list)

    async def round(self, sample: int) -> None:
        """Enqueue ``sample // 4`` jobs one at a time and ``sample`` in batches, then drain ``sample``.

        The drain takes the oldest jobs first: on a backlog, backlog jobs, so its depth stays put.
        """
        one = await enqueue_one(self.client, sample // 4)
        batch = await enqueue_batch(self.client, sample)
        self.runs.append((one, batch, *await drain(self.url, self.redis, sample)))

    def rates(self) -> Rates:
        """Return the medians over the rounds."""
        one, batch, rate, worker_us, redis_us = (statistics.median(c) for c in zip(*self.runs, strict=True))
        return Rates(self.depth, one, batch, rate, worker_us, redis_us)


async def fill(client: Client, redis: Redis, jobs: int) -> Memory:
    """Enqueue ``jobs`` no-ops on an empty server; return what they take in memory."""
    await redis.flushall()
    before = int((await info(redis, "memory"))["used_memory"])
    began = time.perf_counter()
    for start in range(0, jobs, FILL_BATCH):
        await client.enqueue_many("noop", [() for _ in range(min(FILL_BATCH, jobs - start))])
    fill_s = time.perf_counter() - began
    after = int((await info(redis, "memory"))["used_memory"])
    queue = client.queue_key()
    [(job_id, _)] = await redis.zrange(queue, 0, 0, withscores=True)
    job_key = f"arq:job:{job_id.decode()}"
    return Memory(
        jobs=jobs,
        used_memory_before=before,
        used_memory_after=after,
        bytes_per_job=(after - before) / jobs,
        job_key_bytes=int(await redis.memory_usage(job_key) or 0),
        payload_bytes=len(await redis.get(job_key) or b""),
        queue_zset_bytes=int(await redis.memory_usage(queue, samples=0) or 0),
        fill_s=fill_s,
    )


def table(
    memory: Memory,
    empty: Rates,
    deep: Rates,
    redis_version: str,
    rounds: int,
    sample: int,
    load: tuple[float, float],
) -> str:
    per_zset = memory.queue_zset_bytes / memory.jobs
    used = memory.used_memory_after - memory.used_memory_before
    rows = [
        ("enqueue, one at a time (jobs/s)", empty.enqueue_one_per_s, deep.enqueue_one_per_s),
        ("enqueue, enqueue_many of 500 (jobs/s)", empty.enqueue_batch_per_s, deep.enqueue_batch_per_s),
        ("drain, 1 worker, max_jobs=100 (jobs/s)", empty.drain_per_s, deep.drain_per_s),
        ("drain: worker CPU per job (µs)", empty.drain_worker_cpu_us, deep.drain_worker_cpu_us),
        ("drain: Redis CPU per job (µs)", empty.drain_redis_cpu_us, deep.drain_redis_cpu_us),
    ]
    lines = [
        "# Queue depth: memory per queued job, and rates with a backlog",
        "",
        f"redis-server {redis_version}, {platform.machine()}, {os.cpu_count()} cores, load average "
        f"{load[0]:.2f} at the start and {load[1]:.2f} at the end; `python -m bench.depth`.",
        "",
        f"**Memory**: {memory.jobs:,} queued no-op jobs take {used:,} bytes (`INFO memory` used_memory, "
        f"after − before): **{memory.bytes_per_job:.0f} bytes per job**. "
        f"Of that, a job key is {memory.job_key_bytes} bytes (`MEMORY USAGE`, a {memory.payload_bytes}-byte "
        f"payload) and its queue entry about {per_zset:.0f} bytes (the zset, {memory.queue_zset_bytes:,} "
        f"bytes). Filling took {memory.fill_s:.1f} s ({memory.jobs / memory.fill_s:,.0f} jobs/s, "
        f"`enqueue_many` of {FILL_BATCH}). Arguments and results add their encoded size on top.",
        "",
        f"| | empty queue | {deep.depth:,} queued | backlog ÷ empty |",
        "|---|---:|---:|---:|",
    ]
    for name, a, b in rows:
        lines.append(f"| {name} | {a:,.1f} | {b:,.1f} | {b / a:.2f}× |")
    lines += [
        "",
        f"Each rate is the median of {rounds} rounds; every round enqueues {sample // 4:,} jobs one at a "
        f"time and {sample:,} in batches, then drains {sample:,}, so the depth stays about the same; the "
        "two servers (empty queue, backlog) take turns within each round. "
        "Enqueue rates: the producer is this process (uvloop). Drain: one in-process burst worker "
        f"(`max_burst_jobs`), timed from start to exit, over the oldest jobs of the queue; worker CPU is "
        "this process's `getrusage`, Redis CPU the server's `INFO cpu` delta, both per job.",
    ]
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> dict[str, Any]:
    load_start = os.getloadavg()[0]
    async with contextlib.AsyncExitStack() as stack:
        sides = [await stack.enter_async_context(side(0)), await stack.enter_async_context(side(args.jobs))]
        empty, deep = sides
        version = str((await info(deep.redis, "server"))["redis_version"])
        memory = await fill(deep.client, deep.redis, args.jobs)
        for n in range(args.rounds):  # the sides alternate, so drift on the machine hits both alike
            for one in sides if n % 2 == 0 else reversed(sides):
                await one.round(args.sample)
        empty_rates, deep_rates = empty.rates(), deep.rates()
    load = (load_start, os.getloadavg()[0])
    report = table(memory, empty_rates, deep_rates, version, args.rounds, args.sample, load)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "depth.md").write_text(report)
    data = {
        "rounds": args.rounds,
        "sample": args.sample,
        "redis": version,
        "memory": asdict(memory),
        "empty": asdict(empty_rates),
        "backlog": asdict(deep_rates),
    }
    (args.out / "depth.json").write_text(json.dumps(data, indent=2) + "\n")
    print(report)
    return data


@contextlib.asynccontextmanager
async def side(depth: int) -> AsyncIterator[Side]:
    """Start a redis-server of its own for the side measured at ``depth``."""
    with RedisServer() as server:
        redis = Redis.from_url(server.url)
        try:
            async with Client(server.url) as client:
                yield Side(server.url, redis, client, depth)
        finally:
            await redis.aclose()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.depth", description=__doc__)
    p.add_argument("--jobs", type=int, default=1_000_000, help="the backlog (default 1,000,000)")
    p.add_argument("--sample", type=int, default=20_000, help="jobs per rate measurement (default 20,000)")
    p.add_argument("--rounds", type=int, default=5, help="each rate is the median of this many (default 5)")
    p.add_argument("--out", type=Path, default=OUT_DIR, help="where depth.md and depth.json go")
    return p.parse_args(argv)


if __name__ == "__main__":
    _loop.run(main(parse()))
