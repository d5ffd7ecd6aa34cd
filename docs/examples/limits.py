"""Flow limits and fair groups: a rate-limited API client and a per-tenant fair queue."""

import asyncio
import time

import aqueue
from aqueue import JobContext, task

calls: list[float] = []
exports: list[str] = []


# --8<-- [start:tasks]
@task(concurrency=5)  # never more than 5 attempts running, on all workers together
async def render(ctx: JobContext, doc_id: int) -> int:
    await asyncio.sleep(0.01)
    return doc_id


@task(rate_limit="20/s", concurrency=4)  # the partner sees at most 20 calls a second, 4 in flight
async def charge(ctx: JobContext, invoice_id: int) -> int:
    calls.append(time.monotonic())  # the real one would POST to the partner's API here
    return invoice_id


@task(group_concurrency=1)  # one export per tenant at a time; tenants take turns
async def export(ctx: JobContext, tenant: str, day: int) -> str:
    exports.append(tenant)
    await asyncio.sleep(0.01)
    return f"{tenant}/{day}"


class WorkerSettings:
    functions = [render, charge, export]
    max_jobs = 20


# --8<-- [end:tasks]


async def main() -> None:
    async with aqueue.Client() as client:
        # --8<-- [start:api]
        jobs = await client.enqueue_many(charge, [(n,) for n in range(30)])  # all at once
        for job in jobs:
            await job.result(timeout=10)
        # 30 calls at 20 a second: the last ones waited for the window to reopen (no try used)
        assert max(calls) - min(calls) >= 0.9
        # --8<-- [end:api]

        # --8<-- [start:tenants]
        await client.enqueue_many(export, [("big-tenant", day) for day in range(100)], _group="big-tenant")
        small = await client.enqueue(export, "small-tenant", 1, _group="small-tenant")
        assert await small.result(timeout=10) == "small-tenant/1"
        # it ran in turn with the big tenant's backlog, not after it
        assert exports.index("small-tenant") < 10
        # --8<-- [end:tenants]
