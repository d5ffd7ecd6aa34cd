"""Dead letters: listing and requeueing, through the API and the CLI."""

from __future__ import annotations

from typing import Any

from aqueue import Client, task
from aqueue.dead import list_dead, requeue_dead
from tests.conftest import run_cli
from tests.support import eventually


@task
async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    return x + y


async def make_dead(client: Client, job_id: str, deliveries: int = 3) -> None:
    """Simulate a job whose worker died ``deliveries`` times: tries counted, history in place, no outcome."""
    await client.enqueue("add", 1, 2, _job_id=job_id)
    await client.redis.set(client.keys.retry(job_id), deliveries)
    history = " ".join(f"w{n}@{n}" for n in range(deliveries))
    await client.redis.hset(client.keys.deliveries, job_id, history)  # type: ignore[misc]


async def test_claim_moves_over_delivered_job_to_dead_letters(client: Client, run_worker: Any) -> None:
    await make_dead(client, "doomed", deliveries=3)
    async with run_worker([add], max_deliveries=3) as worker:
        ok = await client.enqueue("add", 2, 2)
        assert await ok.result(timeout=5) == 4  # type: ignore[union-attr]
        await eventually(lambda: worker.jobs_complete == 1, "the worker to count it")
    dead = await list_dead(client)
    assert [d.job_id for d in dead] == ["doomed"]
    assert dead[0].function == "add" and dead[0].history == ("w0@0", "w1@1", "w2@2")
    assert await client.redis.zscore(client.default_queue, "doomed") is None


async def test_requeue_runs_the_job_again(client: Client, run_worker: Any) -> None:
    await make_dead(client, "doomed", deliveries=3)
    async with run_worker([add], max_deliveries=3):
        await client.enqueue("add", 0, 0, _job_id="marker")
        await client.job("marker").result(timeout=5)
        assert len(await list_dead(client)) == 1
        assert await requeue_dead(client) == 1
        assert await client.job("doomed").result(timeout=5) == 3
    assert await list_dead(client) == []


def test_dead_cli(redis_url: str, sync_r: Any) -> None:
    sync_r.zadd("arq:dead", {"j1": 1})
    sync_r.hset(
        "arq:dead:j1",
        mapping={
            "payload": b'{"f":"add","a":[1,2],"k":{},"t":null,"et":1}',
            "queue": "arq:queue",
            "tries": 3,
            "history": '["w@1"]',
        },
    )
    listed = run_cli("dead", "list", redis_url=redis_url)
    assert listed.returncode == 0, listed.stderr
    assert "j1  add  queue=arq:queue  tries=3  deliveries=w@1" in listed.stdout
    requeued = run_cli("dead", "requeue", "--all", redis_url=redis_url)
    assert requeued.stdout.strip() == "requeued 1 jobs"
    assert sync_r.zscore("arq:queue", "j1") is not None
    assert sync_r.exists("arq:dead:j1") == 0
