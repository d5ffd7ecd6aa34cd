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
    await with_a_url()


# --8<-- [end:settings]


# --8<-- [start:url]
#: The same deployment as a URL (AQUEUE_REDIS_URL, --redis, redis_settings take it too): the sentinels,
#: the master's name, the database. The data nodes' password goes before "@", the sentinels' own (for
#: sentinels with requirepass) in ?sentinel_password=…
URL = f"redis+sentinel://{os.environ.get('REDIS_SENTINELS', 'localhost:26379')}/mymaster/0"


async def with_a_url() -> None:
    async with aqueue.Client(URL) as client:
        print(client.address)  # redis+sentinel://localhost:26379/mymaster/0: never a password
        job = await client.enqueue("add", 2, 3)  # rides through a failover: see "Sentinel"
        assert await job.result(timeout=10) == 5


# --8<-- [end:url]
