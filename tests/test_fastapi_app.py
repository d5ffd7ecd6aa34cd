"""The FastAPI example runs for real: uvicorn on a loopback port, a worker, Redis, an SSE stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from aqueue.embedded import free_port
from aqueue.errors import ConfigurationError
from aqueue.settings import create_worker
from examples.fastapi_app import app as example
from examples.fastapi_app.tasks import WorkerSettings

pytestmark = [pytest.mark.timeout(60), pytest.mark.transport("wire")]  # an app, not a transport


@pytest.fixture
async def site(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """The app served by uvicorn (its lifespan opens the aqueue client), beside a worker."""
    monkeypatch.setenv("AQUEUE_REDIS_URL", redis_url)
    worker = create_worker(WorkerSettings, handle_signals=False)
    working = asyncio.create_task(worker.async_run())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(example.app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done(), "uvicorn stopped before it started"
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
            yield http
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
        worker.request_stop(force=True)
        await asyncio.wait_for(working, 15)
        await worker.close()
    with pytest.raises(ConfigurationError, match="not connected"):
        example.app.state.queue.redis  # noqa: B018 - the lifespan closed its client at shutdown


async def events(http: httpx.AsyncClient, path: str) -> list[tuple[str, Any]]:
    """Read a server-sent event stream to its end; return (event, data) pairs."""
    found: list[tuple[str, Any]] = []
    name = None
    async with http.stream("GET", path, timeout=20) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                found.append((name, json.loads(line.removeprefix("data: "))))
    return found


async def test_enqueue_in_a_route_and_stream_progress_to_the_result(site: httpx.AsyncClient) -> None:
    started = await site.post("/reports/acme")
    assert started.status_code == 202
    body = started.json()
    assert body["events"] == f"/reports/{body['job_id']}/events"
    stream = await events(site, body["events"])
    kinds = [kind for kind, _ in stream]
    assert kinds[-1] == "result" and set(kinds[:-1]) == {"progress"}
    values = [data["value"] for kind, data in stream if kind == "progress"]
    assert values == sorted(values) and values[-1] == 1.0
    assert stream[-2][1]["message"] == "step 5 of 5"
    assert stream[-1][1] == {"account": "acme", "rows": 500}


async def test_a_failing_job_ends_the_stream_with_its_error(site: httpx.AsyncClient) -> None:
    job_id = (await site.post("/reports/nobody")).json()["job_id"]
    stream = await events(site, f"/reports/{job_id}/events")
    assert stream[-1] == ("failed", {"error": "LookupError", "message": "no account named 'nobody'"})


async def test_a_late_reader_still_gets_the_last_progress_and_the_result(site: httpx.AsyncClient) -> None:
    job_id = (await site.post("/reports/late")).json()["job_id"]
    for _ in range(200):
        if (await site.get(f"/reports/{job_id}/events")).text.endswith('"rows": 500}\n\n'):
            break
        await asyncio.sleep(0.05)
    stream = await events(site, f"/reports/{job_id}/events")
    assert stream == [
        ("progress", {"value": 1.0, "message": "step 5 of 5"}),
        ("result", {"account": "late", "rows": 500}),
    ]


async def test_unknown_job_and_the_page(site: httpx.AsyncClient) -> None:
    assert (await site.get("/reports/no-such-job/events")).status_code == 404
    page = await site.get("/")
    assert page.status_code == 200 and "new EventSource(job.events)" in page.text


async def test_the_mounted_dashboard(site: httpx.AsyncClient) -> None:
    job_id = (await site.post("/reports/acme")).json()["job_id"]
    await events(site, f"/reports/{job_id}/events")  # to its end: the job has finished
    overview = await site.get("/aqueue/")
    assert overview.status_code == 200
    assert 'href="/aqueue/jobs"' in overview.text and 'href="/aqueue/static/dashboard.css"' in overview.text
    job = await site.get(f"/aqueue/jobs/{job_id}")
    assert job.status_code == 200 and "reports.build" in job.text and 'class="state succeeded"' in job.text
    assert (await site.get("/aqueue/static/htmx.min.js")).status_code == 200
    assert "aqueue_queue_jobs" in (await site.get("/aqueue/metrics")).text
