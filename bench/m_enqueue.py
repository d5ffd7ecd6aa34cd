"""1. Enqueue rate: one ``await enqueue`` at a time, and a batch (aqueue ``enqueue_many``; arq gathered)."""

from __future__ import annotations

import resource
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.context import Ctx
from bench.peers import AQUEUE, ARQ, Peer
from bench.producers import ARQ_IN_FLIGHT, producer
from bench.report import Row

WARMUP = 200


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _timed(ctx: Ctx, n: int, action: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    """Run ``action`` once; return jobs/s, producer CPU µs/job and Redis CPU µs/job."""
    redis0, cpu0, t0 = await ctx.redis_cpu(), _cpu(), time.perf_counter()
    await action()
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    redis = await ctx.redis_cpu() - redis0
    return {"rate": n / wall, "producer_us": cpu / n * 1e6, "redis_us": redis / n * 1e6}


async def _measure(ctx: Ctx, peer: Peer) -> dict[str, dict[str, float]]:
    n_one, n_batch = ctx.sizes.enqueue_one, ctx.sizes.enqueue_batch
    await ctx.flush()
    async with producer(peer, ctx.url) as prod:
        for _ in range(WARMUP):
            await prod.enqueue("noop")

        async def one_by_one() -> None:
            for _ in range(n_one):
                await prod.enqueue("noop")

        one = await _timed(ctx, n_one, one_by_one)
        await ctx.flush()
        batch = await _timed(ctx, n_batch, lambda: prod.enqueue_batch("noop", n_batch))
    await ctx.flush()
    return {"one": one, "batch": batch}


def _rows(ctx: Ctx, aq: dict[str, dict[str, float]], arq: dict[str, dict[str, float]]) -> list[Row]:
    same = "producer side: one arq run serves both arq columns"
    batch_note = (
        f"aqueue: enqueue_many (Lua, 500 jobs/call); arq has no batch API: gathered enqueue_job, "
        f"{ARQ_IN_FLIGHT} in flight (each is a WATCH/MULTI transaction, so it cannot be pipelined)"
    )
    rows = []
    for kind, label, n, target in (
        ("one", "enqueue one at a time", ctx.sizes.enqueue_one, 8_000),
        ("batch", "enqueue batch", ctx.sizes.enqueue_batch, 20_000),
    ):
        note = same if kind == "one" else batch_note
        rows.append(
            Row(
                "1",
                f"{label} (N={n:,})",
                "jobs/s",
                "higher",
                _both(aq[kind]["rate"], arq[kind]["rate"]),
                target=("≥", target),
                note=note,
            )
        )
        rows.append(
            Row(
                "1",
                f"{label}: producer CPU",
                "µs/job",
                "lower",
                _both(aq[kind]["producer_us"], arq[kind]["producer_us"]),
                fmt="{:,.1f}",
            )
        )
        rows.append(
            Row(
                "1",
                f"{label}: Redis CPU",
                "µs/job",
                "lower",
                _both(aq[kind]["redis_us"], arq[kind]["redis_us"]),
                fmt="{:,.1f}",
            )
        )
    return rows


def _both(aq: float, arq: float) -> dict[str, float | None]:
    return {"aqueue": aq, "arq": arq, "arq10": arq}


async def run(ctx: Ctx) -> list[Row]:
    aq = await _measure(ctx, AQUEUE)
    arq = await _measure(ctx, ARQ)
    return _rows(ctx, aq, arq)
