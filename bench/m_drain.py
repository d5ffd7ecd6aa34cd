"""2 and 5. Drain rate: N pre-enqueued no-op jobs, burst worker processes at max_jobs=100 each."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from bench.context import Ctx
from bench.peers import AQUEUE, ARQ, ARQ10, Peer
from bench.procs import producer_on, workers
from bench.report import Row

WALL_NOTE = "wall time: 'go' sent → queue seen empty (ZCARD polled every 5 ms)"
#: Issue 11: aqueue's Redis CPU per drained job, as a fraction of plain arq's in the same run.
REDIS_TARGET_VS_ARQ = 0.15


@dataclass
class Drain:
    rate: float
    worker_us: float  # all worker processes' CPU per job
    redis_us: float
    jobs: int


async def drain(
    ctx: Ctx, peer: Peer, n: int, procs: int = 1, profile: str | None = None, code: Path | None = None
) -> Drain:
    """Pre-enqueue ``n`` no-ops, start ``procs`` burst workers together, time until the queue is empty.

    Redis CPU is read just before ``go`` and just after the queue is seen empty: the drain window only
    (prefill and worker start-up excluded). ``code``: the directory whose aqueue the children run.
    """
    await ctx.flush()
    async with producer_on(peer, ctx.url, code) as prod:
        await prod.prefill("noop", n)
    async with workers(peer, ctx.url, procs, burst=True, profile=profile, code=code) as children:
        redis0, t_go = await ctx.redis_cpu(), time.time()
        await asyncio.gather(*(c.go() for c in children))
        t_empty = await ctx.wait_empty(peer.queue_key, timeout=max(120, n / 100))
        redis_s = await ctx.redis_cpu() - redis0
        reports = await asyncio.gather(*(c.expect("done", 60) for c in children))
    await ctx.flush()
    cpu = sum(r["cpu_s"] for r in reports)
    jobs = sum(r["jobs"] for r in reports)
    return Drain(n / (t_empty - t_go), cpu / n * 1e6, redis_s / n * 1e6, jobs)


def redis_note(redis_us: dict[str, float]) -> str:
    """Say what the Redis CPU row measures and what it caps: jobs/s one Redis core can serve."""
    ceilings = ", ".join(f"{k} {1e6 / us:,.0f}" for k, us in redis_us.items() if us > 0)
    return (
        "redis-server's used_cpu_user + used_cpu_sys (INFO cpu, the whole process), read just before 'go' "
        "and just after the queue is seen empty, ÷ N; one Redis core is the ceiling of every worker fleet "
        f"sharing it: at most {ceilings} jobs/s per Redis core; "
        f"issue 11 target: aqueue ≤ {REDIS_TARGET_VS_ARQ:g}× arq's"
    )


def _note(results: dict[str, Drain], n: int) -> str:
    short = [f"{k}: {d.jobs:,} ran" for k, d in results.items() if d.jobs != n]
    return "; ".join(short)


async def run_single(ctx: Ctx) -> tuple[list[Row], dict[str, Drain]]:
    n = ctx.sizes.drain
    res = {p.key: await drain(ctx, p, n) for p in (AQUEUE, ARQ, ARQ10)}
    values = {k: {"rate": d.rate, "worker": d.worker_us, "redis": d.redis_us} for k, d in res.items()}
    missing = _note(res, n)
    rows = [
        Row(
            "2",
            f"drain, 1 worker process, max_jobs=100 (N={n:,})",
            "jobs/s",
            "higher",
            {k: v["rate"] for k, v in values.items()},
            target=("≥", 9_000),
            note=WALL_NOTE + (f"; {missing}" if missing else ""),
        ),
        Row(
            "2",
            "drain: worker CPU (getrusage in the child)",
            "µs/job",
            "lower",
            {k: v["worker"] for k, v in values.items()},
            target=("≤", 100),
        ),
        Row(
            "2",
            "drain: Redis CPU (INFO cpu delta)",
            "µs/job",
            "lower",
            {k: v["redis"] for k, v in values.items()},
            fmt="{:,.1f}",
            note=redis_note({k: v["redis"] for k, v in values.items()}),
        ),
    ]
    return rows, res


async def run_scaling(ctx: Ctx, single: dict[str, Drain]) -> list[Row]:
    n, rows = ctx.sizes.drain, []
    for procs in ctx.sizes.scaling_procs:
        if procs == 1:
            res = {k: single[k] for k in ("aqueue", "arq10")}
        else:
            res = {p.key: await drain(ctx, p, n, procs) for p in (AQUEUE, ARQ10)}
        note = "same runs as row 2" if procs == 1 else "arq default not run (brief: aqueue and arq 10 ms)"
        missing = _note(res, n)
        rows.append(
            Row(
                "5",
                f"drain, {procs} worker process{'es' if procs > 1 else ''} × 100 (N={n:,})",
                "jobs/s",
                "higher",
                {k: d.rate for k, d in res.items()},
                note=note + (f"; {missing}" if missing else ""),
            )
        )
        rows.append(
            Row(
                "5",
                f"drain, {procs} proc: worker CPU, all processes",
                "µs/job",
                "lower",
                {k: d.worker_us for k, d in res.items()},
            )
        )
    return rows
