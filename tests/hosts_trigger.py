"""The trigger host of ``test_many_hosts.py``: enqueues by name, waits for results; no task code.

``python tests/hosts_trigger.py COMMAND ARGS…`` with the broker in ``AQUEUE_REDIS_URL``; prints one
JSON document. Commands: ``ping`` (wait until the broker answers), ``enqueue START COUNT``, ``wait
START END TIMEOUT`` (every job's host, in order; a wrong result fails), ``until HOST START TIMEOUT``
(enqueue batches of 10 until HOST runs one; the next free number and the time it took).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

import aqueue


def job_id(i: int) -> str:
    return f"h-{i}"


async def ping(client: aqueue.Client) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        try:
            return {"pong": bool(await client.redis.ping())}
        except aqueue.RedisFailure:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def enqueue(client: aqueue.Client, start: int, count: int) -> dict[str, Any]:
    for i in range(start, start + count):
        await client.enqueue("where", i, _job_id=job_id(i))
    return {"enqueued": count}


async def wait(client: aqueue.Client, start: int, end: int, timeout: float) -> dict[str, Any]:
    began = time.monotonic()
    numbers = range(start, end)
    results = await asyncio.gather(*(client.job(job_id(i)).result(timeout=timeout) for i in numbers))
    wrong = [r for i, r in zip(numbers, results, strict=True) if r["i"] != i]
    if wrong:
        raise SystemExit(f"wrong results: {wrong[:5]}")
    return {"hosts": [r["host"] for r in results], "elapsed": time.monotonic() - began}


async def until(client: aqueue.Client, host: str, start: int, timeout: float) -> dict[str, Any]:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        await enqueue(client, start, 10)
        hosts = (await wait(client, start, start + 10, timeout))["hosts"]
        start += 10
        if host in hosts:
            return {"next": start, "elapsed": time.monotonic() - began}
        await asyncio.sleep(0.2)
    raise SystemExit(f"{host} ran none of the jobs enqueued in {timeout} s")


async def main(command: str, *args: str) -> None:
    async with aqueue.Client(os.environ["AQUEUE_REDIS_URL"]) as client:
        if command == "ping":
            out = await ping(client)
        elif command == "enqueue":
            out = await enqueue(client, int(args[0]), int(args[1]))
        elif command == "wait":
            out = await wait(client, int(args[0]), int(args[1]), float(args[2]))
        elif command == "until":
            out = await until(client, args[0], int(args[1]), float(args[2]))
        else:
            raise SystemExit(f"unknown command {command!r}")
    leaked = sorted(m for m in sys.modules if "hosts_tasks" in m)
    print(json.dumps({**out, "task_modules": leaked}))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
