"""Extensions' Lua in the core scripts (``LuaHooks``): composed by a worker's ScriptRegistry into the
typed claim and finish wrappers, ``aq_hook_dead`` called after each dead letter, ``aq_hook_finish``
once per outcome the batched finish recorded (after the batch's deletions), never for a fenced one."""

from __future__ import annotations

import asyncio
from typing import Any

import redis as sync_redis

from aqueue import Client, task
from aqueue._clock import now_ms
from aqueue._redis.core import Claim, Enqueue, Finish
from aqueue._redis.scripts import ScriptRegistry
from aqueue._worker.queue_ops import QueueOps
from aqueue._worker.types import Outcome, OutcomeKind
from aqueue.extensions import LuaHooks, WorkerExtension
from tests.support import eventually

#: Each hook appends what it saw to ``{prefix}probe``; ``left`` counts the job's keys still there.
PROBE = LuaHooks(
    library="""
local function probe_finish(prefix, queue, id, kind)
  local left = redis.call('EXISTS', prefix .. 'job:' .. id, prefix .. 'in-progress:' .. id)
  redis.call('RPUSH', prefix .. 'probe', 'finish ' .. id .. ' ' .. kind .. ' ' .. left)
end
local function probe_dead(prefix, id, max_deliveries, now)
  local left = redis.call('EXISTS', prefix .. 'job:' .. id)
  redis.call('RPUSH', prefix .. 'probe', 'dead ' .. id .. ' ' .. max_deliveries .. ' ' .. left)
end
""",
    on_dead="probe_dead",
    on_finish="probe_finish",
)


class Probe(WorkerExtension):
    """An extension that only adds the probe's Lua."""

    def lua(self) -> LuaHooks:
        return PROBE


@task
async def noop(ctx: dict[str, Any], i: int) -> int:
    return i


def probed(sync_r: sync_redis.Redis) -> list[str]:
    return [entry.decode() for entry in sync_r.lrange("arq:probe", 0, -1)]


def hooked_ops(client: Client, lease_ms: int = 5000) -> QueueOps:
    registry = ScriptRegistry(client.transport, [PROBE])
    return QueueOps(registry, client.keys, client.default_queue, "w1", lease_ms)


def test_the_core_claim_and_finish_carry_the_hooks_they_are_given_and_no_layer() -> None:
    for script, dispatcher, call in (
        (Claim, "aq_hook_dead", "  probe_dead(prefix, id, max_deliveries, now, worker)"),
        (Finish, "aq_hook_finish", "  probe_finish(prefix, queue, id, kind)"),
    ):
        bare = script.source_text()
        assert "local function wf_" not in bare and "wf_dead_letter" not in bare  # no layer's Lua
        assert "probe" not in bare
        assert f"{dispatcher} = function(" in bare
        hooked = script.source_text([PROBE])
        probe = call.strip().partition("(")[0]
        assert hooked.index(f"local function {probe}(") < hooked.index(f"{dispatcher} = function(")
        assert call in hooked
    # each script carries only the dispatchers (and library functions) it reaches
    assert "aq_hook_dead = function(" not in Finish.source_text([PROBE])
    assert "local function probe_dead(" not in Finish.source_text([PROBE])
    enqueue = Enqueue.source_text([LuaHooks(on_enqueue="e1", on_enqueue_batch="e2", on_finish_batch="f")])
    assert "  e1(prefix, queue, id, payload, now)" in enqueue and "  e2(prefix, queue, now)" in enqueue
    assert "  f(prefix, queue, note, out)" in Finish.source_text([LuaHooks(on_finish_batch="f")])


async def test_a_batched_finish_calls_the_hook_once_per_recorded_outcome_after_its_deletions(
    client: Client, sync_r: sync_redis.Redis
) -> None:
    ids = [job.job_id for job in await client.enqueue_many("noop", [(i,) for i in range(4)]) if job]
    ops = hooked_ops(client)
    jobs, _ = await ops.claim(10, register_idle=False, max_deliveries=5)
    by_id = {job.job_id: job for job in jobs}
    assert sorted(by_id) == sorted(ids)
    ok, err, retry, lost = (by_id[i] for i in ids)
    outcomes = [
        Outcome(ok, OutcomeKind.OK, result=b"r", ttl_ms=60_000),
        Outcome(err, OutcomeKind.ERR, result=b"e", ttl_ms=60_000),
        Outcome(retry, OutcomeKind.RETRY, retry_score=now_ms() + 60_000),
        Outcome(lost._replace(token="someone-else:1"), OutcomeKind.OK, result=b"r", ttl_ms=60_000),
    ]
    assert await ops.finish(outcomes) == [True, True, True, False]
    assert probed(sync_r) == [
        f"finish {ok.job_id} ok 0",  # job and claim keys gone when the hook runs
        f"finish {err.job_id} err 0",
        f"finish {retry.job_id} retry 1",  # a retry keeps its job key, back in the queue
    ]


async def test_a_dead_letter_calls_the_hook_after_the_job_is_gone(
    client: Client, sync_r: sync_redis.Redis
) -> None:
    job = await client.enqueue("noop", 1)
    assert job is not None
    ops = hooked_ops(client, lease_ms=100)
    first, _ = await ops.claim(10, register_idle=False, max_deliveries=1)
    assert [j.job_id for j in first] == [job.job_id]
    await asyncio.sleep(0.15)  # the lease lapses: that delivery never finished
    again, _ = await ops.claim(10, register_idle=False, max_deliveries=1)
    assert again == []
    assert sync_r.zscore("arq:dead", job.job_id) is not None
    assert probed(sync_r) == [f"dead {job.job_id} 1 0"]


async def test_a_workers_registry_composes_its_extensions_hooks_beside_the_default_ones(
    client: Client, sync_r: sync_redis.Redis, run_worker: Any
) -> None:
    async with run_worker([noop], extensions=[Probe()], max_jobs=8) as worker:
        jobs = await client.enqueue_many("noop", [(i,) for i in range(20)])
        assert [await job.result(timeout=10) for job in jobs if job] == list(range(20))
        await eventually(lambda: len(probed(sync_r)) >= 20, "a hook call per job")
        assert worker.scripts is not None
        claim = worker.scripts.get(Claim).text
        assert "wf_dead_letter(prefix, id, max_deliveries, now, worker)" in claim  # the workflow layer's hook
        assert "probe_dead(prefix, id, max_deliveries, now, worker)" in claim
    assert sorted(probed(sync_r)) == sorted(f"finish {job.job_id} ok 0" for job in jobs if job)
