"""What priorities cost a drain: a backlog of priority-0 jobs against one of mixed priorities 0-9.

``python -m bench.priority_cost [N] [ROUNDS]``: one embedded redis-server; per round, N no-op jobs
are pre-enqueued (untimed, ``enqueue_many`` in batches of one priority each) and drained by a burst
worker process (``python -m bench.child``, max_jobs=100), once all at priority 0 and once spread
evenly over priorities 0-9, in alternating order. Reports jobs/s (``go`` to the last result recorded)
and Redis CPU per job (``INFO cpu``) for each, the median of the rounds and their ratio, and writes
``bench/results/priorities.{md,json}``. Issue 13 point 8: mixed ≥ 0.85 × plain drain.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import uvloop
from redis.asyncio import Redis

from aqueue import Client
from aqueue.embedded import RedisServer
from bench.peers import AQUEUE
from bench.procs import workers
from bench.redis_cpu import redis_cpu_s

RESULTS = Path(__file__).parent / "results"
TARGET = 0.85


async def prefill(url: str, n: int, mixed: bool) -> None:
    """Enqueue ``n`` no-ops on the bench queue: all priority 0, or in ten equal batches 0-9."""
    async with Client(url, queue_name=AQUEUE.queue_name) as client:
        levels = range(10) if mixed else [0]
        share = n // len(levels)
        for level in levels:
            await client.enqueue_many("noop", [() for _ in range(share)], _priority=level)


async def drain(url: str, meter: Redis, n: int, mixed: bool) -> tuple[float, float]:
    """Return (jobs/s, Redis CPU µs per job) of one drain: ``go`` to the burst worker's report."""
    await meter.flushall()
    await prefill(url, n, mixed)
    async with workers(AQUEUE, url, 1, burst=True) as children:
        redis0, t_go = await redis_cpu_s(meter), time.time()
        await asyncio.gather(*(c.go() for c in children))
        reports = await asyncio.gather(*(c.expect("done", 120) for c in children))
        t_done = time.time()
        redis_s = await redis_cpu_s(meter) - redis0
    await meter.flushall()
    if sum(r["jobs"] for r in reports) != n:
        raise RuntimeError(f"the drain ran {sum(r['jobs'] for r in reports)} of {n} jobs")
    return n / (t_done - t_go), redis_s / n * 1e6


async def main(url: str, n: int, rounds: int) -> dict[str, object]:
    meter = Redis.from_url(url)
    runs: dict[str, list[tuple[float, float]]] = {"plain": [], "mixed": []}
    try:
        for i in range(rounds):
            for mixed in (False, True) if i % 2 == 0 else (True, False):
                runs["mixed" if mixed else "plain"].append(await drain(url, meter, n, mixed))
    finally:
        await meter.aclose()
    rate = {k: statistics.median(r for r, _ in v) for k, v in runs.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
    return {
        "n": n,
        "rounds": rounds,
        "runs": runs,
        "rate": rate,
        "redis_us": cpu,
        "ratio": rate["mixed"] / rate["plain"],
        "target": TARGET,
    }


def report(result: dict[str, object]) -> str:
    """Return the markdown report of ``main``'s result."""
    rate, cpu = result["rate"], result["redis_us"]
    assert isinstance(rate, dict) and isinstance(cpu, dict)
    ratio = float(result["ratio"])  # type: ignore[arg-type]
    verdict = "meets" if ratio >= TARGET else "misses"
    return "\n".join(
        [
            f"# Drain cost of priorities (N={result['n']:,}, {result['rounds']} rounds, medians)",
            "",
            "| backlog | jobs/s | Redis CPU µs/job |",
            "|---|---|---|",
            f"| all priority 0 | {rate['plain']:,.0f} | {cpu['plain']:.1f} |",
            f"| priorities 0-9 mixed | {rate['mixed']:,.0f} | {cpu['mixed']:.1f} |",
            "",
            f"mixed / plain drain rate: {ratio:.2f} ({verdict} the issue 13 target ≥ {TARGET:g}).",
            "One burst worker process (max_jobs=100), jobs pre-enqueued untimed; rounds alternate the order.",
        ]
    )


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with RedisServer() as server:
        outcome = uvloop.run(main(server.url, count, rounds))
    text = report(outcome)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "priorities.md").write_text(text + "\n")
    (RESULTS / "priorities.json").write_text(json.dumps(outcome, indent=1) + "\n")
