"""``python -m bench [--quick] [--only NAMES] [--profile]``: aqueue vs arq on one embedded redis-server."""

from __future__ import annotations

import sys

from bench import snapshot

if __name__ == "__main__":
    snapshot.ensure(sys.argv[1:])  # before anything imports aqueue

import argparse
import logging
import os
import time
from typing import Any

import uvloop
from redis.asyncio import Redis

from aqueue.embedded import RedisServer
from bench import m_calibrate, m_drain, m_enqueue, m_kill, m_pickup, m_result, machine, report
from bench.context import FULL, QUICK, Ctx
from bench.profile import profiles

MEASUREMENTS = ("enqueue", "drain", "pickup", "result", "kill")

NOTES = [
    "Serializers: aqueue uses its default (orjson with type tags); arq uses its default (pickle). "
    "Both keep results (arq default keep_result=3600 s).",
    "Every peer runs on the same redis-server; the server is FLUSHALLed before and after each run, and "
    "the peers use different queues (aqueue `arq:queue:bench`, arq `arq:queue:bench-arq`).",
    "Workers are separate child processes on uvloop (`python -m bench.child`); arq's Worker is built inside "
    "`uvloop.run` so it uses that loop. The producer is this process, also on uvloop.",
    "Drain jobs are pre-enqueued untimed (aqueue `enqueue_many`; arq: the keys `enqueue_job` writes, "
    "pipelined).",
    "The machine's cores are shared by redis-server, the producer and the workers: multi-process rows "
    "measure contention as much as scaling.",
]


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes: a ~1 minute smoke run")
    p.add_argument(
        "--only", default=",".join(MEASUREMENTS), help=f"comma-separated subset of {','.join(MEASUREMENTS)}"
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="also profile aqueue (enqueue loop, a drain) with cProfile; --only '' for just that",
    )
    return p.parse_args()


async def measure(ctx: Ctx, only: set[str]) -> list[report.Row]:
    rows: list[report.Row] = []
    if "enqueue" in only:
        rows += await _step("enqueue", m_enqueue.run(ctx))
    if "drain" in only:
        single_rows, single = await _step("drain (1 process)", m_drain.run_single(ctx))
        rows += single_rows
        rows += await _step("drain (scaling)", m_drain.run_scaling(ctx, single))
    if "pickup" in only:
        rows += await _step("pickup", m_pickup.run(ctx))
    if "result" in only:
        rows += await _step("result", m_result.run(ctx))
    if "kill" in only:
        rows += await _step("kill", m_kill.run(ctx))
    return rows


async def _step(name: str, coro: Any) -> Any:
    t0 = time.monotonic()
    print(f"… {name}", flush=True)
    out = await coro
    print(f"  {name}: {time.monotonic() - t0:.1f} s", flush=True)
    return out


async def main(args: argparse.Namespace) -> None:
    started, t0 = time.strftime("%Y-%m-%d %H:%M:%S"), time.monotonic()
    busy0, own0 = machine.machine_busy_s(), machine.own_cpu_s()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    with RedisServer() as server:
        redis = Redis.from_url(server.url)
        try:
            ctx = Ctx(server.url, redis, QUICK if args.quick else FULL)
            meta = {
                "mode": "quick" if args.quick else "full" if only >= set(MEASUREMENTS) else "partial",
                "started": started,
                **await machine.info(redis, server.binary),
                "aqueue code": snapshot.describe(),
                "loadavg at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            }
            print("\n".join(f"{k}: {v}" for k, v in meta.items()), flush=True)
            meta["calibration"] = await _step("calibration", m_calibrate.run(ctx))
            rows = await measure(ctx, only)
            if args.profile:
                print(await _step("profile", profiles(ctx)), flush=True)
        finally:
            await redis.aclose()
    if not rows:
        return
    wall = time.monotonic() - t0
    meta["runtime"] = f"{wall:.0f} s"
    meta["load during the run"] = machine.foreign_load(busy0, own0, wall)
    text, paths = report.write(meta, rows, NOTES)
    print("\n" + text)
    print("written: " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    uvloop.run(main(parse()))
