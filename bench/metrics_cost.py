"""What Prometheus metrics cost a worker: drains with the metrics extension on and off, alternated in one run.

``python -m bench.metrics_cost [N] [ROUNDS]``: one embedded redis-server; per round, N no-op jobs are
pre-enqueued and drained by an in-process burst worker (max_jobs=100) with and without
``PrometheusMetrics``, in alternating order; reports the worker's process CPU per job (``time.process_time``
around the drain) for each side, every round, and the median ratio. No assertion: a measurement.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import uvloop
from prometheus_client import CollectorRegistry

from aqueue import Client, Worker, task
from aqueue.contrib.prometheus import PrometheusMetrics
from aqueue.embedded import RedisServer


@task
async def noop(ctx: dict[str, Any]) -> None:
    return None


async def drain(url: str, n: int, metrics: bool) -> float:
    async with Client(url) as client:
        await client.enqueue_many("noop", [() for _ in range(n)])
    extensions = [PrometheusMetrics(CollectorRegistry())] if metrics else []
    worker = Worker(
        [noop], redis_settings=url, burst=True, handle_signals=False, max_jobs=100, extensions=extensions
    )
    started = time.process_time()
    await worker.async_run()
    cpu = time.process_time() - started
    await worker.close()
    return cpu / n * 1e6


async def main(url: str, n: int, rounds: int) -> None:
    results: dict[bool, list[float]] = {False: [], True: []}
    for i in range(rounds):
        for metrics in (False, True) if i % 2 == 0 else (True, False):
            results[metrics].append(await drain(url, n, metrics))
    off, on = statistics.median(results[False]), statistics.median(results[True])
    print(f"worker CPU per drained job, N={n}, {rounds} rounds (alternating order)")
    print(f"  metrics off: median {off:.1f} us/job; rounds {[round(x, 1) for x in results[False]]}")
    print(f"  metrics on:  median {on:.1f} us/job; rounds {[round(x, 1) for x in results[True]]}")
    print(f"  on/off: {on / off:.2f}x")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    with RedisServer() as server:
        uvloop.run(main(server.url, count, rounds))
