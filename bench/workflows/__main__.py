"""``python -m bench.workflows [--quick]``: chord/chain latency and memory, aqueue vs Celery 5.

One embedded redis-server; aqueue uses db 0, Celery db 1 (broker and result backend). See README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import uvloop
from redis.asyncio import Redis

from aqueue.embedded import RedisServer
from bench.workflows import aqueue_side, celery_side, report

OUT_DIR = Path(__file__).resolve().parents[1] / "results"

NOTES = [
    "Timing: from the submit call (aqueue `client.run`, Celery `apply_async`) to the final result returning "
    "in the producer; the canvas objects are built before the clock starts. The producer is this process "
    "(aqueue on uvloop; Celery's client is synchronous, `AsyncResult.get` waits on its Redis pub/sub).",
    "aqueue: one worker child process (`python -m aqueue worker`, uvloop, max_jobs=100).",
    "Celery: one `celery worker` child process per pool configuration, `--without-gossip --without-mingle "
    "--without-heartbeat`, events off, JSON, default prefetch multiplier (4); chord results are joined by "
    "the Redis result backend's counter. 'celery (best pool)' takes, per row, the fastest configuration.",
    "Tasks are no-ops on both sides; a chain step receives the previous result, the chord callback the "
    "list of member results (aqueue `sig`, Celery `.s()`).",
    "The machine's cores are shared by redis-server, the producer and the worker (and Celery's pool "
    "children). The benchmark runs nothing else meanwhile, but other processes may: see the load average.",
]


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.workflows", description=__doc__)
    p.add_argument("--quick", action="store_true", help="3 runs per cell instead of 7")
    p.add_argument("--runs", type=int, help="timed runs per cell (overrides --quick)")
    p.add_argument("--chord-size", type=int, default=1000)
    p.add_argument("--chain-length", type=int, default=100)
    p.add_argument(
        "--celery-pools",
        default="solo,prefork:2",
        help="comma-separated Celery pool configurations (pool[:concurrency])",
    )
    p.add_argument("--no-celery", action="store_true", help="aqueue only")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds any one run may take")
    p.add_argument("--out", type=Path, default=OUT_DIR)
    return p.parse_args()


def machine(redis_version: str, binary: str) -> dict[str, str]:
    versions = ", ".join(f"{n} {metadata.version(n)}" for n in ("aqueue", "arq", "redis", "uvloop", "orjson"))
    return {
        "machine": f"{os.cpu_count()} cores ({_cpu_model()}), Linux {platform.release()}",
        "python": sys.version.split()[0],
        "redis-server": f"{redis_version} ({binary}), TCP loopback, no persistence",
        "libraries": versions,
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


async def flush(url: str) -> str:
    async with Redis.from_url(url) as redis:
        await redis.flushall()
        return str((await redis.info("server"))["redis_version"])


async def run_aqueue(url: str, args: argparse.Namespace) -> dict[str, Any]:
    await flush(url)
    memory = await aqueue_side.node_memory(url, args.chord_size)
    raw = await aqueue_side.latencies(url, args.runs, args.chord_size, args.chain_length, args.timeout)
    await flush(url)
    return {**report.summarise(raw), "memory": memory}


def run_celery(url: str, args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    results, version = {}, ""
    for pool in filter(None, args.celery_pools.split(",")):
        print(f"celery {pool}…", file=sys.stderr)
        uvloop.run(flush(url))
        raw = celery_side.latencies(url, pool, args.runs, args.chord_size, args.chain_length, args.timeout)
        results[pool], version = report.summarise(raw), raw["celery"]
    uvloop.run(flush(url))
    return results, version


def collect(args: argparse.Namespace) -> dict[str, Any]:
    """Run every measurement on one fresh redis-server; return the report's data."""
    load_before = os.getloadavg()
    with RedisServer() as server:
        aqueue_url, celery_url = server.url, server.url.rsplit("/", 1)[0] + "/1"
        redis_version = uvloop.run(flush(aqueue_url))
        print("aqueue…", file=sys.stderr)
        ours = uvloop.run(run_aqueue(aqueue_url, args))
        theirs, version = ({}, "") if args.no_celery else run_celery(celery_url, args)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "runs": args.runs,
        "chord_size": args.chord_size,
        "chain_length": args.chain_length,
        "celery": version,
        "machine": machine(redis_version, server.binary),
        "load": {"before": load_before, "after": os.getloadavg()},
    }
    return {"meta": meta, "aqueue": ours, "celery": theirs}


def main() -> None:
    args = parse()
    args.runs = args.runs or (3 if args.quick else 7)
    data = collect(args)
    text = report.render(data, NOTES)
    print(text)
    md, js = report.write(data, text, args.out)
    print(f"wrote {md} and {js}", file=sys.stderr)


if __name__ == "__main__":
    main()
