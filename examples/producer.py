"""Producer side: enqueue by name and wait for results. It never imports the task code.

Run it while a worker runs:  python examples/producer.py   (uses AQUEUE_REDIS_URL)
"""

from __future__ import annotations

import asyncio

import aqueue


async def main() -> None:
    """Enqueue a few jobs by name and print their results."""
    async with aqueue.Client() as client:
        sums = await client.enqueue_many("add", [(i, i * 10) for i in range(5)])
        print("add:", [await job.result(timeout=10) for job in sums if job])

        job = await client.enqueue("images.resize", 42, width=320)
        assert job is not None
        print("images.resize:", await job.result(timeout=10))

        job = await client.enqueue("checksum", b"hello world")
        assert job is not None
        print("checksum (a plain def, run in a thread):", await job.result(timeout=10))

        job = await client.enqueue("no.such.task", 1)
        assert job is not None
        try:
            await job.result(timeout=10)
        except aqueue.UnknownTaskError as e:
            print("unknown task fails clearly:", e)

        job = await client.enqueue("add", 1, 2, _defer_by=0.5)
        assert job is not None
        print("deferred job status:", (await job.status()).value, "->", await job.result(timeout=10))


if __name__ == "__main__":
    asyncio.run(main())
