"""A producer process for the dedup race: ``python -m tests.unique_producer START_AT KEY``.

At wall-clock time START_AT it enqueues 40 jobs under unique key KEY at once, from 4 clients (each its
own connection), and prints one JSON line per job: [job_id, deduplicated].
"""

from __future__ import annotations

import asyncio
import sys
import time

import orjson

from aqueue import Client


async def main(start_at: float, key: str) -> None:
    clients = [await Client().connect() for _ in range(4)]
    await asyncio.sleep(max(0.0, start_at - time.time()))
    jobs = await asyncio.gather(*(c.enqueue("record", n, _unique=key) for n in range(10) for c in clients))
    for c in clients:
        await c.aclose()
    for job in jobs:
        print(orjson.dumps([job.job_id, job.deduplicated]).decode())


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]), sys.argv[2]))
