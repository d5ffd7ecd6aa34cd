"""A worker child process: ``python -m bench.child --impl aqueue|arq --url URL --queue Q [--burst]``.

Protocol on stdio, one JSON object per stdout line: the child prints ``{"event": "ready"}`` once its
worker is built, starts it when it reads ``go`` on stdin, and (non-burst) stops it when it reads ``stop``.
It then prints ``{"event": "done", ...}`` with its wall-clock window, CPU time (``getrusage``) and jobs run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import sys
import time
from typing import Any

import uvloop

from bench import tasks
from bench.meter import process_cpu_s


def emit(event: str, **data: Any) -> None:
    print(json.dumps({"event": event, "pid": os.getpid(), **data}), flush=True)


def build_aqueue(args: argparse.Namespace) -> Any:
    import aqueue

    functions = [tasks.noop, tasks.pickup, tasks.stamp, aqueue.task(timeout=tasks.HOLD_TIMEOUT_S)(tasks.hold)]
    options: dict[str, Any] = {"poll_delay": args.poll_delay} if args.poll_delay else {}
    return aqueue.Worker(
        functions,
        redis_settings=args.url,
        queue_name=args.queue,
        max_jobs=args.max_jobs,
        burst=args.burst,
        handle_signals=False,
        **options,
    )


def build_arq(args: argparse.Namespace) -> Any:
    from arq.connections import RedisSettings
    from arq.worker import Worker, func

    functions = [tasks.noop, tasks.pickup, tasks.stamp, func(tasks.hold, timeout=tasks.HOLD_TIMEOUT_S)]
    options: dict[str, Any] = {"poll_delay": args.poll_delay} if args.poll_delay else {}
    return Worker(
        functions,
        redis_settings=RedisSettings.from_dsn(args.url),
        queue_name=args.queue,
        max_jobs=args.max_jobs,
        burst=args.burst,
        handle_signals=False,
        **options,
    )


async def read_line() -> str:
    return (await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)).strip()


async def stop_worker(impl: str, worker: Any, runner: asyncio.Task[None]) -> None:
    if impl == "aqueue":
        worker.request_stop(force=True)
        await runner
        await worker.close()
    else:
        await worker.close()  # arq: cancels running jobs and the main task
        with contextlib.suppress(asyncio.CancelledError):
            await runner


async def run_until_stopped(impl: str, worker: Any) -> None:
    runner = asyncio.create_task(worker.async_run())
    stop = asyncio.create_task(read_line())
    await asyncio.wait({runner, stop}, return_when=asyncio.FIRST_COMPLETED)
    await stop_worker(impl, worker, runner)


async def main(args: argparse.Namespace) -> None:
    worker = build_aqueue(args) if args.impl == "aqueue" else build_arq(args)
    import aqueue

    emit("ready", aqueue=aqueue.__file__)
    if await read_line() != "go":
        return  # the parent went away
    profiler = cProfile.Profile() if args.profile else None
    t_go, cpu0 = time.time(), process_cpu_s()
    if profiler:
        profiler.enable()
    if args.burst:
        await worker.async_run()
        t_end, cpu1 = time.time(), process_cpu_s()
        await worker.close()
    else:
        await run_until_stopped(args.impl, worker)
        t_end, cpu1 = time.time(), process_cpu_s()
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    emit(
        "done",
        t_go=t_go,
        t_end=t_end,
        cpu_s=cpu1 - cpu0,
        jobs=worker.jobs_complete,
        failed=worker.jobs_failed,
        pickup=tasks.PICKUP_LATENCIES,
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.child")
    p.add_argument("--impl", choices=["aqueue", "arq"], required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--queue", required=True)
    p.add_argument("--max-jobs", type=int, default=100)
    p.add_argument("--poll-delay", type=float, default=None)
    p.add_argument("--burst", action="store_true")
    p.add_argument("--profile", default=None, help="write cProfile stats of the run to this file")
    return p.parse_args(argv)


if __name__ == "__main__":
    uvloop.run(main(parse()))
