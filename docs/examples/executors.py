"""CPU-bound tasks in the worker's process pool."""

import os

import aqueue
from aqueue import JobContext, ProcessCrashed, task


# --8<-- [start:crash]
@task(executor="process", max_tries=3, retry_on=ProcessCrashed)
def fragile(ctx: JobContext) -> str:
    if ctx["job_try"] == 1:
        os._exit(1)  # as a segfault in a C extension, or the OOM killer, would end it
    return f"survived on try {ctx['job_try']}"


# --8<-- [end:crash]


# --8<-- [start:process]
@task(executor="process")  # a plain def, run in one of the worker's child processes
def count_primes(ctx: JobContext, below: int) -> int:
    return sum(all(n % d for d in range(2, int(n**0.5) + 1)) for n in range(2, below))


class WorkerSettings:
    functions = [count_primes, fragile]
    process_pool_size = 2  # child processes; default: the CPU count
    max_tasks_per_child = 500  # a child is replaced after 500 tasks; default: never


# --8<-- [end:process]


async def main() -> None:
    async with aqueue.Client() as client:
        # --8<-- [start:run]
        jobs = [await client.enqueue("count_primes", 20_000) for _ in range(4)]  # two at a time
        assert [await job.result(timeout=30) for job in jobs] == [2262] * 4

        job = await client.enqueue("fragile")  # try 1: the child dies; try 2 runs in a new one
        assert await job.result(timeout=30) == "survived on try 2"
        # --8<-- [end:run]
