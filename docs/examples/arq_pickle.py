"""An aqueue worker serving a plain arq producer that uses arq's default codec (pickle)."""

import os
import pickle

from arq import create_pool
from arq.connections import RedisSettings


async def download(ctx, url: str) -> int:  # an arq task, unchanged
    return len(url)


async def parse(ctx, size: int) -> str:
    return f"{size} bytes"


# --8<-- [start:settings]
class WorkerSettings:
    functions = [download, parse]
    job_serializer = pickle.dumps  # what arq producers write by default
    job_deserializer = pickle.loads


# --8<-- [end:settings]


async def main() -> None:
    redis = await create_pool(RedisSettings.from_dsn(os.environ["AQUEUE_REDIS_URL"]))  # arq's own producer
    job = await redis.enqueue_job("download", "https://example.com/a.csv")
    assert await job.result(timeout=10) == 25
    assert (await job.info()).function == "download"
    await redis.aclose()
