"""Producer side of workflows: Celery's classic canvas examples, addressed by task name.

It never imports the task code. Run it while a worker of ``examples.tasks`` runs:

    aqueue worker examples.tasks.WorkerSettings      # registers add, fetch, parse, store, xsum
    python examples/workflows.py                     # uses AQUEUE_REDIS_URL
"""

from __future__ import annotations

import asyncio

import aqueue
from aqueue.workflows import chain, chord, group, si, sig

TIMEOUT = 30


async def main() -> None:
    """Run each example workflow and print its result."""
    async with aqueue.Client() as client:
        # a chain: each step's result is prepended to the next step's arguments
        run = await client.run(sig("fetch", "https://example.com") | sig("parse") | sig("store", "db"))
        print("fetch | parse | store:", await run.result(timeout=TIMEOUT))

        run = await client.run(chain(sig("add", 2, 2), sig("add", 4), sig("add", 8)))
        print("chain(add(2, 2), add(4), add(8)):", await run.result(timeout=TIMEOUT))

        # an immutable signature ignores the previous result
        run = await client.run(sig("add", 2, 2) | si("add", 10, 10))
        print("add(2, 2) | si(add, 10, 10):", await run.result(timeout=TIMEOUT))

        # a group: members run in parallel; the result is the list of their results, in order
        run = await client.run(group(sig("add", i, i) for i in range(10)))
        print("group of adds:", await run.result(timeout=TIMEOUT))

        # a chord: a group, then a callback that receives the list of the group's results
        run = await client.run(chord((sig("add", i, i) for i in range(100)), sig("xsum")))
        print("chord of 100 adds into xsum:", await run.result(timeout=TIMEOUT))

        # map and starmap: one job that calls the task once per item
        run = await client.run(sig("xsum").map([list(range(10)), list(range(100))]))
        print("xsum.map:", await run.result(timeout=TIMEOUT))

        run = await client.run(sig("add").starmap(zip(range(10), range(10), strict=True)))
        print("add.starmap:", await run.result(timeout=TIMEOUT))

        # chunks: a group of starmap jobs of 10 items each
        run = await client.run(sig("add").chunks(zip(range(100), range(100), strict=True), 10))
        chunks = await run.result(timeout=TIMEOUT)
        print(f"add.chunks: {len(chunks)} chunks, first {chunks[0]}, last {chunks[-1]}")

        status = await run.status()
        print(f"run {run.run_id}: {status.state}, nodes {status.counts()}")


if __name__ == "__main__":
    asyncio.run(main())
