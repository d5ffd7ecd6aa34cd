"""Priorities, and pausing, resuming and purging a queue."""

import aqueue
from aqueue import JobContext, task

order: list[str] = []


# --8<-- [start:tasks]
@task
async def send_email(ctx: JobContext, to: str) -> str:
    order.append(to)
    return f"sent to {to}"


@task(priority=9)  # the default of its jobs: password resets go before everything else
async def reset_password(ctx: JobContext, user: str) -> str:
    order.append(f"reset {user}")
    return f"reset {user}"


class WorkerSettings:
    functions = [send_email, reset_password]
    max_jobs = 1  # one at a time, so the order shows


# --8<-- [end:tasks]


async def main() -> None:
    # --8<-- [start:produce]
    async with aqueue.Client() as client:
        await client.pause_queue()  # workers stop claiming; enqueues still work
        await client.enqueue(send_email, "newsletter@example.com")  # priority 0, as arq writes it
        await client.enqueue_many(send_email, [("a@example.com",), ("b@example.com",)], _priority=5)
        await client.enqueue(reset_password, "ada")  # the task's default: 9
        late = await client.enqueue(send_email, "later@example.com", _priority=7, _defer_by=60)
        assert await client.paused_queues() == {client.default_queue}

        assert await late.status() == aqueue.JobStatus.deferred
        assert (await late.info() or {})["priority"] == 7
        await late.abort()  # a waiting job of any priority can be aborted

        await client.resume_queue()  # idle workers are woken: claims restart at once
        await (await client.enqueue(send_email, "last@example.com")).result(timeout=10)
        assert order == [
            "reset ada",  # 9
            "a@example.com",  # 5, in the order they were enqueued
            "b@example.com",
            "newsletter@example.com",  # 0
            "last@example.com",
        ]

        await client.pause_queue()
        await client.enqueue_many(send_email, [(f"spam-{i}@example.com",) for i in range(3)])
        assert await client.purge_queue() == 3  # queued and deferred jobs go; running ones stay
        await client.resume_queue()
    # --8<-- [end:produce]
