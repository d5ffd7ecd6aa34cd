"""A run's state in Redis: per-node status while running and after, and expiry after ``ttl``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pytest

from aqueue import Client
from aqueue.errors import ResultNotFound, WorkflowError
from aqueue.workflows import WorkflowRun, chain, group, si, sig
from aqueue.workflows._run import SUFFIXES
from tests.support import eventually
from tests.wf_tasks import ALL, Boom

pytestmark = pytest.mark.timeout(60)


async def pttls(client: Client, run: WorkflowRun) -> dict[str, int]:
    """Return the PTTL of each of the run's keys that exists."""
    found = {}
    for suffix in SUFFIXES:
        ttl = await client.redis.pttl(run.key(suffix))
        if ttl != -2:
            found[suffix] = ttl
    return found


async def started(client: Client, name: str) -> int:
    return int(await client.redis.llen(f"wft:start:{name}"))


async def test_status_while_running_and_after(client: Client, run_worker: Any) -> None:
    workflow = chain(sig("add", 1, 1), group(si("pause", "a", 0.6), si("pause", "b", 0.6)), sig("join", "j"))
    run = await client.run(workflow)
    before = await run.status()
    assert before.state == "running" and before.finished_ms is None
    assert [n.state for n in before.nodes] == ["queued", "waiting", "waiting", "waiting"]
    assert [n.task for n in before.nodes] == ["add", "pause", "pause", "join"]
    assert [n.parents for n in before.nodes] == [(), (0,), (0,), (1, 2)]
    async with run_worker(ALL, max_jobs=10):
        await eventually(lambda: _all(started(client, "a"), started(client, "b")), "a and b to start")
        during = await run.status()
        assert during.state == "running"
        assert [n.state for n in during.nodes] == ["done", "running", "running", "waiting"]
        assert during.counts() == {"done": 1, "running": 2, "waiting": 1}
        first = during.nodes[0]
        assert first.tries == 1 and first.started_ms is not None and first.finished_ms is not None
        assert first.started_ms <= first.finished_ms and first.error is None
        assert during.nodes[1].started_ms is None  # timing is written when a node ends
        assert await run.result(timeout=10) == ["j", ["a", "b"]]
    after = await run.status()
    assert after.state == "complete" and after.counts() == {"done": 4}
    assert after.started_ms is not None and after.finished_ms is not None
    assert after.finished_ms - after.started_ms >= 600
    for node in after.nodes:
        assert node.tries == 1 and node.started_ms is not None and node.finished_ms is not None
    assert after.nodes[1].finished_ms - after.nodes[1].started_ms >= 600  # type: ignore[operator]
    assert after.nodes[3].started_ms >= after.nodes[1].finished_ms  # type: ignore[operator]


async def _all(*checks: Awaitable[int]) -> bool:
    return all([await check for check in checks])


async def test_no_ttl_while_running_then_ttl_after(client: Client, run_worker: Any) -> None:
    workflow = chain(sig("add", 1, 1), si("pause", "p", 0.8), sig("echo", "x"))
    ttl = timedelta(seconds=30)
    async with run_worker(ALL, max_jobs=10):
        run = await client.run(workflow, ttl=ttl)
        await eventually(lambda: started(client, "p"), "p to start")
        while_running = await pttls(client, run)
        assert await run.result(timeout=10) == ["p", "x"]
    after = await pttls(client, run)
    assert set(while_running) == {"", ":spec", ":pending", ":state", ":results", ":times"}
    assert set(while_running.values()) == {-1}, while_running  # nothing expires while it runs
    assert set(after) == set(while_running)
    assert all(25_000 < t <= 30_000 for t in after.values()), after


async def test_failed_and_cancelled_runs_expire_too(client: Client, run_worker: Any) -> None:
    async with run_worker(ALL, max_jobs=10):
        failed = await client.run(sig("add", 1, 1) | si("fail", "x") | sig("inc"), ttl=timedelta(seconds=20))
        with pytest.raises(Boom):
            await failed.result(timeout=10)
        cancelled = await client.run(si("pause", "c", 5) | sig("inc"), ttl=timedelta(seconds=20))
        await eventually(lambda: started(client, "c"), "c to start")
        assert await cancelled.cancel()
    failed_ttls, cancelled_ttls = await pttls(client, failed), await pttls(client, cancelled)
    assert ":errors" in failed_ttls and all(15_000 < t <= 20_000 for t in failed_ttls.values()), failed_ttls
    assert all(15_000 < t <= 20_000 for t in cancelled_ttls.values()), cancelled_ttls


async def test_state_and_results_are_gone_after_ttl(client: Client, run_worker: Any) -> None:
    async with run_worker(ALL, max_jobs=10):
        run = await client.run(sig("add", 1, 1) | sig("inc"), ttl=timedelta(seconds=1))
        assert await run.result(timeout=10) == 3
        assert (await run.status()).state == "complete"
    await asyncio.sleep(1.2)
    assert await pttls(client, run) == {}
    with pytest.raises(ResultNotFound, match=run.run_id):
        await run.result(timeout=1)
    with pytest.raises(ResultNotFound, match=run.run_id):
        await run.status()
    # nothing of the run is left anywhere (job keys, claims, retry counters, queue entries)
    leftovers = [k.decode() for k in await client.redis.keys("*") if run.run_id.encode() in k]
    assert leftovers == []
    assert await client.redis.zcard(client.default_queue) == 0


async def test_empty_workflow_completes_at_once_and_expires(client: Client) -> None:
    run = await client.run(group(), ttl=timedelta(seconds=10))
    assert await run.result(timeout=1) == []
    ttls = await pttls(client, run)
    assert set(ttls) == {""} and 5_000 < ttls[""] <= 10_000


async def test_a_run_id_in_use_is_refused(client: Client, run_worker: Any) -> None:
    async with run_worker(ALL, max_jobs=10):
        first = await client.run(sig("add", 1, 1) | si("fail", "x"), run_id="dup", ttl=timedelta(seconds=60))
        with pytest.raises(Boom):
            await first.result(timeout=10)
        before = await client.redis.hgetall(first.key())  # type: ignore[misc]
        with pytest.raises(WorkflowError, match="run dup exists already"):
            await client.run(sig("add", 2, 2), run_id="dup")
        assert await client.redis.hgetall(first.key()) == before  # type: ignore[misc]
        assert await client.redis.zcard(client.default_queue) == 0
        # two producers racing for one new id: exactly one starts it
        starts = await asyncio.gather(
            *(client.run(sig("add", i, i), run_id="race") for i in range(5)), return_exceptions=True
        )
        started_runs = [s for s in starts if isinstance(s, WorkflowRun)]
        assert len(started_runs) == 1, starts
        assert all(isinstance(s, WorkflowError) for s in starts if s not in started_runs)
        assert await started_runs[0].result(timeout=10) in {i + i for i in range(5)}
    assert await client.redis.llen("wft:calls:add") == 2


async def test_a_node_queued_longer_than_ttl_still_ends_the_run(client: Client, run_worker: Any) -> None:
    run = await client.run(sig("add", 1, 1) | sig("inc"), ttl=timedelta(milliseconds=300))
    await asyncio.sleep(0.4)  # no worker yet: the root waits in the queue past the ttl
    async with run_worker(ALL, max_jobs=10):
        try:
            await run.result(timeout=1.5)
        except Exception as e:  # any end (an error or a result) is fine; hanging is the bug
            assert "did not finish in time" not in str(e), e
