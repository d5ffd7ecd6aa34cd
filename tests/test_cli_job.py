"""``aqueue job ID --follow`` and ``aqueue job abort ID`` against a real worker (the in-process one)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from aqueue import Client, task
from tests.conftest import run_cli
from tests.support import eventually

pytestmark = pytest.mark.transport("wire")  # the CLI's client is the same on both: once is enough
GATE: dict[str, asyncio.Event] = {}


@task
async def steps(ctx: dict[str, Any], fail: bool) -> str:
    for step in range(1, 4):
        await ctx["progress"](step / 3, f"step {step}")
        await asyncio.sleep(0.3)
    if fail:
        raise ValueError("step 4 broke")
    return "all steps"


@task
async def held(ctx: dict[str, Any]) -> None:
    await GATE["held"].wait()


async def cli(*args: str, redis_url: str) -> Any:
    return await asyncio.to_thread(run_cli, *args, redis_url=redis_url)


async def test_follow_waits_for_the_end_and_prints_the_result(
    client: Client, run_worker: Any, redis_url: str
) -> None:
    async with run_worker([steps]):
        ok = await client.enqueue("steps", False, _job_id="ok")
        bad = await client.enqueue("steps", True, _job_id="bad")
        assert ok is not None and bad is not None
        followed, failed = await asyncio.gather(
            cli("job", "ok", "--follow", redis_url=redis_url),
            cli("job", "bad", "--follow", "--json", redis_url=redis_url),
        )
    assert followed.returncode == 0, followed.stderr
    assert "job ok: complete" in followed.stdout and "'all steps'" in followed.stdout
    assert failed.returncode == 1 and failed.stderr.strip().endswith("ValueError: step 4 broke")
    document = orjson.loads(failed.stdout)
    assert document["status"] == "complete" and document["result"]["success"] is False
    missing = await cli("job", "nobody", "--follow", redis_url=redis_url)
    assert missing.returncode == 1 and "no job 'nobody'" in missing.stderr


async def test_abort_stops_a_running_job(client: Client, run_worker: Any, redis_url: str) -> None:
    GATE["held"] = asyncio.Event()
    async with run_worker([held]):
        job = await client.enqueue("held", _job_id="stuck")
        assert job is not None
        await eventually(lambda: client.redis.exists(client.keys.in_progress("stuck")), "the job to run")
        aborted = await cli("job", "abort", "stuck", redis_url=redis_url)
        assert aborted.returncode == 0, aborted.stderr
        assert aborted.stdout.strip() == "aborted stuck"
    missing = await cli("job", "abort", "nobody", redis_url=redis_url)
    assert missing.returncode == 1 and "no job 'nobody'" in missing.stderr
    shown = await cli("job", "stuck", redis_url=redis_url)
    assert shown.returncode == 0 and "failed" in shown.stdout
    assert (await cli("job", redis_url=redis_url)).returncode == 2
