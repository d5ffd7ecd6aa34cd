"""The wake-up floor: how fast one bare LPUSH reaches a BLPOP in another process on this machine.

No Lua, no job, no framework: both ends use aqueue's lean connection (``aqueue._redis.wire.Wire``). The pickup
benchmark's latency cannot go below this; the report prints it beside the pickup rows.

Child mode: ``python -m bench.floor URL KEY N`` pops N messages (each a producer timestamp) and prints
one JSON list of latencies in seconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import uvloop

from aqueue._redis.connection import resolve_settings
from aqueue._redis.wire import Wire

KEY = "bench:floor"


async def _pop(url: str, key: str, n: int) -> list[float]:
    wire = Wire(resolve_settings(url))
    try:
        await wire.execute("PING")
        print("ready", flush=True)
        latencies = []
        for _ in range(n):
            reply = await wire.execute("BLPOP", key, 30)
            latencies.append(time.time() - float(reply[1]))
        return latencies
    finally:
        await wire.aclose()


async def measure(url: str, n: int, gap_s: float) -> list[float]:
    """Push ``n`` timestamps ``gap_s`` apart to a child process blocked on BLPOP; return its latencies."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.floor", url, KEY, str(n), stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    wire = Wire(resolve_settings(url))
    try:
        await asyncio.wait_for(child.stdout.readline(), 30)  # "ready"
        await asyncio.sleep(0.5)
        for _ in range(n):
            await wire.execute("LPUSH", KEY, repr(time.time()))
            await asyncio.sleep(gap_s)
        out = await asyncio.wait_for(child.stdout.read(), 30)
        await child.wait()
        return [float(x) for x in json.loads(out)]
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        await wire.aclose()


if __name__ == "__main__":
    latencies = uvloop.run(_pop(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    print(json.dumps(latencies), flush=True)
