"""aqueue's side: one worker child process (``python -m aqueue worker``, uvloop, max_jobs 100).

Times chords and chains from ``client.run`` to ``run.result()``, and measures Redis memory per node.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aqueue import Client
from aqueue.workflows import CanvasElement, chain, chord, sig
from bench.stop import stop_processes

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = "bench.workflows.tasks.Settings"
IDLE_QUEUE = "bench-wf-idle"  # no worker consumes it: the memory probe's runs stay as started


def chord_canvas(size: int) -> CanvasElement:
    return chord([sig("noop") for _ in range(size)], sig("noop"))


def chain_canvas(length: int) -> CanvasElement:
    return chain(*[sig("noop") for _ in range(length)])


@contextlib.contextmanager
def worker_child(url: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run one aqueue worker child process; SIGTERM it (SIGKILL after 10 s) on exit."""
    argv = [sys.executable, "-m", "aqueue", "worker", SETTINGS, "--redis", url]
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            yield proc
        finally:
            stop_processes(proc)


async def time_once(client: Client, canvas: CanvasElement, timeout: float) -> dict[str, float]:
    """Start ``canvas`` (already built) and wait for its result; return the phases in seconds.

    ``total``: client.run → result; ``start``: client.run alone (compile + one MULTI with every root);
    ``span``: the run's own started_ms → finished_ms as recorded in Redis (ms resolution).
    """
    t0 = time.perf_counter()
    run = await client.run(canvas)
    t1 = time.perf_counter()
    await run.result(timeout=timeout)
    t2 = time.perf_counter()
    started, finished = await client.redis.hmget(run.key(), ["started_ms", "finished_ms"])  # type: ignore[misc]
    return {"total": t2 - t0, "start": t1 - t0, "span": (int(finished) - int(started)) / 1000}


async def series(
    client: Client,
    build: Callable[[], CanvasElement],
    runs: int,
    timeout: float,
) -> list[dict[str, float]]:
    out = []
    for _ in range(runs):
        out.append(await time_once(client, build(), timeout))
        await asyncio.sleep(0.2)
    return out


async def latencies(
    url: str,
    runs: int,
    chord_size: int,
    chain_length: int,
    timeout: float,
) -> dict[str, Any]:
    """Time ``runs`` chords and chains against one worker child (after an untimed warm-up)."""
    with worker_child(url) as proc:
        async with Client(url) as client:
            await series(client, lambda: chord_canvas(10), 1, 60)  # warm-up; waits for the worker
            await series(client, lambda: chain_canvas(5), 1, timeout)
            result = {
                "chord": await series(client, lambda: chord_canvas(chord_size), runs, timeout),
                "chain": await series(client, lambda: chain_canvas(chain_length), runs, timeout),
            }
        if proc.poll() is not None:
            raise RuntimeError(f"aqueue worker exited early (code {proc.returncode})")
    return result


async def _memory(client: Client, pattern: str) -> tuple[int, int]:
    keys = [k async for k in client.redis.scan_iter(match=pattern, count=1000)]
    total = 0
    for key in keys:
        total += await client.redis.memory_usage(key, samples=0) or 0
    return len(keys), total


async def node_memory(url: str, size: int) -> dict[str, Any]:
    """Start a chord of ``size`` on a queue no worker reads; return its Redis memory, total and per node."""
    async with Client(url) as client:
        run = await client.run(chord_canvas(size), queue_name=IDLE_QUEUE)
        nodes = size + 1
        wf_keys, wf_bytes = await _memory(client, run.key() + "*")
        job_keys, job_bytes = await _memory(client, client.keys.job(run.run_id) + ":*")
        queue_bytes = await client.redis.memory_usage(client.keys.queue(IDLE_QUEUE), samples=0) or 0
        await client.redis.flushdb()
    return {
        "nodes": nodes,
        "wf_keys": wf_keys,
        "wf_bytes": wf_bytes,
        "wf_bytes_per_node": wf_bytes / nodes,
        "queued_jobs": job_keys,
        "job_bytes_per_queued_job": job_bytes / max(job_keys, 1),
        "queue_bytes_per_queued_job": queue_bytes / max(job_keys, 1),
    }
