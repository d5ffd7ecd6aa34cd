"""Deduplication, throttle and debounce: _unique, _unique_for, _debounce."""

import asyncio

import aqueue
from aqueue import JobContext, task

indexed: list[list[str]] = []


# --8<-- [start:tasks]
@task
async def rebuild_report(ctx: JobContext, account: str) -> str:
    await asyncio.sleep(0.2)  # expensive: never twice at once for one account
    return f"report for {account}"


@task
async def send_digest(ctx: JobContext, user: str) -> str:
    return f"digest sent to {user}"


@task
async def reindex(ctx: JobContext, doc_id: str, edits: list[str]) -> int:
    indexed.append(edits)
    return len(edits)


# --8<-- [end:tasks]


class WorkerSettings:
    functions = [rebuild_report, send_digest, reindex]


async def main() -> None:
    # --8<-- [start:unique]
    first = await rebuild_report.enqueue("acme", _unique="report:acme")
    again = await rebuild_report.enqueue("acme", _unique="report:acme")  # while the first is queued or runs
    assert again.job_id == first.job_id and again.deduplicated  # the same job, and it says so
    assert not first.deduplicated
    assert await again.result(timeout=10) == "report for acme"

    later = await rebuild_report.enqueue("acme", _unique="report:acme")  # the first one ended: a new job
    assert later.job_id != first.job_id and not later.deduplicated
    # --8<-- [end:unique]
    await later.result(timeout=10)

    # --8<-- [start:throttle]
    digest = await send_digest.enqueue("ada", _unique="digest:ada", _unique_for=3600)
    assert await digest.result(timeout=10) == "digest sent to ada"
    repeat = await send_digest.enqueue("ada", _unique="digest:ada", _unique_for=3600)
    assert repeat.deduplicated and repeat.job_id == digest.job_id  # within the hour: no second digest
    assert await repeat.result(timeout=1) == "digest sent to ada"  # the finished job's result
    # --8<-- [end:throttle]

    # --8<-- [start:debounce]
    edits: list[str] = []
    for edit in ("title", "body", "tags"):  # a burst of saves
        edits.append(edit)
        job = await reindex.enqueue("doc-9", list(edits), _unique="reindex:doc-9", _debounce=0.5)
    assert await job.result(timeout=10) == 3  # one run, 0.5 s after the last save, with its arguments
    assert indexed == [["title", "body", "tags"]]
    # --8<-- [end:debounce]
    await aqueue.close_default_client()
