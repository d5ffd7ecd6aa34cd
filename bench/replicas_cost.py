"""What a worker's ``min_replicas=1`` costs: a drain with outcomes waited for against one without.

``python -m bench.replicas_cost [--jobs N] [--rounds R]``: a primary and one replica (embedded
redis-servers on loopback); per round and side (alternating which goes first) N no-op jobs are
pre-enqueued and drained by an in-process burst worker (max_jobs=100), with ``min_replicas=0`` or
``1``. Reported: drain jobs/s (median and per round), the 1/0 ratio per round and its median, and
how many outcome batches the replica did not confirm in time. A full run (the defaults) writes
``bench/results/replicas-cost.md``. No assertion: a measurement.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any, cast

import redis as sync_redis
import uvloop

from aqueue import Client, Worker, task
from aqueue.embedded import RedisServer

RESULTS = Path(__file__).with_name("results") / "replicas-cost.md"


@task
async def noop(ctx: dict[str, Any]) -> None:
    return None


async def drain(url: str, n: int, replicas: int) -> tuple[float, int]:
    """Drain ``n`` pre-enqueued no-ops; return jobs/s and the unconfirmed outcome writes."""
    async with Client(url) as client:
        await client.enqueue_many(noop, [() for _ in range(n)])
    worker = Worker([noop], redis_settings=url, burst=True, max_jobs=100, handle_signals=False,
                    min_replicas=replicas, replication_timeout_s=1.0)  # fmt: skip
    started = time.perf_counter()
    await worker.async_run()
    elapsed = time.perf_counter() - started
    short = worker.scripts.replication.short if worker.scripts and worker.scripts.replication else 0
    await worker.close()
    return n / elapsed, short


def sync_replica(primary: RedisServer, replica: RedisServer) -> None:
    """Make ``replica`` a replica of ``primary`` and wait until it is in sync."""
    r = sync_redis.Redis(port=replica.port)
    r.replicaof("127.0.0.1", primary.port)
    deadline = time.monotonic() + 30
    while cast(dict[str, Any], r.info("replication")).get("master_link_status") != "up":
        if time.monotonic() > deadline:
            raise SystemExit("the replica did not sync within 30 s")
        time.sleep(0.05)


async def run(url: str, flush: sync_redis.Redis, n: int, rounds: int) -> list[str]:
    rates: dict[int, list[float]] = {0: [], 1: []}
    shorts = 0
    for i in range(rounds):
        for replicas in (0, 1) if i % 2 == 0 else (1, 0):
            rate, short = await drain(url, n, replicas)
            rates[replicas].append(rate)
            shorts += short
            flush.flushall()
    ratios = [b / a for a, b in zip(rates[0], rates[1], strict=True)]
    lines = ["| worker | drain jobs/s (median) | rounds |", "|---|---|---|"]
    for replicas in (0, 1):
        each = ", ".join(f"{x:,.0f}" for x in rates[replicas])
        lines.append(f"| min_replicas={replicas} | {statistics.median(rates[replicas]):,.0f} | {each} |")
    each_ratio = ", ".join(f"{x:.2f}" for x in ratios)
    lines += [
        "",
        f"min_replicas=1 ÷ 0 per round: {each_ratio}; median {statistics.median(ratios):.2f}",
        f"outcome writes not confirmed in 1 s: {shorts}",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas_cost", description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=6)
    options = parser.parse_args()
    with open("/proc/loadavg") as f:
        before = " ".join(f.read().split()[:3])
    with RedisServer() as primary, RedisServer() as replica:
        sync_replica(primary, replica)
        flush = sync_redis.Redis(port=primary.port)
        lines = uvloop.run(run(primary.url, flush, options.jobs, options.rounds))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = "\n".join([
        f"# A worker's min_replicas=1 against 0 ({when}, `python -m bench.replicas_cost`)", "",
        f"One primary and one replica (embedded redis-servers, loopback); {options.jobs:,} no-op jobs per "
        f"drain, an in-process burst worker (max_jobs=100), {options.rounds} rounds alternated. Load "
        f"average before: {before} (2 cores).", "", *lines, "",
    ])  # fmt: skip
    print(text)
    if (options.jobs, options.rounds) == (10_000, 6):
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
