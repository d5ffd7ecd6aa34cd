"""4. Result-wait latency: enqueue, then ``await job.result()``, one job at a time, on an idle worker."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from bench.context import Ctx
from bench.peers import ARQ10, PEERS, Peer
from bench.procs import workers
from bench.producers import producer
from bench.report import Row
from bench.stats import summary_ms


@dataclass
class Waits:
    after_completion: list[float]  # task end (its own clock reading) → result() returned
    round_trip: list[float]  # before enqueue → result() returned


async def _one(prod: Any, result_poll: float | None) -> tuple[float, float]:
    t0 = time.time()
    job = await prod.enqueue("stamp")
    if result_poll is None:
        finished_at = await prod.result(job, timeout=10)
    else:
        finished_at = await job.result(timeout=10, poll_delay=result_poll)
    t1 = time.time()
    return t1 - finished_at, t1 - t0


async def waits(ctx: Ctx, peer: Peer, result_poll: float | None = None) -> Waits:
    """Up to N sequential waits within the time budget; ``result_poll`` overrides arq's poll_delay."""
    out = Waits([], [])
    await ctx.flush()
    async with workers(peer, ctx.url, burst=False) as (child,), producer(peer, ctx.url) as prod:
        await child.go()
        await asyncio.sleep(0.5)
        for _ in range(3):
            await _one(prod, result_poll)  # warm-up: scripts, pub/sub connection
        deadline = time.monotonic() + ctx.sizes.result_budget_s
        while len(out.round_trip) < ctx.sizes.result and time.monotonic() < deadline:
            after, total = await _one(prod, result_poll)
            out.after_completion.append(after)
            out.round_trip.append(total)
        await child.stop()
    await ctx.flush()
    return out


Stats = dict[str, dict[str, float]]


def _rows(stats: dict[str, Stats], fast: dict[str, float], n: int, budget: float) -> list[Row]:
    counts = ", ".join(f"{k} n={s['after']['n']}" for k, s in stats.items())
    note = f"up to N={n} or {budget:g} s per peer ({counts}); arq: job.result(), default poll_delay=0.5 s"
    rows = [
        Row(
            "4",
            f"result-wait {q} (task end → result() returns)",
            "ms",
            "lower",
            {k: s["after"][q] for k, s in stats.items()},
            fmt="{:,.2f}",
            target=("≤", 1.0) if q == "p50" else None,
            note=note if q == "p50" else "",
        )
        for q in ("p50", "p99")
    ]
    rows.append(
        Row(
            "4",
            "result round trip p50 (enqueue → result() returns)",
            "ms",
            "lower",
            {k: s["total"]["p50"] for k, s in stats.items()},
            fmt="{:,.2f}",
        )
    )
    rows.append(
        Row(
            "4",
            "result-wait p50, arq result(poll_delay=0.01)",
            "ms",
            "lower",
            {"aqueue": stats["aqueue"]["after"]["p50"], "arq": None, "arq10": fast["p50"]},
            fmt="{:,.2f}",
            display={"arq": "—"},
            note=f"extra: arq 10 ms worker and 10 ms result polling (n={fast['n']}); "
            "aqueue column repeats row 4",
        )
    )
    return rows


async def run(ctx: Ctx) -> list[Row]:
    stats = {}
    for p in PEERS:
        w = await waits(ctx, p)
        stats[p.key] = {"after": summary_ms(w.after_completion), "total": summary_ms(w.round_trip)}
    fast = summary_ms((await waits(ctx, ARQ10, result_poll=0.01)).after_completion)
    return _rows(stats, fast, ctx.sizes.result, ctx.sizes.result_budget_s)
