"""3. Pickup latency on an idle worker: jobs enqueued 20 ms apart; each records when it started."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench import taskiq_side
from bench.context import Ctx
from bench.peers import PEERS, Peer
from bench.procs import AnyProducer, producer_on, workers
from bench.report import Row
from bench.stats import summary_ms

IDLE_SETTLE_S = 0.5  # let the worker reach its idle wait before the first job


async def _settle(ctx: Ctx, peer: Peer, prod: AnyProducer) -> None:
    """Warm up (script load, connections) with a few no-ops, then let the worker go idle again."""
    await prod.warm_up(3)
    await ctx.wait_empty(peer.queue_key, timeout=10)
    await asyncio.sleep(IDLE_SETTLE_S)


async def pickup(ctx: Ctx, peer: Peer, code: Path | None = None) -> tuple[list[float], list[float]]:
    """Return the pickup latencies (s) the worker saw and the enqueue call durations (s) the producer saw.

    ``code``: the directory whose aqueue the worker and the producer (then a child too) run.
    """
    n, gap = ctx.sizes.pickup, ctx.sizes.pickup_gap_s
    await ctx.flush()
    async with (
        workers(peer, ctx.url, burst=False, code=code) as (child,),
        producer_on(peer, ctx.url, code) as prod,
    ):
        await child.go()
        await asyncio.sleep(IDLE_SETTLE_S)
        await _settle(ctx, peer, prod)
        calls = await prod.paced_pickups(n, gap)
        await ctx.wait_empty(peer.queue_key, timeout=30)
        report = await child.stop()
    await ctx.flush()
    return report["pickup"], calls


async def _reference(ctx: Ctx) -> str:
    """Measure taskiq (the issue's pickup reference) the same way, on the same Redis; describe it."""
    await ctx.flush()
    report = await asyncio.to_thread(taskiq_side.pickup, ctx.url, ctx.sizes.pickup, ctx.sizes.pickup_gap_s)
    await ctx.flush()
    if "error" in report:
        return f"reference peer taskiq not measured ({report['error'][:200]})"
    s = summary_ms(report["latencies_s"])
    return (
        f"reference peer on this machine, same protocol and Redis: taskiq {report['taskiq']} "
        f"(Redis streams, worker on {report['worker_loop']}) p50 {s['p50']:.2f} ms, p99 {s['p99']:.2f} ms, "
        f"N={s['n']} (the issue quotes 0.4 / 1.4 ms for taskiq 0.13 on its machine)"
    )


async def run(ctx: Ctx) -> list[Row]:
    stats, calls = {}, {}
    for p in PEERS:
        latencies, durations = await pickup(ctx, p)
        stats[p.key], calls[p.key] = summary_ms(latencies), summary_ms(durations)["p50"]
    n = ctx.sizes.pickup
    counts = {k: s["n"] for k, s in stats.items() if s["n"] != n}
    note = (
        f"N={n}, {ctx.sizes.pickup_gap_s * 1000:g} ms apart; latency = task start − producer clock read "
        "just before the enqueue call (includes the enqueue round trip)"
    )
    note += "; enqueue call itself p50: " + ", ".join(f"{k} {v:.2f} ms" for k, v in calls.items())
    if counts:
        note += f"; counts differ: {counts}"
    note += "; " + await _reference(ctx)
    targets = {"p50": 0.5, "p99": 1.5}
    return [
        Row(
            "3",
            f"pickup latency {q}",
            "ms",
            "lower",
            {k: s[q] for k, s in stats.items()},
            fmt="{:,.2f}",
            target=("≤", targets[q]) if q in targets else None,
            note=note if q == "p50" else "",
        )
        for q in ("p50", "p90", "p99", "max")
    ]
