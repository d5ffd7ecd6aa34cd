"""``python -m bench.celery_peer --url URL --pool solo|prefork|threads --concurrency N``.

Starts a Celery worker child process, warms it up, times ``--runs`` chords and chains, and prints one
JSON object on stdout: seconds per run (total, and the ``apply_async`` part). Run it with the Celery venv.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.peer_venv import ROOT
from bench.stop import run_peer


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.celery_peer")
    p.add_argument("--url", required=True, help="Redis URL: broker and result backend")
    p.add_argument("--pool", default="solo", choices=["solo", "prefork", "threads"])
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--chord-size", type=int, default=1000)
    p.add_argument("--chain-length", type=int, default=100)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds each run may take")
    return p.parse_args()


def start_worker(args: argparse.Namespace, log: Any) -> subprocess.Popen[bytes]:
    from bench.celery_peer.app import QUEUE

    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "bench.celery_peer.app",
        "worker",
        f"--pool={args.pool}",
        f"--concurrency={args.concurrency}",
        "-Q",
        QUEUE,
        "--loglevel=WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    env = {**os.environ, "BENCH_CELERY_URL": args.url, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )


def chord_canvas(size: int) -> Any:
    from celery import chord

    from bench.celery_peer.app import noop

    return chord([noop.s() for _ in range(size)], noop.s())


def chain_canvas(length: int) -> Any:
    from celery import chain

    from bench.celery_peer.app import noop

    return chain(*[noop.s() for _ in range(length)])


def time_once(canvas: Any, timeout: float) -> dict[str, float]:
    """Submit ``canvas`` (already built) and wait for its final result; return the phases in seconds."""
    t0 = time.perf_counter()
    result = canvas.apply_async()
    t1 = time.perf_counter()
    result.get(timeout=timeout)
    t2 = time.perf_counter()
    return {"total": t2 - t0, "start": t1 - t0}


def series(build: Callable[[], Any], runs: int, timeout: float) -> list[dict[str, float]]:
    out = []
    for _ in range(runs):
        canvas = build()
        out.append(time_once(canvas, timeout))
        time.sleep(0.2)
    return out


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import celery

    series(lambda: chord_canvas(10), 1, 120)  # warm-up: also waits until the worker consumes
    series(lambda: chain_canvas(5), 1, args.timeout)
    return {
        "celery": celery.__version__,
        "pool": args.pool,
        "concurrency": args.concurrency,
        "chord": series(lambda: chord_canvas(args.chord_size), args.runs, args.timeout),
        "chain": series(lambda: chain_canvas(args.chain_length), args.runs, args.timeout),
    }


def main() -> None:
    args = parse()
    os.environ["BENCH_CELERY_URL"] = args.url  # before bench.celery_peer.app is first imported
    run_peer("celery", lambda log: start_worker(args, log), lambda: measure(args))


if __name__ == "__main__":
    main()
