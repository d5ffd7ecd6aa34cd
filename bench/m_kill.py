"""6. kill -9 recovery: worker A runs a job (timeout 300 s) and is SIGKILLed; idle worker B takes it over."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from bench import tasks
from bench.context import Ctx
from bench.peers import AQUEUE, ARQ, ARQ10, Peer
from bench.procs import WorkerProc, workers
from bench.producers import producer
from bench.report import Row


@dataclass
class Recovery:
    seconds: float | None  # kill → job started on B; None: not within the cap
    pttl_ms: int  # the in-progress key's PTTL read right after the kill
    cap_s: float


async def _started(ctx: Ctx, timeout: float) -> tuple[int, float] | None:
    item = await ctx.redis.blpop([tasks.STARTS_KEY], timeout=timeout)
    if item is None:
        return None
    pid, at = item[1].decode().split()
    return int(pid), float(at)


async def _hold_on(ctx: Ctx, peer: Peer, a: WorkerProc) -> str:
    """Enqueue the hold job and wait until worker A has started it; return its id."""
    await a.go()
    await asyncio.sleep(0.3)
    async with producer(peer, ctx.url) as prod:
        job = await prod.enqueue("hold")
    started = await _started(ctx, 10)
    if started is None or started[0] != a.pid:
        raise RuntimeError(f"{peer.key}: worker A did not start the hold job ({started})")
    return str(job.job_id)


async def recovery(ctx: Ctx, peer: Peer, cap_s: float) -> Recovery:
    await ctx.flush()
    async with workers(peer, ctx.url, burst=False) as (a,), workers(peer, ctx.url, burst=False) as (b,):
        job_id = await _hold_on(ctx, peer, a)
        await b.go()
        await asyncio.sleep(0.5)  # B is idle now
        t_kill = time.time()
        a.kill()
        pttl = int(await ctx.redis.pttl(f"arq:in-progress:{job_id}"))
        started = await _started(ctx, cap_s)
        await b.stop()
    await ctx.flush()
    if started is not None and started[0] != b.pid:
        raise RuntimeError(f"{peer.key}: the job restarted in an unexpected process {started}")
    return Recovery(None if started is None else started[1] - t_kill, pttl, cap_s)


def _cell(r: Recovery) -> str:
    if r.seconds is not None:
        return f"{r.seconds:.2f} s"
    return f">{r.cap_s:g} s (expected ~{r.pttl_ms / 1000:.0f} s: in-progress key TTL = timeout + 10 s)"


async def run(ctx: Ctx, cap_arq: float | None = None) -> list[Row]:
    cap = cap_arq or ctx.sizes.kill_cap_s
    res = {
        AQUEUE.key: await recovery(ctx, AQUEUE, 30),
        ARQ.key: await recovery(ctx, ARQ, cap),
        ARQ10.key: await recovery(ctx, ARQ10, cap),
    }
    values = {k: (r.seconds if r.seconds is not None else r.cap_s) for k, r in res.items()}
    bound = {k: ">" for k, r in res.items() if r.seconds is None}
    pttls = ", ".join(f"{k} {r.pttl_ms:,} ms" for k, r in res.items())
    note = f"in-progress PTTL right after the kill: {pttls}; aqueue lease_s=5 (default)"
    return [
        Row(
            "6",
            "kill -9 recovery (kill → job starts on the idle worker)",
            "s",
            "lower",
            values,
            fmt="{:,.2f}",
            target=("≤", 10),
            note=note,
            display={k: _cell(r) for k, r in res.items()},
            bound=bound,
        )
    ]
