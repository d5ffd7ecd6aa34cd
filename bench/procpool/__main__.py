"""``python -m bench.procpool [--jobs N] [--rounds R] [--size N] [--quick]``: CPU-bound jobs, three ways.

One embedded redis-server, one in-process worker (``max_jobs=10``) per mode: ``loop`` (an ``async def``
task), ``thread`` (a plain ``def``, executor unset: the default thread pool) and ``process``
(``executor="process"``, ``process_pool_size=2``). Per mode, 2 × size short warm-up jobs run first (the
process pool starts its children then); then N jobs are enqueued at once and timed until the last
result is in. Each mode runs R times, the order turned around every round, and its median run is
reported: jobs/s, and CPU used as cores = (the worker process's CPU + the children's CPU spent in
tasks) / wall time, and how many pids ran tasks. The ratio process ÷ thread is the number to read:
on 2 free cores it approaches 2. No assertion: a measurement. Writes ``bench/results/procpool.{md,json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aqueue import Client, Worker
from aqueue.embedded import RedisServer
from bench.procpool.tasks import crunch_loop, crunch_process, crunch_thread

RESULTS = Path(__file__).resolve().parents[1] / "results"
MODES = {"loop": crunch_loop, "thread": crunch_thread, "process": crunch_process}


@dataclass(frozen=True)
class Run:
    """One mode's numbers."""

    mode: str
    jobs: int
    wall_s: float
    jobs_per_s: float
    worker_cpu_s: float
    children_cpu_s: float
    cores: float
    pids: int


async def measure(url: str, mode: str, jobs: int, work: int, size: int) -> Run:
    """Run ``jobs`` jobs of ``mode`` on a fresh worker; return the numbers."""
    task = MODES[mode]
    worker = Worker([task], redis_settings=url, handle_signals=False, max_jobs=10, process_pool_size=size)
    runner = asyncio.create_task(worker.async_run())
    try:
        async with Client(url) as client:
            warm = await client.enqueue_many(task.name, [(100_000,) for _ in range(2 * size)])
            for job in filter(None, warm):  # the pool's children are started by now
                await job.result(timeout=60)
            cpu, started = time.process_time(), time.perf_counter()
            handles = await client.enqueue_many(task.name, [(work,) for _ in range(jobs)])
            results = [await job.result(timeout=600) for job in filter(None, handles)]
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        worker.request_stop()
        await runner
        await worker.close()
    children = sum(r["cpu_s"] for r in results if r["pid"] != os.getpid())
    return Run(
        mode,
        jobs,
        wall,
        jobs / wall,
        cpu,
        children,
        (cpu + children) / wall,
        len({r["pid"] for r in results}),
    )


def table(runs: list[Run], size: int, work: int, rounds: int) -> str:
    """Return the markdown report."""
    by = {r.mode: r for r in runs}
    lines = [
        f"CPU-bound jobs (sum of squares below {work:,}) on one worker; process_pool_size={size}, "
        f"{os.cpu_count()} CPUs; median of {rounds} rounds, load average {os.getloadavg()[0]:.2f} at the end",
        "",
        "| mode | jobs | wall s | jobs/s | worker CPU s | children CPU s | cores used | pids |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.mode} | {r.jobs} | {r.wall_s:.2f} | {r.jobs_per_s:.1f} | {r.worker_cpu_s:.2f} | "
        f"{r.children_cpu_s:.2f} | {r.cores:.2f} | {r.pids} |"
        for r in runs
    ]
    if "process" in by and "thread" in by:
        base = by["thread"]
        lines += ["", f"process ÷ thread: {by['process'].jobs_per_s / base.jobs_per_s:.2f}x jobs/s, "]
        lines[-1] += f"{by['process'].cores / base.cores:.2f}x cores"
    if "process" in by and "loop" in by:
        lines += [f"process ÷ loop: {by['process'].jobs_per_s / by['loop'].jobs_per_s:.2f}x jobs/s"]
    return "\n".join(lines) + "\n"


async def main(url: str, jobs: int, work: int, size: int, rounds: int) -> list[Run]:
    """Measure every mode ``rounds`` times, the order turned around every round; keep each mode's median."""
    runs: dict[str, list[Run]] = {mode: [] for mode in MODES}
    for i in range(rounds):
        for mode in MODES if i % 2 == 0 else reversed(MODES):
            runs[mode].append(await measure(url, mode, jobs, work, size))
    return [_median(runs[mode]) for mode in MODES]


def _median(runs: list[Run]) -> Run:
    """Return the run of median throughput."""
    return sorted(runs, key=lambda r: r.jobs_per_s)[len(runs) // 2]


def cli() -> None:
    """Parse the options, run, print and write the report."""
    parser = argparse.ArgumentParser(prog="python -m bench.procpool")
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--work", type=int, default=1_000_000, help="n of each job's sum of squares")
    parser.add_argument("--size", type=int, default=2, help="process_pool_size")
    parser.add_argument("--rounds", type=int, default=3, help="runs per mode; the median is reported")
    parser.add_argument("--quick", action="store_true", help="8 jobs, one round: a smoke run")
    options = parser.parse_args()
    jobs = 8 if options.quick else options.jobs
    with RedisServer() as server:
        rounds = 1 if options.quick else options.rounds
        runs = asyncio.run(main(server.url, jobs, options.work, options.size, rounds))
    report = table(runs, options.size, options.work, rounds)
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "procpool.md").write_text(report)
    document: dict[str, Any] = {"runs": [asdict(r) for r in runs], "size": options.size, "work": options.work}
    (RESULTS / "procpool.json").write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    cli()
