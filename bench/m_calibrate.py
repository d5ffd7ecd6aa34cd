"""0. Calibration: what one redis-py asyncio round trip costs on this machine (no queue involved)."""

from __future__ import annotations

import asyncio
import time

from bench import floor
from bench.context import Ctx
from bench.meter import process_cpu_s
from bench.stats import percentile


async def back_to_back(ctx: Ctx, n: int) -> tuple[float, float]:
    """Return PINGs per second, one awaited at a time, and this process's CPU µs per PING."""
    cpu0, t0 = process_cpu_s(), time.perf_counter()
    for _ in range(n):
        await ctx.redis.ping()
    return n / (time.perf_counter() - t0), (process_cpu_s() - cpu0) / n * 1e6


async def after_idle(ctx: Ctx, n: int, gap_s: float) -> list[float]:
    """Return PING round trips in ms, each after ``gap_s`` idle (like the pickup benchmark's producer)."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await ctx.redis.ping()
        out.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(gap_s)
    return out


async def run(ctx: Ctx) -> dict[str, str]:
    n = ctx.sizes.enqueue_one
    await back_to_back(ctx, 200)
    rate, cpu_us = await back_to_back(ctx, n)
    idle = await after_idle(ctx, max(50, ctx.sizes.pickup // 5), ctx.sizes.pickup_gap_s)
    gap = ctx.sizes.pickup_gap_s
    wake = await floor.measure(ctx.url, max(100, ctx.sizes.pickup // 2), gap)
    return {
        "redis-py asyncio PING, back to back": (
            f"{rate:,.0f}/s ({1e6 / rate:.0f} µs per round trip, client CPU {cpu_us:.0f} µs each, N={n:,})"
        ),
        f"PING after {ctx.sizes.pickup_gap_s * 1000:g} ms idle": (
            f"p50 {percentile(idle, 50):.3f} ms, p99 {percentile(idle, 99):.3f} ms (N={len(idle)})"
        ),
        f"wake-up floor (bare LPUSH → BLPOP in another process, {gap * 1000:g} ms apart, no Lua, no job)": (
            f"p50 {percentile(wake, 50) * 1000:.3f} ms, p99 {percentile(wake, 99) * 1000:.3f} ms "
            f"(N={len(wake)}; pickup latency cannot go below this)"
        ),
    }
