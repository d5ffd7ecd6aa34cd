"""producer.py: enqueue by name and wait for the results. It never imports tasks.py."""

import asyncio

import aqueue


async def main() -> None:
    job = await aqueue.enqueue("add", 1, 2)  # the default client: AQUEUE_REDIS_URL
    print("add(1, 2) =", await job.result(timeout=10))

    async with aqueue.Client() as client:  # or Client("redis://host:6379/0")
        job = await client.enqueue("images.thumbnail", 7, width=64)
        print(await job.result(timeout=10))
        print("status:", (await job.status()).value)

    await aqueue.close_default_client()


if __name__ == "__main__":
    asyncio.run(main())
