"""1. Enqueue rate: one ``await enqueue`` at a time, and a batch (aqueue ``enqueue_many``; arq gathered)."""

from __future__ import annotations

from pathlib import Path

from bench.context import Ctx
from bench.peers import AQUEUE, ARQ, Peer
from bench.procs import producer_on
from bench.producers import ARQ_IN_FLIGHT
from bench.report import Row

WARMUP = 200


async def measure(ctx: Ctx, peer: Peer, code: Path | None = None) -> dict[str, dict[str, float]]:
    """Time one-by-one and batch enqueues of ``peer`` (on ``code``'s aqueue in a child, if given)."""
    await ctx.flush()
    async with producer_on(peer, ctx.url, code) as prod:
        await prod.warm_up(WARMUP)
        one = await prod.timed_one(ctx.sizes.enqueue_one)
        await ctx.flush()
        batch = await prod.timed_batch(ctx.sizes.enqueue_batch)
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
    aq = await measure(ctx, AQUEUE)
    arq = await measure(ctx, ARQ)
    return _rows(ctx, aq, arq)
