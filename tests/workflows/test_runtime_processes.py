"""Workflows across real worker processes: SIGKILL mid-run, racing processes, ``aqueue workflow show``.

The workers are ``python -m aqueue worker tests.wf_tasks.ShortLeaseSettings`` children (1 s lease);
their tasks record starts and finishes as ``pid:try`` under ``wft:`` keys.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from aqueue import Client
from aqueue._clock import now_ms
from aqueue.workflows import Dag, chain, chord, group, si, sig
from tests.conftest import aqueue_cli, run_cli
from tests.support import LoggedProcess, eventually
from tests.wf_tasks import ALL, CALLS, Boom


class WorkerProcess(LoggedProcess):
    """A ``python -m aqueue worker`` child whose output is collected by a reader thread."""

    def __init__(self, redis_url: str, settings: str = "ShortLeaseSettings") -> None:
        super().__init__(aqueue_cli("worker", f"tests.wf_tasks.{settings}", redis_url=redis_url), "worker")


@pytest.fixture
def workers(redis_url: str) -> Iterator[Callable[[int], Awaitable[list[WorkerProcess]]]]:
    started: list[WorkerProcess] = []

    async def start(n: int) -> list[WorkerProcess]:
        batch = [WorkerProcess(redis_url) for _ in range(n)]
        started.extend(batch)
        return [await w.ready() for w in batch]

    try:
        yield start
    finally:
        for w in started:
            w.kill()


async def marks(client: Client, key: str) -> list[tuple[int, int]]:
    """Return the ``pid:try`` marks under ``key`` as (pid, try) pairs."""
    raw = await client.redis.lrange(key, 0, -1)  # type: ignore[misc]
    return [(int(p), int(t)) for p, t in (x.decode().split(":") for x in raw)]


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_sigkill_mid_workflow_reruns_only_the_interrupted_node(client: Client, workers: Any) -> None:
    procs = await workers(2)
    workflow = chain(
        group(si("pause", "a1", 0.05), si("pause", "a2", 0.05)),
        si("pause", "b", 30),
        group(si("pause", "c1", 0.05), si("pause", "c2", 0.05)),
    )
    run = await client.run(workflow)
    first = await eventually(lambda: marks(client, "wft:start:b"), "b to start")
    assert len(first) == 1
    victim_pid, _ = first[0]
    victim = next(w for w in procs if w.proc.pid == victim_pid)
    survivor = next(w for w in procs if w is not victim)
    await client.redis.set("wft:duration:b", 0.2)  # b's next attempt is short
    killed_at = time.monotonic()
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(10)
    assert await run.result(timeout=30) == ["c1", "c2"]
    recovered_in = time.monotonic() - killed_at
    assert await marks(client, "wft:start:b") == [(victim_pid, 1), (survivor.proc.pid, 2)]
    assert await marks(client, "wft:finish:b") == [(survivor.proc.pid, 2)]
    for name in ("a1", "a2", "c1", "c2"):  # finished nodes never re-run
        assert len(await marks(client, f"wft:start:{name}")) == 1, name
        assert len(await marks(client, f"wft:finish:{name}")) == 1, name
    status = await run.status()
    assert status.state == "complete"
    assert [n.tries for n in status.nodes] == [1, 1, 2, 1, 1]
    assert recovered_in < 10, recovered_in  # a 1 s lease: b is due again about 1 s after the kill
    assert "Traceback" not in survivor.log


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_racing_processes_release_each_fan_in_once(client: Client, workers: Any) -> None:
    procs = await workers(3)
    when = now_ms() + 1500
    dag = Dag()
    a = dag.add(sig("add", 1, 1))
    parents = [dag.add(si("at", f"p{i}", when), after=a) for i in range(8)]
    dag.add(sig("join", "fan-in"), after=parents)
    runs = [
        *[
            await client.run(chord([si("at", f"m{i}", when) for i in range(12)], sig("join", "c")))
            for _ in range(5)
        ],
        *[await client.run(dag.build()) for _ in range(5)],
    ]
    results = await asyncio.gather(*(r.result(timeout=30) for r in runs))
    assert results[:5] == [["c", [f"m{i}" for i in range(12)]]] * 5
    assert results[5:] == [["fan-in", [f"p{i}" for i in range(8)]]] * 5
    joins = Counter(x.decode() for x in await client.redis.lrange(CALLS + "join", 0, -1))  # type: ignore[misc]
    ats = Counter(x.decode() for x in await client.redis.lrange(CALLS + "at", 0, -1))  # type: ignore[misc]
    assert len(joins) == 10 and set(joins.values()) == {1}
    assert len(ats) == 5 * 12 + 5 * 8 and set(ats.values()) == {1}
    raw = await client.redis.lrange("wft:at-by", 0, -1)  # type: ignore[misc]
    pids = {int(x.decode().split(" ")[1].split("-")[-2]) for x in raw}
    assert pids <= {w.proc.pid for w in procs} and len(pids) >= 2, pids


def show(run_id: str, redis_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli("workflow", "show", run_id, *extra, redis_url=redis_url)


@pytest.mark.timeout(60)
async def test_workflow_show(client: Client, run_worker: Any, redis_url: str) -> None:
    workflow = chain(sig("add", 1, 1), group(si("pause", "p", 2.0), si("fail", "it broke")), sig("join", "j"))
    async with run_worker(ALL, max_jobs=10):
        run = await client.run(workflow)
        await eventually(lambda: client.redis.llen("wft:start:p"), "p to start")
        # while it runs (the failure may or may not be recorded yet: only the first node is certain)
        during = show(run.run_id, redis_url)
        with pytest.raises(Boom, match="it broke"):
            await run.result(timeout=10)
        await eventually(lambda: client.redis.llen("wft:finish:p"), "p to end")
        await asyncio.sleep(0.2)
    assert during.returncode == 0, during.stderr
    assert during.stdout.startswith(f"workflow {run.run_id}: ")
    assert re.search(r"^0\s+add\s+done\s+-\s+\d\d:\d\d:\d\d\.\d{3}\s+\d+ ms\s+1\s*$", during.stdout, re.M)
    assert re.search(r"^1\s+pause\s+running\s+0\s+-\s+-\s+-\s*$", during.stdout, re.M), during.stdout

    done = show(run.run_id, redis_url)
    assert done.returncode == 0 and done.stderr == ""
    out = done.stdout
    print(out)
    assert out.startswith(f"workflow {run.run_id}: failed (1 cancelled, 2 done, 1 failed)\n")
    assert re.search(r"^started \d\d:\d\d:\d\d\.\d{3} UTC, finished \d\d:\d\d:\d\d\.\d{3} UTC$", out, re.M)
    assert re.search(r"^node\s+task\s+state\s+after\s+started\s+took\s+tries\s+error$", out, re.M)
    assert re.search(r"^2\s+fail\s+failed\s+0\s+\S+\s+\d+ ms\s+1\s+Boom: it broke$", out, re.M), out
    assert re.search(r"^1\s+pause\s+done\s+0\s", out, re.M), out  # ran on past the failure
    assert re.search(r"^3\s+join\s+cancelled\s+1,2\s+-\s+-\s+-$", out, re.M), out

    as_json = show(run.run_id, redis_url, "--json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["run_id"] == run.run_id and data["state"] == "failed"
    assert [n["state"] for n in data["nodes"]] == ["done", "done", "failed", "cancelled"]
    assert data["nodes"][2]["error"] == "Boom: it broke"


@pytest.mark.timeout(60)
def test_workflow_show_unknown_run(redis_url: str) -> None:
    done = show("no-such-run", redis_url)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith("error: ") and "no-such-run" in lines[0]


@pytest.mark.timeout(60)
async def test_a_stopping_worker_takes_no_new_steps(client: Client, run_worker: Any) -> None:
    async with run_worker(ALL, max_jobs=5, job_completion_wait=5) as worker:
        run = await client.run(chain(si("pause", f"s{i}", 0.1) for i in range(12)))
        await eventually(lambda: client.redis.llen("wft:start:s2"), "step 2 to start")
        worker.request_stop()  # graceful: let s2 finish, start nothing new
        for _ in range(100):
            if not worker._running:
                break
            await asyncio.sleep(0.05)
    started = [i for i in range(12) if await client.redis.llen(f"wft:start:s{i}")]
    assert started == [0, 1, 2], started
    assert (await run.status()).counts() == {"done": 3, "queued": 1, "waiting": 8}
