"""Tasks and worker settings for the worker child processes of ``tests/test_cluster.py``.

Run as ``python -m aqueue worker tests.cluster_tasks.AlphaSettings``; the cluster's URL comes from
``AQUEUE_REDIS_URL``. Tasks leave their traces under ``cl:{TAG}:`` keys (one slot each).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aqueue import task


@task(timeout=300)
async def step(ctx: dict[str, Any], tag: str, seconds: float) -> dict[str, int]:
    """Record the start (pid), sleep (``cl:{tag}:duration`` overrides ``seconds``), return who ran it."""
    r = ctx["redis"]
    override = await r.get(f"cl:{{{tag}}}:duration")
    await r.rpush(f"cl:{{{tag}}}:started", os.getpid())
    await asyncio.sleep(float(override) if override is not None else seconds)
    return {"pid": os.getpid(), "try": ctx["job_try"]}


class AlphaSettings:
    """Serves queue ``alpha``; a lapsed claim is taken over a second after its worker died."""

    functions = [step]
    queue_name = "alpha"
    lease_s = 1.0
