"""``--profile``: cProfile of aqueue's hot paths: one-by-one enqueue (this process) and a drain (child)."""

from __future__ import annotations

import cProfile
import io
import pstats
import tempfile
from pathlib import Path

import aqueue
from bench.context import Ctx
from bench.m_drain import drain
from bench.peers import AQUEUE

TOP = 20


def _top(stats: pstats.Stats) -> str:
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(TOP)
    return out.getvalue()


async def profile_enqueue(ctx: Ctx) -> str:
    n = ctx.sizes.enqueue_one
    await ctx.flush()
    async with aqueue.Client(ctx.url, queue_name=AQUEUE.queue_name) as client:
        for _ in range(200):
            await client.enqueue("noop")
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(n):
            await client.enqueue("noop")
        profiler.disable()
    await ctx.flush()
    return f"cProfile: aqueue Client.enqueue one at a time (N={n:,}), producer process\n" + _top(
        pstats.Stats(profiler)
    )


async def profile_drain(ctx: Ctx) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-prof-") as tmp:
        path = str(Path(tmp) / "worker.prof")
        result = await drain(ctx, AQUEUE, ctx.sizes.drain, profile=path)
        text = _top(pstats.Stats(path))
    head = (
        f"cProfile: one aqueue drain (N={ctx.sizes.drain:,}), worker child; the profiler slows it to "
        f"{result.rate:,.0f} jobs/s, {result.worker_us:.0f} µs/job"
    )
    return head + "\n" + text


async def profiles(ctx: Ctx) -> str:
    return await profile_enqueue(ctx) + "\n" + await profile_drain(ctx)
