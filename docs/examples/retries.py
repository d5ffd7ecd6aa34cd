"""Retries: Retry, retry_on with a Backoff, max_tries."""

import aqueue
from aqueue import Backoff, JobContext, Retry, task

calls: dict[str, int] = {}


# --8<-- [start:retry]
@task
async def poll_export(ctx: JobContext, export_id: str) -> str:
    if ctx["job_try"] < 2:
        raise Retry(defer=0.1)  # not ready: run again in 0.1 s (a number of seconds, or a timedelta)
    return f"export {export_id} ready after {ctx['job_try']} tries"


# --8<-- [end:retry]


class FlakyNetwork(ConnectionError):
    pass


# --8<-- [start:retry_on]
@task(
    max_tries=3,
    retry_on=(FlakyNetwork, TimeoutError),  # these exceptions are retried, others fail the job
    retry_backoff=Backoff(base_s=0.01, factor=2, max_s=1, jitter=False),  # 10, 20, 40 ms, ...
)
async def fetch(ctx: JobContext, url: str) -> str:
    calls[url] = ctx["job_try"]
    if "flaky" in url and ctx["job_try"] < 2:
        raise FlakyNetwork(f"{url}: connection reset")
    if "down" in url:
        raise FlakyNetwork(f"{url}: no route to host")
    return f"fetched {url}"


# --8<-- [end:retry_on]


class WorkerSettings:
    functions = [poll_export, fetch]


async def main() -> None:
    # --8<-- [start:produce]
    export = await aqueue.enqueue("poll_export", "e-17")
    flaky = await aqueue.enqueue("fetch", "https://flaky.example")
    down = await aqueue.enqueue("fetch", "https://down.example")

    assert await export.result(timeout=10) == "export e-17 ready after 2 tries"
    assert await flaky.result(timeout=10) == "fetched https://flaky.example"  # on its second try
    try:
        await down.result(timeout=10)
    except aqueue.MaxTriesExceeded as e:  # after the third try; the last error is in the message
        assert "gave up after 3 of 3 tries; last error FlakyNetwork" in str(e)
    else:
        raise AssertionError("a host that is down never answers")
    # --8<-- [end:produce]
    assert calls["https://down.example"] == 3
    await aqueue.close_default_client()
