"""Failures on real workers: fail fast once a node's own retries are spent, error callbacks, cancel."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from aqueue import Client, MaxTriesExceeded, SerializationError, UnknownTaskError
from aqueue._worker.queue_ops import QueueOps
from aqueue.errors import WorkflowCancelled
from aqueue.workflows import NodeState, RunState, WorkflowRun, chain, chord, group, si, sig
from tests.support import eventually
from tests.wf_tasks import ALL, Boom, calls

pytestmark = pytest.mark.timeout(60)


async def errbacks(client: Client, expected: int) -> list[tuple[str, Any]]:
    """Wait for ``expected`` error-callback calls, then make sure no more come; return them."""

    async def read() -> list[tuple[str, Any]]:
        raw = await client.redis.lrange("wft:errbacks", 0, -1)  # type: ignore[misc]
        return [tuple(orjson.loads(x)) for x in raw]  # type: ignore[misc]

    await eventually(lambda: _at_least(read, expected), f"{expected} error callbacks")
    await asyncio.sleep(0.5)  # a duplicate would show up by now
    found = await read()
    assert len(found) == expected, found
    return found


async def _at_least(read: Callable[[], Awaitable[list[Any]]], n: int) -> bool:
    return len(await read()) >= n


def check_info(info: dict[str, Any], run: WorkflowRun, node: int, task: str, exc_type: str) -> None:
    assert set(info) >= {"run_id", "node", "task", "exc_type", "message", "traceback"}
    assert (info["run_id"], info["node"], info["task"], info["exc_type"]) == (
        run.run_id,
        node,
        task,
        exc_type,
    )
    assert info["job_id"] == f"{run.run_id}:{node}"
    assert "Traceback" in info["traceback"] and exc_type in info["traceback"]


async def test_retries_spent_then_fail_fast_with_callbacks(client: Client, run_worker: Any) -> None:
    workflow = chain(
        sig("add", 1, 1),
        si("flaky", "bad input").set(max_tries=3).on_error(sig("errback", "node")),
        sig("inc"),
        group(sig("tag", "never-1"), sig("tag", "never-2")),
    )
    async with run_worker(ALL, max_jobs=10):
        run = await client.run(workflow, on_error=sig("errback", "workflow"))
        with pytest.raises(MaxTriesExceeded) as caught:
            await run.result(timeout=20)
        found = await errbacks(client, 2)
    message = "flaky: gave up after 3 of 3 tries; last error Boom: bad input (try 3)"
    assert str(caught.value) == message
    assert len(await calls(client, "flaky")) == 3  # its own retries ran first (set(max_tries=3) < 5)
    assert await calls(client, "inc") == [] and await calls(client, "tag") == []
    assert sorted(label for label, _ in found) == ["node", "workflow"]
    for _, info in found:
        check_info(info, run, 1, "flaky", "MaxTriesExceeded")
        assert info["message"] == message
    status = await run.status()
    assert status.state is RunState.FAILED
    done, failed, cancelled = NodeState.DONE, NodeState.FAILED, NodeState.CANCELLED
    assert [n.state for n in status.nodes] == [done, failed, cancelled, cancelled, cancelled]
    assert all(isinstance(n.state, NodeState) for n in status.nodes)
    assert status.nodes[1].tries == 3 and status.nodes[1].error == f"MaxTriesExceeded: {message}"


async def test_error_is_reraised_as_its_own_type(client: Client, run_worker: Any) -> None:
    async with run_worker(ALL, max_jobs=10):
        run = await client.run(sig("add", 1, 1) | si("fail", "kaboom") | sig("inc"))
        with pytest.raises(Boom) as caught:
            await run.result(timeout=10)
        assert str(caught.value) == "kaboom"
        retried = await client.run(sig("retry_then_fail", "x") | sig("inc"))
        with pytest.raises(MaxTriesExceeded, match="used up its 3 tries"):
            await retried.result(timeout=10)
    assert len(await calls(client, "fail")) == 1  # no retry_on: no retries
    assert len(await calls(client, "retry_then_fail")) == 3  # Retry until max_tries (task option)
    assert await calls(client, "inc") == []


async def test_chord_with_a_failing_member_never_calls_back(client: Client, run_worker: Any) -> None:
    header = [
        sig("add", 1, 1),
        sig("fail", "member"),
        chain(sig("pause", "slow", 0.5), sig("tag", "after-slow")),  # pending when the chord fails
    ]
    async with run_worker(ALL, max_jobs=10):
        run = await client.run(chord(header, sig("xsum")).on_error(sig("errback", "chord")))
        with pytest.raises(Boom, match="member"):
            await run.result(timeout=10)
        found = await errbacks(client, 1)
        await eventually(lambda: client.redis.llen("wft:finish:slow"), "the running member to end")
        await asyncio.sleep(0.3)
    assert await calls(client, "xsum") == []
    assert await calls(client, "tag") == []  # it waited on a running node when the run failed
    check_info(found[0][1], run, 1, "fail", "Boom")
    assert found[0][1]["message"] == "member"
    status = await run.status()
    states = {n.id: n.state for n in status.nodes}
    # the member that was running when the run failed ran to its end: it shows as done, not queued
    assert states == {0: "done", 1: "failed", 2: "done", 3: "cancelled", 4: "cancelled"}


async def test_a_retrying_node_stops_when_the_run_fails(client: Client, run_worker: Any) -> None:
    """A sibling busy in an attempt that will ask for a retry: once the run failed, no new try."""
    workflow = group(si("retry_forever", 0.2), si("pause", "w", 0.3) | si("fail", "x"))
    async with run_worker(ALL, max_jobs=10):
        run = await client.run(workflow)
        with pytest.raises(Boom):
            await run.result(timeout=10)
        tries_at_failure = len(await calls(client, "retry_forever"))
        await asyncio.sleep(1.0)
        tries_later = len(await calls(client, "retry_forever"))
        status = await run.status()
    assert tries_at_failure >= 1
    assert tries_later == tries_at_failure  # the attempt running at the failure was the last
    assert await client.redis.zcard(client.default_queue) == 0
    assert status.nodes[0].state == "cancelled"


async def test_nearest_callback_wins_and_immutable_gets_nothing(client: Client, run_worker: Any) -> None:
    inner = si("fail", "inner").on_error(si("errback_static", "own"))
    workflow = chain(sig("add", 1, 1), group(sig("inc"), inner)).on_error(sig("errback", "chain"))
    async with run_worker(ALL, max_jobs=10):
        run = await client.run(workflow, on_error=sig("errback", "workflow"))
        with pytest.raises(Boom):
            await run.result(timeout=10)
        found = await errbacks(client, 2)
    assert sorted(label for label, _ in found) == ["own", "workflow"]
    assert dict(found)["own"] is None


async def test_parallel_failures_call_back_once(client: Client, run_worker: Any) -> None:
    workflow = group(sig("fail", f"f{i}").on_error(sig("errback", f"node{i}")) for i in range(6))
    async with run_worker(ALL, max_jobs=10):
        run = await client.run(workflow, on_error=sig("errback", "workflow"))
        with pytest.raises(Boom) as caught:
            await run.result(timeout=10)
        assert str(caught.value) in {f"f{i}" for i in range(6)}
        await asyncio.sleep(0.3)  # every member ran: the first failure wins, the rest are late
        raw = await client.redis.lrange("wft:errbacks", 0, -1)  # type: ignore[misc]
    labels = Counter(orjson.loads(x)[0] for x in raw)
    failed_node = int(str(caught.value)[1:])
    assert labels == Counter({"workflow": 1, f"node{failed_node}": 1})
    status = await run.status()
    assert [n.state for n in status.nodes] == ["failed"] * 6  # every member ran and failed
    assert [n.id for n in status.nodes if n.error] == [failed_node]  # the run's error is the first


async def test_cancel_aborts_running_and_stops_pending(client: Client, run_worker: Any) -> None:
    workflow = chain(
        sig("add", 1, 1),
        group(si("pause", "long", 30), si("pause", "long2", 30)),
        sig("tag", "never"),
    )
    async with run_worker(ALL, max_jobs=10, lease_s=1.0) as worker:
        run = await client.run(workflow, on_error=sig("errback", "workflow"))
        await eventually(
            lambda: _all_started(client, "long", "long2"),
            "both long nodes to start",
        )
        running = await run.status()
        assert [n.state for n in running.nodes] == ["done", "running", "running", "waiting"]
        started = time.monotonic()
        assert await run.cancel() is True
        assert await run.cancel() is False  # it has ended
        with pytest.raises(WorkflowCancelled):
            await run.result(timeout=5)
        ids = [client.keys.in_progress(f"{run.run_id}:{n}") for n in (1, 2)]
        await eventually(lambda: _none_exist(client, ids), "the running nodes to be aborted", timeout=5)
        aborted_after = time.monotonic() - started
        await asyncio.sleep(0.5)
        assert worker.jobs_failed == 2  # both recorded as aborted (JobAborted), not as successes
    assert aborted_after < 3
    assert await client.redis.llen("wft:finish:long") == 0  # the sleeps never ran to the end
    assert await client.redis.llen("wft:finish:long2") == 0
    assert await calls(client, "tag") == []
    assert await client.redis.llen("wft:errbacks") == 0  # a cancellation is not a failure
    status = await run.status()
    assert status.state == "cancelled"
    # the aborted nodes show as cancelled, not as queued
    assert [n.state for n in status.nodes] == ["done", "cancelled", "cancelled", "cancelled"]


async def _all_started(client: Client, *names: str) -> bool:
    return all([await client.redis.llen(f"wft:start:{name}") for name in names])


async def _none_exist(client: Client, keys: list[str]) -> bool:
    return await client.redis.exists(*keys) == 0


async def test_cancel_before_any_worker_runs_nothing(client: Client, run_worker: Any) -> None:
    run = await client.run(group(sig("tag", "a"), sig("tag", "b")) | sig("join", "c"))
    assert await client.redis.zcard(client.default_queue) == 2
    assert await run.cancel() is True
    assert await client.redis.zcard(client.default_queue) == 0
    async with run_worker(ALL, max_jobs=10):
        await asyncio.sleep(0.5)
    assert await client.redis.llen("wft:ran") == 0
    assert [n.state for n in (await run.status()).nodes] == ["cancelled"] * 3
    with pytest.raises(WorkflowCancelled):
        await run.result(timeout=1)


async def test_unknown_task_and_unencodable_result_fail_the_run(client: Client, run_worker: Any) -> None:
    async with run_worker(ALL, max_jobs=10) as worker:
        unknown = await client.run(sig("add", 1, 1) | sig("no.such.task") | sig("inc"))
        with pytest.raises(UnknownTaskError, match="no task named 'no.such.task'"):
            await unknown.result(timeout=10)
        bad = await client.run(sig("unencodable") | sig("inc"))
        with pytest.raises(SerializationError, match="unencodable value"):
            await bad.result(timeout=10)
        # the worker counts what it recorded: add succeeded; the unknown task and the node whose value
        # could not be encoded failed (the latter used to be counted as complete)
        await eventually(lambda: worker.jobs_complete + worker.jobs_failed >= 3, "3 recorded outcomes")
        assert (worker.jobs_complete, worker.jobs_failed) == (1, 2)
    assert await calls(client, "inc") == []


async def test_a_dead_lettered_node_ends_the_run(client: Client, run_worker: Any) -> None:
    run = await client.run(sig("add", 1, 1) | sig("inc"))
    ops = QueueOps(client.scripts, client.keys, client.default_queue, "doomed", 100)
    for _ in range(2):  # two deliveries whose workers die before recording anything
        jobs, _ = await ops.claim(10, register_idle=False, max_deliveries=0)
        assert [j.job_id for j in jobs] == [f"{run.run_id}:0"]
        await asyncio.sleep(0.15)
    async with run_worker(ALL, max_jobs=10, max_deliveries=2):
        await eventually(lambda: client.redis.zscore(client.keys.dead, f"{run.run_id}:0"), "dead-lettering")
        with pytest.raises(Exception) as caught:
            await run.result(timeout=1.5)
    assert "did not finish in time" not in str(caught.value)
