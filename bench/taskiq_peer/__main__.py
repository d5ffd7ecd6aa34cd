"""``python -m bench.taskiq_peer --url URL --n N --gap S``: taskiq's pickup latency on an idle worker.

Starts one ``taskiq worker`` process, warms it up, enqueues N jobs S seconds apart (each carries the
producer's clock reading just before ``kiq``), and prints one JSON object on stdout: the latencies in
seconds, the versions, and the worker's event loop. Run it with the taskiq venv.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from importlib.metadata import version
from typing import Any

import uvloop

from bench.peer_venv import ROOT
from bench.stop import run_peer


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.taskiq_peer")
    p.add_argument("--url", required=True, help="Redis URL of the broker")
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--gap", type=float, default=0.02, help="seconds between jobs")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the jobs to run")
    return p.parse_args()


def start_worker(log: Any) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "taskiq", "worker", "bench.taskiq_peer.app:broker", "--workers", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


async def wait_count(redis: Any, key: str, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while await redis.llen(key) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {await redis.llen(key)} of {n} taskiq jobs ran within {timeout:g} s")
        await asyncio.sleep(0.05)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    from bench.taskiq_peer import app

    await app.broker.startup()
    redis = app.aredis.Redis.from_url(args.url)
    try:
        await redis.delete(app.LATENCIES_KEY, app.LOOP_KEY)
        for _ in range(5):  # warm-up: also waits until the worker consumes
            await app.pickup.kiq(time.time())
        await wait_count(redis, app.LATENCIES_KEY, 5, 60)
        await redis.delete(app.LATENCIES_KEY)
        await asyncio.sleep(0.5)
        start = time.monotonic()
        for i in range(args.n):
            await app.pickup.kiq(time.time())
            await asyncio.sleep(max(0.0, start + (i + 1) * args.gap - time.monotonic()))
        await wait_count(redis, app.LATENCIES_KEY, args.n, args.timeout)
        latencies = [float(x) for x in await redis.lrange(app.LATENCIES_KEY, 0, -1)]
        loop = await redis.get(app.LOOP_KEY)
        await redis.delete(app.LATENCIES_KEY, app.LOOP_KEY)
    finally:
        await redis.aclose()
        await app.broker.shutdown()
    return {
        "taskiq": version("taskiq"),
        "taskiq_redis": version("taskiq-redis"),
        "worker_loop": loop.decode() if loop else "?",
        "latencies_s": latencies,
    }


def main() -> None:
    args = parse()
    os.environ["BENCH_TASKIQ_URL"] = args.url  # before bench.taskiq_peer.app is first imported
    run_peer("taskiq", start_worker, lambda: uvloop.run(measure(args)))


if __name__ == "__main__":
    main()
