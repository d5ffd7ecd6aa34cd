"""``python -m bench [--quick] [--only NAMES] [--profile] [--ab REF]``: aqueue vs arq on one embedded
redis-server; with ``--ab REF``, the working tree's aqueue against aqueue at git ref REF instead."""

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
from bench import ab, m_calibrate, m_drain, m_enqueue, m_kill, m_pickup, m_result, machine, report
from bench.context import FULL, QUICK, Ctx, Sizes
from bench.profile import profiles
from bench.ref import checkout

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
        "--only",
        default=None,
        help=f"comma-separated subset of {','.join(MEASUREMENTS)} (with --ab: of {','.join(ab.STEPS)})",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="also profile aqueue (enqueue loop, a drain) with cProfile; --only '' for just that",
    )
    p.add_argument(
        "--ab",
        metavar="REF",
        default=None,
        help="A/B: the working tree's aqueue against aqueue at git ref REF (a branch, tag, HEAD~1, commit), "
        "interleaved in one run; writes bench/results/latest-ab[-quick].{md,json}",
    )
    p.add_argument(
        "--rounds", type=int, default=None, help="A/B rounds (default 5, 3 with --quick); each runs A and B"
    )
    args = p.parse_args()
    allowed = ab.STEPS if args.ab else MEASUREMENTS
    args.only = allowed if args.only is None else tuple(n.strip() for n in args.only.split(",") if n.strip())
    unknown = sorted(set(args.only) - set(allowed))
    if unknown:
        p.error(f"--only: unknown {', '.join(unknown)}; choose from {','.join(allowed)}")
    if args.ab and args.profile:
        p.error("--profile does not combine with --ab")
    if args.rounds is None:
        args.rounds = 3 if args.quick else 5
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    return args


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
    if args.ab:
        await main_ab(args)
        return
    started, t0 = time.strftime("%Y-%m-%d %H:%M:%S"), time.monotonic()
    busy0, own0 = machine.machine_busy_s(), machine.own_cpu_s()
    only = set(args.only)
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


def describe_sizes(sizes: Sizes, steps: tuple[str, ...]) -> str:
    parts = {
        "drain": f"drain N={sizes.drain:,}",
        "pickup": f"pickup N={sizes.pickup} {sizes.pickup_gap_s * 1000:g} ms apart",
        "enqueue": f"enqueue one at a time N={sizes.enqueue_one:,}, batch N={sizes.enqueue_batch:,}",
    }
    return "; ".join(parts[s] for s in steps)


async def main_ab(args: argparse.Namespace) -> None:
    """Run the A/B comparison (``bench.ab``) and write ``latest-ab[-quick]``."""
    started, t0 = time.strftime("%Y-%m-%d %H:%M:%S"), time.monotonic()
    busy0, own0 = machine.machine_busy_s(), machine.own_cpu_s()
    try:
        pair = ab.sides(checkout(args.ab))
    except ValueError as exc:
        raise SystemExit(f"python -m bench --ab {args.ab}: {exc}") from None
    sizes = QUICK if args.quick else FULL
    with RedisServer() as server:
        redis = Redis.from_url(server.url)
        try:
            ctx = Ctx(server.url, redis, sizes)
            meta = {
                "mode": "ab-quick" if args.quick else "ab",
                "started": started,
                **await machine.info(redis, server.binary),
                "A": pair[0].origin,
                "B": pair[1].origin,
                "rounds": f"{args.rounds} (orders AB, BA, AB, …); plain arq drained once per round",
                "sizes": describe_sizes(sizes, args.only),
                "loadavg at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            }
            print("\n".join(f"{k}: {v}" for k, v in meta.items()), flush=True)
            values = await _step("A/B rounds", ab.run(ctx, pair, args.only, args.rounds, arq=True))
        finally:
            await redis.aclose()
    wall = time.monotonic() - t0
    meta["children imported"] = "; ".join(f"{k}: {', '.join(v)}" for k, v in ab.children_seen(pair).items())
    meta["runtime"] = f"{wall:.0f} s"
    meta["load during the run"] = machine.foreign_load(busy0, own0, wall)
    rows, arq_rows = ab.summarize(values), ab.versus_arq(values)
    text = ab.markdown(meta, rows, arq_rows, pair)
    data = {"meta": meta, "notes": ab.NOTES, "rounds": values, "rows": rows, "redis_vs_arq": arq_rows}
    paths = report.save(meta["mode"], text, data)
    print("\n" + text)
    print("written: " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    uvloop.run(main(parse()))
