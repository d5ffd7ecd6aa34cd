"""tasks.py: the worker side. Run it with `aqueue worker tasks.WorkerSettings`."""

import asyncio

from aqueue import task


@task
async def add(ctx, x: int, y: int) -> int:
    return x + y


@task(name="images.thumbnail", timeout=30)
async def thumbnail(ctx, image_id: int, width: int = 128) -> str:
    await asyncio.sleep(0.01)  # pretend to do the work
    return f"thumbnail of image {image_id}, {width} px wide (try {ctx['job_try']})"


class WorkerSettings:
    functions = [add, thumbnail]
