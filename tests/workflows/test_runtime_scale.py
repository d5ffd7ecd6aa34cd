"""Scale on a real worker: a group of 10,000 members and a chain of 1,000 steps complete.

Prints (run with ``-s``) the wall time and the Redis memory of the run's keys per node, measured
with ``MEMORY USAGE ... SAMPLES 0`` when the run starts, half way through, and after it ended.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from aqueue import Client
from aqueue.workflows import CanvasElement, WorkflowRun, chain, group, sig
from aqueue.workflows._run import SUFFIXES
from tests.wf_tasks import ALL, CALLS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def run_keys_bytes(client: Client, run: WorkflowRun) -> int:
    """Return the memory of the run's own keys (meta, spec, pending, state, results, times, errors)."""
    total = 0
    for suffix in SUFFIXES:
        used = await client.redis.execute_command("MEMORY", "USAGE", run.key(suffix), "SAMPLES", "0")
        total += int(used or 0)
    return total


async def job_keys_bytes(client: Client, run: WorkflowRun, nodes: int) -> int:
    """Return the memory of the nodes' job payload keys that exist now (queued or running)."""
    total = 0
    async with client.redis.pipeline(transaction=False) as pipe:
        for node in range(nodes):
            pipe.execute_command("MEMORY", "USAGE", client.keys.job(f"{run.run_id}:{node}"), "SAMPLES", "0")
        for used in await pipe.execute():
            total += int(used or 0)
    return total


async def measured_run(
    client: Client, run_worker: Any, label: str, workflow: CanvasElement, nodes: int
) -> tuple[Any, float]:
    started = time.monotonic()
    run = await client.run(workflow)
    enqueued_s = time.monotonic() - started
    at_start = await run_keys_bytes(client, run)
    jobs_at_start = await job_keys_bytes(client, run, nodes)
    halfway: list[int] = []

    async def sample_halfway() -> None:
        while int(await client.redis.hget(run.key(), "done") or 0) < nodes // 2:
            await asyncio.sleep(0.01)
        halfway.append(await run_keys_bytes(client, run))

    async with run_worker(ALL, max_jobs=200):
        sampler = asyncio.create_task(sample_halfway())
        result = await run.result(timeout=100)
        elapsed = time.monotonic() - started
        await asyncio.wait_for(sampler, 5)
    at_end = await run_keys_bytes(client, run)
    print(
        f"\n{label}: {nodes} nodes, {elapsed:.2f} s total ({enqueued_s:.2f} s to start the run, "
        f"{nodes / elapsed:.0f} nodes/s)\n"
        f"  run keys: {at_start / nodes:.0f} B/node at start, {halfway[0] / nodes:.0f} B/node half way, "
        f"{at_end / nodes:.0f} B/node at the end ({at_end / 1e6:.2f} MB)\n"
        f"  queued job payloads at start: {jobs_at_start / nodes:.0f} B/node"
    )
    return result, elapsed


async def test_group_of_ten_thousand(client: Client, run_worker: Any) -> None:
    n = 10_000
    result, _ = await measured_run(
        client, run_worker, "group of 10,000", group(sig("add", i, i) for i in range(n)), n
    )
    assert result == [i + i for i in range(n)]
    assert await client.redis.llen(CALLS + "add") == n


async def test_chain_of_one_thousand(client: Client, run_worker: Any) -> None:
    n = 1_000
    workflow = chain(sig("add", 0, 0), *(sig("inc") for _ in range(n - 1)))
    result, _ = await measured_run(client, run_worker, "chain of 1,000", workflow, n)
    assert result == n - 1
    assert await client.redis.llen(CALLS + "inc") == n - 1
