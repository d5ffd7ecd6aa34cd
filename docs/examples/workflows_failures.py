"""Workflow failures: fail fast, error callbacks, per-signature options, cancelling a run."""

import asyncio

import aqueue
from aqueue import JobContext, task
from aqueue.workflows import FailureInfo, NodeState, RunState, chain, group, si, sig

alerts: list[tuple[str, FailureInfo]] = []


class Invalid(ValueError):
    pass


@task
async def add(ctx: JobContext, x: int, y: int) -> int:
    return x + y


@task
async def validate(ctx: JobContext, value: int) -> int:
    if value > 10:
        raise Invalid(f"{value} is too large")
    return value


@task
async def sleep(ctx: JobContext, seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


# --8<-- [start:errback]
@task
async def alert(ctx: JobContext, failure: FailureInfo, channel: str) -> None:
    alerts.append((channel, failure))  # page someone, mark a record as failed, ...


# --8<-- [end:errback]


class WorkerSettings:
    functions = [add, validate, sleep, alert]


async def main() -> None:
    async with aqueue.Client() as client:
        # --8<-- [start:fail]
        flow = chain(sig("add", 5, 6), sig("validate"), group(sig("add", 1), sig("add", 2)))
        run = await client.run(flow.on_error(sig("alert", "#ops")))
        try:
            await run.result(timeout=10)
        except Invalid as e:  # the failing node's own exception
            assert str(e) == "11 is too large"
        else:
            raise AssertionError("11 is too large")
        status = await run.status()
        assert status.state is RunState.FAILED
        assert [n.state for n in status.nodes] == [
            NodeState.DONE,
            NodeState.FAILED,
            NodeState.CANCELLED,  # never started
            NodeState.CANCELLED,
        ]
        # --8<-- [end:fail]
        await _until(lambda: alerts)
        # --8<-- [start:failure_info]
        channel, failure = alerts[0]
        assert channel == "#ops"
        assert (failure["task"], failure["node"], failure["exc_type"]) == ("validate", 1, "Invalid")
        assert failure["message"] == "11 is too large" and failure["run_id"] == run.run_id
        # --8<-- [end:failure_info]

        # --8<-- [start:options]
        step = sig("sleep", 5).set(timeout=0.2, max_tries=1, queue="arq:queue")
        run = await client.run(step)
        try:
            await run.result(timeout=10)
        except TimeoutError as e:
            assert str(e) == "sleep timed out after 0.2s"
        else:
            raise AssertionError("5 s do not fit in 0.2 s")
        # --8<-- [end:options]

        # --8<-- [start:cancel]
        run = await client.run(si("sleep", 30) | si("add", 1, 1), run_id="nightly-2026-12-01")
        await _until(lambda: _running(run))
        assert await run.cancel()  # the running node is aborted, the pending one never starts
        try:
            await run.result(timeout=5)
        except aqueue.WorkflowCancelled:
            pass
        else:
            raise AssertionError("a cancelled run has no result")
        # --8<-- [end:cancel]
        assert [n.state for n in (await run.status()).nodes] == [NodeState.CANCELLED] * 2


async def _running(run) -> bool:
    return (await run.status()).nodes[0].state is NodeState.RUNNING


async def _until(check) -> None:
    for _ in range(500):
        found = check()
        if asyncio.iscoroutine(found):
            found = await found
        if found:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")
