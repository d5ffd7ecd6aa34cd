"""A worker on several queues: strict order and weights."""

import aqueue
from aqueue import JobContext, task

served: list[str] = []


# --8<-- [start:settings]
@task
async def work(ctx: JobContext, tag: str) -> str:
    served.append(f"{ctx['queue_name']}:{tag}")
    return tag


class WorkerSettings:
    functions = [work]
    queues = ["critical", "default"]  # strict: default only when critical has nothing due
    # queues = {"bulk": 3, "reports": 1}  # weighted: under a backlog on both, claims split 3:1
    max_jobs = 1


# --8<-- [end:settings]


async def main() -> None:
    # --8<-- [start:produce]
    async with aqueue.Client() as client:
        await client.pause_queue("critical")  # hold both queues so the order below shows
        await client.pause_queue("default")
        held = await client.enqueue_many(work, [("d1",), ("d2",)], _queue_name="default")
        await client.enqueue_many(work, [("c1",), ("c2",)], _queue_name="critical")
        await client.resume_queue("critical")  # wakes the idle worker at once
        await client.resume_queue("default")
        held.append(await client.enqueue(work, "d3", _queue_name="default"))
        for job in held:  # d3 may share d2's millisecond and run before it: wait for all three
            assert job is not None
            await job.result(timeout=10)
    # critical first; within a queue, jobs of one millisecond (one batch) in any order, as in arq
    assert sorted(served[:2]) == ["critical:c1", "critical:c2"]
    assert sorted(served[2:]) == ["default:d1", "default:d2", "default:d3"]
    # --8<-- [end:produce]
