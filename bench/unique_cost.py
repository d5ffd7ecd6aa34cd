"""What a unique key costs an enqueue: ``_unique`` (a new key, a held one) and ``_debounce`` beside plain.

``python -m bench.unique_cost [N] [ROUNDS]``: one embedded redis-server; per round and kind, N enqueues
awaited one at a time on one client (after 200 warm-up calls), the server FLUSHALLed before each; the
kinds run in a rotated order each round. Reports per kind the median over rounds of wall µs/enqueue,
producer CPU µs/enqueue (``time.process_time``) and Redis CPU µs/enqueue (``INFO cpu``), and each one's
ratio to plain. Kinds: ``plain``; ``unique new`` (a fresh key each time: a new job takes it);
``unique held`` (one key: every enqueue after the first is deduplicated); ``debounce`` (one key: every
enqueue after the first replaces the waiting job's payload and run time). No worker runs: the cost is
the producer's and Redis's. Writes ``bench/results/unique.md``. No assertion: a measurement.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

from aqueue import Client
from aqueue.embedded import RedisServer
from bench.redis_cpu import redis_cpu_s

RESULTS = Path(__file__).parent / "results" / "unique.md"
WARM_UP = 200

Kind = Callable[[Client, int], Any]
KINDS: dict[str, Kind] = {
    "plain": lambda c, n: c.enqueue("noop", n),
    "unique new": lambda c, n: c.enqueue("noop", n, _unique=f"key-{n}"),
    "unique held": lambda c, n: c.enqueue("noop", n, _unique="one"),
    "debounce": lambda c, n: c.enqueue("noop", n, _unique="one", _debounce=60),
}


async def measure(client: Client, kind: Kind, n: int) -> tuple[float, float, float]:
    """Return wall, producer CPU and Redis CPU, µs per enqueue, for N enqueues of ``kind``."""
    await client.redis.flushall()
    for i in range(WARM_UP):
        await kind(client, -1 - i)
    redis_before, cpu_before, wall_before = (
        await redis_cpu_s(client.redis),
        time.process_time(),
        time.perf_counter(),
    )
    for i in range(n):
        await kind(client, i)
    wall, cpu = time.perf_counter() - wall_before, time.process_time() - cpu_before
    redis = await redis_cpu_s(client.redis) - redis_before
    return wall / n * 1e6, cpu / n * 1e6, redis / n * 1e6


async def main(url: str, n: int, rounds: int) -> str:
    names = list(KINDS)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in names}
    async with Client(url) as client:
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                results[name].append(await measure(client, KINDS[name], n))
    medians = {name: [statistics.median(row[i] for row in results[name]) for i in range(3)] for name in names}
    base = medians["plain"]
    lines = [
        f"Enqueue one at a time, N={n}, {rounds} rounds (median; ratio to plain)",
        "",
        "| kind | wall µs/enqueue | producer CPU µs | Redis CPU µs |",
        "|---|---|---|---|",
    ]
    for name in names:
        cells = [f"{v:.1f} ({v / b:.2f}x)" for v, b in zip(medians[name], base, strict=True)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with RedisServer() as server:
        table = uvloop.run(main(server.url, count, rounds))
    print(table, end="")
    RESULTS.write_text(table, encoding="utf-8")
