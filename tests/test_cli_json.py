"""``--json`` on the read commands: one JSON document, stable field names, ISO-8601 UTC times."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from aqueue import Client, task
from aqueue._worker.queue_ops import QueueOps
from tests.conftest import run_cli


@task
async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    await ctx["progress"](50, "half way")
    return x + y


@task
async def fail(ctx: dict[str, Any]) -> None:
    raise ValueError("bad input")


async def cli_json(*args: str, redis_url: str) -> Any:
    done = await asyncio.to_thread(run_cli, *args, "--json", redis_url=redis_url)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) == 1  # one document
    return orjson.loads(done.stdout)


async def test_job_and_status_json(client: Client, run_worker: Any, redis_url: str) -> None:
    async with run_worker([add, fail]):
        ok = await client.enqueue("add", 2, 3)
        bad = await client.enqueue("fail")
        assert ok is not None and bad is not None
        assert await ok.result(timeout=5) == 5
        await asyncio.wait_for(_finished(bad), 5)
    shown = await cli_json("job", ok.job_id, redis_url=redis_url)
    assert shown["job_id"] == ok.job_id and shown["status"] == "complete"
    assert shown["progress"]["value"] == 50 and shown["progress"]["message"] == "half way"
    result = shown["result"]
    assert (result["success"], result["result"], result["job_try"], result["function"]) == (True, 5, 1, "add")
    assert result["finish_time"].endswith("+00:00") and result["args"] == [2, 3]
    failed = await cli_json("job", bad.job_id, redis_url=redis_url)
    assert failed["result"]["success"] is False
    assert failed["result"]["result"] == {"type": "ValueError", "message": "bad input"}
    status = await cli_json("status", redis_url=redis_url)
    assert set(status) == {
        *("queue", "due", "later_or_running", "dead", "paused", "workers"),
        *("groups", "grouped", "held_back"),
    }
    assert status["queue"] == "arq:queue" and status["due"] == 0


async def _finished(job: Any) -> None:
    while await job.result_info() is None:
        await asyncio.sleep(0.02)


async def test_dead_list_json(client: Client, redis_url: str) -> None:
    job = await client.enqueue("add", 1, 1)
    assert job is not None
    ops = QueueOps(client.scripts, client.keys, client.default_queue, "doomed", 100)
    for _ in range(2):  # deliveries whose worker dies before recording anything
        await ops.claim(10, register_idle=False, max_deliveries=0)
        await asyncio.sleep(0.15)
    await ops.claim(10, register_idle=False, max_deliveries=2)
    dead = await cli_json("dead", "list", redis_url=redis_url)
    assert [d["job_id"] for d in dead] == [job.job_id]
    assert dead[0]["function"] == "add" and dead[0]["dead_at"].endswith("+00:00")
    assert len(dead[0]["history"]) == 2
