"""Redis behind Sentinel: workers and producers ask the sentinels where the master is."""

import os

from arq.connections import RedisSettings

import aqueue
from aqueue import JobContext, task


@task
async def add(ctx: JobContext, x: int, y: int) -> int:
    return x + y


# --8<-- [start:settings]
def sentinels(spec: str) -> list[tuple[str, int]]:
    """Read "host:port,host:port" (e.g. from the environment) into Sentinel addresses."""
    return [(host, int(port)) for host, port in (item.rsplit(":", 1) for item in spec.split(","))]


REDIS = RedisSettings(
    host=sentinels(os.environ.get("REDIS_SENTINELS", "localhost:26379")),
    sentinel=True,
    sentinel_master="mymaster",  # the name the sentinels monitor the master under
    password=os.environ.get("REDIS_PASSWORD"),  # the master's password, if it has one
)


class WorkerSettings:
    functions = [add]
    redis_settings = REDIS


async def main() -> None:
    async with aqueue.Client(REDIS) as client:  # producers use the same settings
        job = await client.enqueue("add", 1, 2)
        assert await job.result(timeout=10) == 3


# --8<-- [end:settings]
