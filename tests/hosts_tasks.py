"""The task and settings of the worker hosts in ``test_many_hosts.py`` (run inside network namespaces).

The host's name comes from ``AQUEUE_TEST_HOST``; the broker from ``AQUEUE_REDIS_URL``. The trigger
host never imports this module: it enqueues ``where`` by name.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aqueue import task

HOST_ENV = "AQUEUE_TEST_HOST"


@task
async def where(ctx: dict[str, Any], i: int) -> dict[str, Any]:
    """Work for 50 ms; return ``i`` and the name of the host that ran it."""
    await asyncio.sleep(0.05)
    return {"i": i, "host": os.environ[HOST_ENV]}


class HostSettings:
    """Short leases and a short reply timeout: a cut-off host's jobs move on, and it reconnects soon."""

    functions = [where]
    lease_s = 2.0
    reply_timeout_s = 3.0
    max_jobs = 10
