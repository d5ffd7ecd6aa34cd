"""Flow limits and fair groups, measured: rate accuracy, concurrency exactness, fairness, drain cost.

``python -m bench.limits [--quick]``: one embedded redis-server, in one run:

- **rate**: a ``rate_limit="100/s"`` task drained by 3 worker processes: starts per second over the
  run and the most starts seen in any 1 s window (starts as the tasks saw them);
- **concurrency**: a ``concurrency=5`` task (10 ms jobs) on 3 worker processes, 12 slots each: the
  most attempts seen running at once;
- **fairness**: a 10-job group enqueued behind a 20,000-job group, drained by 3 worker processes:
  the small group's wait (enqueue → start) p50/p99, and the same 10 jobs without groups;
- **drain cost**: in-process burst drains of no-op jobs, alternated per round: plain, priority 5,
  one group, 100 groups; jobs/s and each ÷ plain.

No assertion: a measurement; a full run (not ``--quick``) also writes ``bench/results/limits.md``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis as sync_redis
import uvloop

from aqueue import Client, Worker, task
from aqueue.embedded import RedisServer


@task(rate_limit="100/s")
async def rated(ctx: dict[str, Any]) -> None:
    await ctx["redis"].rpush("bench:starts", repr(time.time()))


@task(concurrency=5)
async def capped(ctx: dict[str, Any]) -> None:
    r = ctx["redis"]
    await r.rpush("bench:running", await r.incr("bench:now"))
    await asyncio.sleep(0.01)
    await r.decr("bench:now")


@task
async def timed(ctx: dict[str, Any], tag: str, enqueued: float) -> None:
    if tag == "small":
        await ctx["redis"].rpush("bench:waits", repr(time.time() - enqueued))


@task
async def noop(ctx: dict[str, Any]) -> None:
    return None


def _serve(url: str, seconds: float) -> None:
    worker = Worker([rated, capped, timed], redis_settings=url, max_jobs=12, handle_signals=False)

    async def run() -> None:
        runner = asyncio.create_task(worker.async_run())
        await asyncio.sleep(seconds)
        worker.request_stop(force=True)
        await runner
        await worker.close()

    uvloop.run(run())


def _workers(url: str, seconds: float) -> list[multiprocessing.Process]:
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_serve, args=(url, seconds)) for _ in range(3)]
    for p in procs:
        p.start()
    return procs


async def _poll(done: Callable[[], bool], limit_s: float) -> None:
    for _ in range(int(limit_s / 0.05)):
        if done():
            return
        await asyncio.sleep(0.05)


async def _until(r: sync_redis.Redis, key: str, count: int, limit_s: float) -> None:
    await _poll(lambda: r.llen(key) >= count, limit_s)


def _most_in_window(times: list[float], window: float) -> int:
    s = sorted(times)
    return max(sum(1 for y in s[i:] if y < x + window) for i, x in enumerate(s))


async def rate(url: str, r: sync_redis.Redis, n: int) -> str:
    claims: dict[bytes, float] = {}  # the limit's own log of claims (Redis's clock), sampled as it runs

    def sample() -> bool:
        claims.update(r.zrange("arq:starts:t\nrated", 0, -1, withscores=True))
        return r.llen("bench:starts") >= n

    async with Client(url) as client:
        await client.enqueue_many("rated", [() for _ in range(n)])
    await _poll(sample, n / 100 + 10)
    sample()
    s = sorted(float(x) for x in r.lrange("bench:starts", 0, -1))
    # a window's 100 starts come at once, so from the first start to the last the run spans the
    # windows after the first: the sustained rate counts the starts of those
    per_s = (len(s) - 100) / (s[-1] - s[0])
    claimed = _most_in_window([ms / 1000 for ms in claims.values()], 1.0)
    seen = _most_in_window(s, 1.0)
    head = f"| rate 100/s, 3 workers, {len(s)} jobs | {per_s:.1f} starts/s sustained"
    return f"{head} | most in any 1 s window: {claimed} claims ({seen} starts as the tasks saw them) |"


async def concurrency(url: str, r: sync_redis.Redis, n: int) -> str:
    async with Client(url) as client:
        await client.enqueue_many("capped", [() for _ in range(n)])
    await _until(r, "bench:running", n, 30)
    seen = [int(x) for x in r.lrange("bench:running", 0, -1)]
    return f"| concurrency=5, 3 workers x 12 slots, {len(seen)} jobs | max running at once: {max(seen)} | |"


async def fairness(url: str, r: sync_redis.Redis, big: int, grouped: bool) -> str:
    r.delete("bench:waits")
    async with Client(url) as client:
        kw: dict[str, Any] = {"_group": "big"} if grouped else {}
        await client.enqueue_many("timed", [("big", 0.0) for _ in range(big)], **kw)
        now = time.time()
        kw = {"_group": "small"} if grouped else {}
        await client.enqueue_many("timed", [("small", now) for _ in range(10)], **kw)
    await _until(r, "bench:waits", 10, 120)
    # the rest drains before the next measurement
    await _poll(lambda: not (r.zcard("arq:queue") or r.exists("arq:groups:arq:queue")), 120)
    waits = sorted(float(x) * 1000 for x in r.lrange("bench:waits", 0, -1))
    p99 = waits[-1]
    label = "with groups" if grouped else "no groups (FIFO)"
    p50 = waits[len(waits) // 2]
    return f"| 10-job group behind {big:,} jobs, {label} | wait p50 {p50:.0f} ms | p99 {p99:.0f} ms |"


async def drain(url: str, n: int, kind: str) -> float:
    async with Client(url) as client:
        if kind == "groups100":
            for g in range(100):
                await client.enqueue_many("noop", [() for _ in range(n // 100)], _group=f"g{g}")
        else:
            kw: dict[str, Any] = {"plain": {}, "priority": {"_priority": 5}, "group": {"_group": "g"}}[kind]
            await client.enqueue_many("noop", [() for _ in range(n)], **kw)
    worker = Worker([noop], redis_settings=url, burst=True, handle_signals=False, max_jobs=100)
    started = time.perf_counter()
    await worker.async_run()
    elapsed = time.perf_counter() - started
    await worker.close()
    return n / elapsed


async def main(url: str, quick: bool) -> list[str]:
    r = sync_redis.Redis.from_url(url)
    big, n, rounds = (5000, 4000, 3) if quick else (20000, 10000, 5)
    out = ["| measurement | result | |", "|---|---|---|"]
    procs = _workers(url, 300)
    await asyncio.sleep(2.0)  # the workers start
    out.append(await rate(url, r, 300 if quick else 600))
    out.append(await concurrency(url, r, 300))
    for grouped in (True, False):
        out.append(await fairness(url, r, big, grouped))
        r.flushall()
    for p in procs:
        p.terminate()
        p.join()
    kinds = ["plain", "priority", "group", "groups100"]
    rates: dict[str, list[float]] = {k: [] for k in kinds}
    for i in range(rounds):
        for kind in kinds if i % 2 == 0 else list(reversed(kinds)):
            rates[kind].append(await drain(url, n, kind))
            r.flushall()
    plain = statistics.median(rates["plain"])
    out += ["", f"drain, {n} no-op jobs, in-process burst worker (max_jobs=100), {rounds} rounds alternated"]
    out += ["", "| drain | jobs/s (median) | ÷ plain | rounds |", "|---|---|---|---|"]
    for kind in kinds:
        med = statistics.median(rates[kind])
        each = ", ".join(f"{x:,.0f}" for x in rates[kind])
        out.append(f"| {kind} | {med:,.0f} | {med / plain:.2f}x | {each} |")
    return out


def report(lines: list[str], load_before: str) -> str:
    """Return the run as the markdown of ``bench/results/limits.md``."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    head = [f"# bench.limits ({when}, `python -m bench.limits`)", ""]
    head.append(f"Load average before the run: {load_before}; after: {_load()} (2 cores).")
    return "\n".join([*head, "", *lines, ""])


def _load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


if __name__ == "__main__":
    quick, before = "--quick" in sys.argv, _load()
    with RedisServer() as server:
        lines = uvloop.run(main(server.url, quick))
    text = report(lines, before)
    print(text)
    if not quick:
        Path(__file__).with_name("results").joinpath("limits.md").write_text(text, encoding="utf-8")
