"""The CPU-bound task of ``bench.procpool``, three ways: on the event loop, in a thread, in a child process.

Each call reports the CPU time its own thread spent (``time.thread_time``) and the pid that ran it, so
the benchmark can add the children's CPU to the worker's.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aqueue import task


def crunch(n: int) -> dict[str, Any]:
    """Sum the squares below ``n``; return the CPU seconds this thread spent on it and the pid."""
    started = time.thread_time()
    total = sum(i * i for i in range(n))
    return {"cpu_s": time.thread_time() - started, "pid": os.getpid(), "total": total}


def _in_thread(ctx: dict[str, Any], n: int) -> dict[str, Any]:
    return crunch(n)


def _in_process(ctx: dict[str, Any], n: int) -> dict[str, Any]:
    return crunch(n)


@task(name="crunch_loop")
async def crunch_loop(ctx: dict[str, Any], n: int) -> dict[str, Any]:
    """On the event loop (an ``async def`` that never awaits): one core, and the loop blocked."""
    return crunch(n)


crunch_thread = task(name="crunch_thread")(_in_thread)  # executor unset: a thread of the worker
crunch_process = task(name="crunch_process", executor="process")(_in_process)
