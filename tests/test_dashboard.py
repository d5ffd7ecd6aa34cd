"""The dashboard over HTTP (httpx against the ASGI app), with a real Redis and real workers.

Every route is also hit with bad input: each answer is a clear 4xx (or 503 for Redis), never a 500
or a traceback.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from aqueue import Client
from aqueue.dashboard import create_app
from aqueue.embedded import RedisServer, free_port
from aqueue.errors import ConfigurationError
from aqueue.workflows import chain, sig
from tests.dashboard_tasks import TASKS

pytestmark = [pytest.mark.timeout(60), pytest.mark.transport("wire")]  # an app, not a transport

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{32})"')


async def open_site(app: Starlette, **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://dash", headers=headers, trust_env=False)


@pytest.fixture
async def app(redis_url: str) -> AsyncIterator[Starlette]:
    made = create_app(redis_url, refresh_s=0.2)
    yield made
    await made.state.dashboard.aclose()


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with await open_site(app) as site:
        yield site


async def csrf_of(http: httpx.AsyncClient, path: str = "/") -> str:
    """Load a page (which sets the CSRF cookie) and return the token its forms carry."""
    page = await http.get(path)
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


async def post(http: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    return await http.post(path, data={"csrf": await csrf_of(http), **fields})


async def test_overview_and_metrics_show_queue_depths(http: httpx.AsyncClient, client: Client) -> None:
    for n in range(2):
        await client.enqueue("add", n, n)
    for n in range(3):
        await client.enqueue("add", n, n, _defer_by=600)
    page = await http.get("/")
    assert page.status_code == 200
    row = re.search(r'<tr data-queue="arq:queue">(.*?)</tr>', page.text, re.S)
    assert row, page.text
    assert '<td class="num due">2</td>' in row.group(1)
    assert '<td class="num deferred">3</td>' in row.group(1)
    metrics = await http.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'aqueue_queue_jobs{queue="arq:queue",state="due"} 2.0' in metrics.text
    assert 'aqueue_queue_jobs{queue="arq:queue",state="deferred"} 3.0' in metrics.text
    assert "aqueue_dead_letters 0.0" in metrics.text
    assert 'aqueue_workers_live{queue="arq:queue"} 0.0' in metrics.text


async def test_overview_counts_live_workers_and_running_jobs(
    http: httpx.AsyncClient, client: Client, run_worker: Any
) -> None:
    async with run_worker(TASKS):
        job = await client.enqueue("crawl", 20, 0.1)
        while (await job.progress()) is None:
            await asyncio.sleep(0.02)
        page = await http.get("/fragments/overview")
        assert "Live workers (1)" in page.text
        metrics = (await http.get("/metrics")).text
        assert 'aqueue_queue_jobs{queue="arq:queue",state="running"} 1.0' in metrics
        assert 'aqueue_workers_live{queue="arq:queue"} 1.0' in metrics
        await job.abort(timeout=5)
