"""The dashboard over HTTP (httpx against the ASGI app), with a real Redis and real workers.

Every route is also hit with bad input: each answer is a clear 4xx (or 503 for Redis), never a 500
or a traceback.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from aqueue import Client, cron
from aqueue.dashboard import create_app
from aqueue.dashboard._dag import MAX_DRAWN, layout
from aqueue.dashboard._latency import WINDOW_MS
from aqueue.dashboard._pages import _fraction
from aqueue.embedded import RedisServer, free_port
from aqueue.errors import ConfigurationError
from aqueue.inspection import JobState, list_jobs
from aqueue.progress import Progress
from aqueue.workflows import NodeState, NodeStatus, chain, sig
from examples.dashboard_demo import live_site
from tests.conftest import ROOT, run_cli
from tests.dashboard_tasks import TASKS

pytestmark = [pytest.mark.timeout(60), pytest.mark.transport("wire")]  # an app, not a transport

CSRF = re.compile(r'name="csrf" (?:value|content)="([0-9a-f]{32})"')


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
    assert page.headers["x-frame-options"] == "SAMEORIGIN" and page.headers["cache-control"] == "no-store"
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


async def test_overview_shows_pickup_latency_percentiles_of_the_last_minutes(
    http: httpx.AsyncClient, client: Client
) -> None:
    stream, now = client.keys.events(client.default_queue), int(time.time() * 1000)

    def started(waits: range, at: int) -> dict[str, bytes]:
        items = [{"k": "started", "id": f"j{w}", "f": "add", "try": 1, "t": at, "w": w} for w in waits]
        return {"aq.e": json.dumps(items).encode()}

    await client.redis.xadd(
        stream, started(range(90_000, 90_010), now - WINDOW_MS - 5000), id=f"{now - WINDOW_MS - 5000}-0"
    )
    await client.redis.xadd(stream, started(range(1, 11), now))  # two entries in the window: 1..20 ms
    await client.redis.xadd(stream, started(range(11, 21), now))
    page = await http.get("/")
    row = re.search(r'<tr data-queue="arq:queue">(.*?)</tr>', page.text, re.S)
    assert row, page.text
    assert '<td class="num pickup-p50" title="20 starts">10.0 ms</td>' in row.group(1)  # nearest rank
    assert '<td class="num pickup-p95">19.0 ms</td>' in row.group(1)  # the old entry is out of the window


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


async def test_jobs_are_listed_by_state_and_task_and_paged(http: httpx.AsyncClient, client: Client) -> None:
    due = [await client.enqueue("add", n, n, _job_id=f"due-{n}") for n in range(3)]
    await client.enqueue("boom", "x", _job_id="later-boom", _defer_by=600)
    assert all(due)
    listed = await http.get("/jobs", params={"state": "queued", "limit": "2"})
    assert listed.status_code == 200
    assert listed.text.count('class="state queued"') == 2
    following = re.search(r'href="(/jobs\?[^"]*cursor=2)"', listed.text)
    assert following, listed.text
    rest = await http.get(following.group(1).replace("&amp;", "&"))
    assert rest.text.count('class="state queued"') == 1 and "next »" not in rest.text
    deferred = await http.get("/jobs", params={"state": "deferred"})
    assert "later-boom" in deferred.text and "due-0" not in deferred.text
    by_task = await http.get("/jobs", params={"task": "boom"})
    assert "later-boom" in by_task.text and "due-1" not in by_task.text


async def test_a_job_page_shows_result_error_and_traceback(
    http: httpx.AsyncClient, client: Client, run_worker: Any
) -> None:
    async with run_worker(TASKS):
        ok = await client.enqueue("add", 20, 22)
        bad = await client.enqueue("boom", "the sky fell")
        assert ok and bad
        await ok.wait(timeout=5)
        await bad.wait(timeout=5)
    page = await http.get(f"/jobs/{ok.job_id}")
    assert page.status_code == 200
    assert '<pre class="result" id="job-result">42</pre>' in page.text
    assert "20, 22" in page.text and 'class="state succeeded"' in page.text
    failed = await http.get(f"/jobs/{bad.job_id}")
    assert "<strong>ValueError</strong>: the sky fell" in failed.text
    assert 'class="traceback"' in failed.text and "raise ValueError(message)" in failed.text


async def test_abort_from_the_job_page(http: httpx.AsyncClient, client: Client, run_worker: Any) -> None:
    async with run_worker(TASKS):
        job = await client.enqueue("crawl", 100, 0.05)
        assert job is not None
        while (await job.progress()) is None:
            await asyncio.sleep(0.02)
        live = await http.get("/fragments/job", params={"id": job.job_id})
        assert 'id="progress-bar"' in live.text and "running" in live.text
        answer = await post(http, "/actions/abort", job_id=job.job_id)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith(f"/jobs/{job.job_id}?notice=")
        info = await job.wait(timeout=5)
    assert not info.success
    page = await http.get(f"/jobs/{job.job_id}")
    assert 'class="state failed"' in page.text and "JobAborted" in page.text


async def test_retry_a_failed_job_and_requeue_dead_letters(
    http: httpx.AsyncClient, client: Client, run_worker: Any
) -> None:
    async with run_worker(TASKS):
        bad = await client.enqueue("boom", "once")
        assert bad is not None
        await bad.wait(timeout=5)
        answer = await post(http, "/actions/retry", job_id=bad.job_id)
        assert answer.status_code == 303
        again = re.search(r"as job ([0-9a-f]{32})", httpx.URL(answer.headers["location"]).params["notice"])
        assert again
        assert not (
            await client.job(again.group(1)).wait(timeout=5)
        ).success  # it ran again, and failed again
    for name in ("d1", "d2"):
        await client.redis.zadd(client.keys.dead, {name: 1})
        payload = client.job_serializer({"f": "add", "a": [1, 2], "k": {}, "t": None, "et": 1})
        await client.redis.hset(
            client.keys.dead_job(name),
            mapping={"payload": payload, "queue": client.default_queue, "tries": 3, "history": '["w@1"]'},
        )  # type: ignore[misc]
    dead = await http.get("/dead")
    assert "d1" in dead.text and "d2" in dead.text and "Requeue all" in dead.text
    assert (await http.get("/jobs", params={"state": "dead"})).text.count('class="state dead"') == 2
    one = await post(http, "/actions/requeue", job_id="d1")
    assert one.status_code == 303 and await client.redis.zscore(client.default_queue, "d1") is not None
    rest = await post(http, "/actions/requeue", all="1")
    assert "requeued 1 dead job" in httpx.URL(rest.headers["location"]).params["notice"]
    assert await client.redis.zcard(client.keys.dead) == 0


async def test_cron_page_pause_resume_trigger(
    http: httpx.AsyncClient, client: Client, run_worker: Any
) -> None:
    async with run_worker(TASKS, cron_jobs=[cron("0 0 1 1 *", "add", name="yearly", args=(1, 2))]):
        for _ in range(200):
            if "yearly" in (page := await http.get("/cron")).text:
                break
            await asyncio.sleep(0.02)
        assert 'data-cron="yearly"' in page.text and "0 0 1 1 *" in page.text
        assert (await post(http, "/actions/cron", name="yearly", op="pause")).status_code == 303
        assert "badge paused" in (await http.get("/cron")).text
        assert (await post(http, "/actions/cron", name="yearly", op="resume")).status_code == 303
        assert "badge paused" not in (await http.get("/cron")).text
        triggered = await post(http, "/actions/cron", name="yearly", op="trigger")
        notice = httpx.URL(triggered.headers["location"]).params["notice"]
        job_id = notice.rpartition("job ")[2]
        assert await client.job(job_id).result(timeout=5) == 3


async def test_workflow_page_draws_the_dag_with_states(
    http: httpx.AsyncClient, client: Client, run_worker: Any
) -> None:
    async with run_worker(TASKS):
        run = await client.run(chain(sig("add", 1, 1), sig("add", 10), sig("add", 100)))
        assert await run.result(timeout=10) == 112
    page = await http.get(f"/workflows/{run.run_id}")
    assert page.status_code == 200
    assert '<svg class="dag"' in page.text
    assert page.text.count('data-state="done"') == 3
    assert page.text.count('class="edge"') == 2
    found = await http.get("/workflows", params={"run": run.run_id})
    assert found.status_code == 303 and found.headers["location"] == f"/workflows/{run.run_id}"
    assert "<td>add</td>" in page.text  # the nodes' table (a finished node's result lives in the run)


BAD_GETS = [
    ("/jobs?limit=0", 400, "limit must be 1 to 500"),
    ("/jobs?limit=many", 400, "limit must be a whole number"),
    ("/jobs?cursor=-1", 400, "cursor must be 0 to"),
    ("/jobs?state=lost", 400, "unknown job state 'lost'"),
    ("/jobs?queue=" + "q" * 600, 400, "bad queue"),
    ("/jobs?task=%01", 400, "bad task"),
    ("/jobs/no-such-job", 404, "no job 'no-such-job'"),
    ("/jobs/x?queue=%02", 400, "bad queue"),
    ("/fragments/job", 400, "'id' is missing"),
    ("/fragments/job?id=ghost", 404, "no job 'ghost'"),
    ("/dead?cursor=x", 400, "cursor must be a whole number"),
    ("/dead?limit=100000", 400, "limit must be 1 to 500"),
    ("/workflows/no-such-run", 404, "no workflow run no-such-run"),
    ("/fragments/workflow", 400, "'run' is missing"),
    ("/purge", 400, "'queue' is missing"),
    ("/nowhere", 404, "no such page"),
    ("/static/nothing.js", 404, "no such page"),
]


@pytest.mark.parametrize(("path", "status", "message"), BAD_GETS)
async def test_bad_input_to_pages_is_a_clear_4xx(
    http: httpx.AsyncClient, path: str, status: int, message: str
) -> None:
    page = await http.get(path)
    assert page.status_code == status, page.text
    assert message in html.unescape(page.text)
    assert "Traceback" not in page.text
    api = await http.get(path, headers={"accept": "application/json"})
    assert api.status_code == status
    assert message in api.json()["error"] and api.json()["status"] == status


BAD_POSTS = [
    ("/actions/abort", {}, 400, "'job_id' is missing"),
    ("/actions/abort", {"job_id": "ghost"}, 404, "no job 'ghost'"),
    ("/actions/retry", {"job_id": "ghost"}, 404, "nothing to retry"),
    ("/actions/requeue", {}, 400, "give the form field 'job_id'"),
    ("/actions/requeue", {"job_id": "ghost"}, 404, "no dead job 'ghost'"),
    ("/actions/queue", {"queue": "q", "op": "explode"}, 400, "op must be pause, resume or purge"),
    ("/actions/cron", {"name": "ghost", "op": "pause"}, 404, "no cron job named 'ghost'"),
    ("/actions/cron", {"name": "ghost", "op": "dance"}, 400, "op must be pause, resume or trigger"),
    ("/actions/cron", {"op": "pause"}, 400, "'name' is missing"),
    ("/actions/workflow-cancel", {}, 400, "'run' is missing"),
]


@pytest.mark.parametrize(("path", "fields", "status", "message"), BAD_POSTS)
async def test_bad_input_to_actions_is_a_clear_4xx(
    http: httpx.AsyncClient, path: str, fields: dict[str, str], status: int, message: str
) -> None:
    answer = await post(http, path, **fields)
    assert answer.status_code == status, answer.text
    assert message in html.unescape(answer.text) and "Traceback" not in answer.text


@pytest.mark.parametrize("path", sorted({p for p, *_ in BAD_POSTS} | {"/login", "/logout"}))
async def test_actions_need_the_csrf_token_and_post(http: httpx.AsyncClient, path: str) -> None:
    await csrf_of(http)  # the browser has its cookie, but the form does not carry the token
    refused = await http.post(path, data={"job_id": "x"})
    assert refused.status_code == 403 and "CSRF token is missing" in refused.text
    forged = await http.post(path, data={"job_id": "x", "csrf": "0" * 32})
    assert forged.status_code == 403
    if path not in ("/login",):
        wrong = await http.get(path)
        assert wrong.status_code == 405 and "GET is not allowed here" in wrong.text
    assert (await http.put("/", content=b"")).status_code == 405


async def test_an_oversized_or_broken_form_is_a_400(http: httpx.AsyncClient) -> None:
    big = await http.post("/actions/abort", data={"csrf": "x", "job_id": "y" * 20_000})
    assert big.status_code == 400 and "too large" in big.text
    broken = await http.post(
        "/actions/abort",
        content=b"--zz\r\nbroken",
        headers={"content-type": "multipart/form-data; boundary=zz"},
    )
    assert broken.status_code in (400, 403) and "Traceback" not in broken.text


async def test_token_guards_every_page_and_action(redis_url: str, client: Client) -> None:
    job = await client.enqueue("add", 1, 2)
    assert job is not None
    app = create_app(redis_url, token="s3cret")
    try:
        async with await open_site(app) as http:
            for path in ("/", "/jobs", f"/jobs/{job.job_id}", "/dead", "/cron", "/workflows", "/metrics"):
                page = await http.get(path)
                assert page.status_code == 303 and page.headers["location"].startswith("/login?next="), path
                api = await http.get(path, headers={"accept": "application/json"})
                assert api.status_code == 401 and "token is needed" in api.json()["error"]
            assert (await http.post("/actions/abort", data={"job_id": job.job_id})).status_code == 401
            assert (await http.get("/static/htmx.min.js")).status_code == 200  # open: the login page uses it
            token = await csrf_of(http, "/login")
            wrong = await http.post("/login", data={"csrf": token, "token": "guess", "next": "/jobs"})
            assert wrong.status_code == 401 and "not the dashboard's" in html.unescape(wrong.text)
            right = await http.post(
                "/login", data={"csrf": token, "token": "s3cret", "next": "//evil.example/"}
            )
            assert right.status_code == 303 and right.headers["location"] == "/"  # never another site
            assert (await http.get("/jobs")).status_code == 200
            assert (
                await http.post("/actions/abort", data={"job_id": job.job_id})
            ).status_code == 403  # no csrf
            aborted = await post(http, "/actions/abort", job_id=job.job_id)
            assert aborted.status_code == 303
            await post(http, "/logout")
            assert (await http.get("/jobs")).status_code == 303
        async with await open_site(app, authorization="Bearer s3cret") as api:
            assert (await api.get("/metrics")).status_code == 200
            assert (
                await api.post("/actions/requeue", data={"all": "1"})
            ).status_code == 303  # no csrf needed
        async with await open_site(app, authorization="Bearer nope") as api:
            assert (await api.get("/")).status_code == 401
    finally:
        await app.state.dashboard.aclose()
    with pytest.raises(ConfigurationError, match="token must not be empty"):
        create_app(redis_url, token="")


async def test_read_only_hides_and_refuses_actions(redis_url: str, client: Client, run_worker: Any) -> None:
    async with run_worker(TASKS):
        bad = await client.enqueue("boom", "x")
        assert bad is not None
        await bad.wait(timeout=5)
    running = await client.enqueue("crawl", 5, 1)
    assert running is not None
    app = create_app(redis_url, read_only=True)
    try:
        async with await open_site(app) as http:
            for path in (f"/jobs/{bad.job_id}", f"/jobs/{running.job_id}", "/dead", "/cron"):
                page = await http.get(path)
                assert page.status_code == 200 and "read-only" in page.text
                assert 'action="/actions/' not in page.text, path
            for path, fields, *_ in BAD_POSTS:
                refused = await post(http, path, **fields)
                assert refused.status_code == 403 and "read-only" in refused.text
            assert (await http.get("/purge", params={"queue": "q"})).status_code == 403
    finally:
        await app.state.dashboard.aclose()
    assert await client.job(running.job_id).status() == "queued"  # nothing was aborted


async def test_a_redis_outage_is_a_clear_503() -> None:
    with RedisServer() as server:
        app = create_app(server.url)
        try:
            async with await open_site(app) as http:
                assert (await http.get("/")).status_code == 200
                server.stop()
                for path in ("/", "/jobs", "/jobs/x", "/dead", "/cron", "/metrics", "/workflows/r"):
                    page = await http.get(path)
                    assert page.status_code == 503, (path, page.text)
                    assert "Redis is not answering" in page.text and "Traceback" not in page.text
        finally:
            await app.state.dashboard.aclose()
    never = create_app(f"redis://127.0.0.1:{free_port()}/0")
    async with await open_site(never) as http:
        page = await http.get("/", headers={"accept": "application/json"})
        assert page.status_code == 503 and "Redis is not answering" in page.json()["error"]


async def test_listing_pages_through_a_filter_without_losing_or_repeating(client: Client) -> None:
    ids = []
    for n in range(250):
        job = await client.enqueue("boom" if n % 3 == 0 else "add", n, _job_id=f"j{n:03}")
        assert job is not None
        ids.append(job.job_id)
    seen: list[str] = []
    cursor: int | None = 0
    while cursor is not None:
        page = await list_jobs(client, task="boom", limit=30, cursor=cursor)
        assert len(page.jobs) <= 30
        seen += [j.job_id for j in page.jobs]
        cursor = page.next_cursor
    assert sorted(seen) == sorted(i for n, i in enumerate(ids) if n % 3 == 0)
    assert all(j.state == "queued" for j in (await list_jobs(client, limit=500)).jobs)
    with pytest.raises(ConfigurationError, match="limit must be 1 to 500"):
        await list_jobs(client, limit=501)


def test_aqueue_jobs_command(redis_url: str, sync_r: Any) -> None:
    for n in range(3):
        sync_r.zadd("arq:queue", {f"job{n}": 1 if n < 2 else 2**50})
        sync_r.set(f"arq:job:job{n}", b'{"f":"add","a":[1,2],"k":{},"t":null,"et":1}')
    listed = run_cli("jobs", "--json", redis_url=redis_url)
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert [j["job_id"] for j in document["jobs"]] == ["job0", "job1", "job2"]
    assert [j["state"] for j in document["jobs"]] == ["queued", "queued", "deferred"]
    assert document["jobs"][0]["task"] == "add" and document["next_cursor"] is None
    deferred = run_cli("jobs", "--state", "deferred", redis_url=redis_url)
    assert deferred.returncode == 0 and deferred.stdout.startswith("job2  deferred  add  queue=arq:queue")
    paged = run_cli("jobs", "--limit", "1", redis_url=redis_url)
    assert paged.stdout.splitlines() == [paged.stdout.splitlines()[0], "more: --cursor 1"]
    assert run_cli("jobs", "--state", "lost", redis_url=redis_url).returncode == 2
    down = run_cli("jobs", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    assert down.returncode == 1 and down.stderr.startswith("error: ") and "Traceback" not in down.stderr


def test_aqueue_dashboard_command_serves_with_token_and_read_only(redis_url: str) -> None:
    site = live_site(redis_url, "--token", "t0ken", "--read-only")
    with site as url, httpx.Client(base_url=url, trust_env=False) as http:
        assert http.get("/").status_code == 303
        guarded = {"authorization": "Bearer t0ken"}
        page = http.get("/", headers=guarded)
        assert page.status_code == 200 and '<span class="badge">read-only</span>' in page.text
        assert http.post("/actions/requeue", data={"all": "1"}, headers=guarded).status_code == 403
        metrics = ""
        for _ in range(100):  # the worker process beats once it has started
            metrics = http.get("/metrics", headers=guarded).text
            if 'aqueue_workers_live{queue="arq:queue"} 1.0' in metrics:
                break
            time.sleep(0.1)
        assert 'aqueue_workers_live{queue="arq:queue"} 1.0' in metrics


@pytest.mark.slow
def test_the_wheel_ships_the_templates_and_static_files(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "aqueue" / "dashboard"
    shipped = {
        p.relative_to(ROOT).as_posix() for d in ("templates", "static") for p in (package / d).iterdir()
    }
    assert len(shipped) > 10 and shipped <= names


class QueueControls(Client):
    """A client with the queue controls the dashboard looks for (pause, resume, paused, purge).

    Until ``Client`` has them (the flow-control work), the dashboard hides those buttons; this client
    keeps a paused set in the test Redis so the pages and actions can be driven end to end.
    """

    async def pause_queue(self, name: str | None = None) -> bool:
        return bool(await self.redis.sadd("test:paused", self.queue_key(name)))  # type: ignore[misc]

    async def resume_queue(self, name: str | None = None) -> bool:
        return bool(await self.redis.srem("test:paused", self.queue_key(name)))  # type: ignore[misc]

    async def paused_queues(self) -> set[str]:
        return {m.decode() for m in await self.redis.smembers("test:paused")}  # type: ignore[misc]

    async def purge_queue(self, name: str | None = None) -> int:
        key = self.queue_key(name)
        count = int(await self.redis.zcard(key))
        await self.redis.delete(key)
        return count


async def test_pause_resume_and_purge_a_queue(redis_url: str, client: Client) -> None:
    for n in range(4):
        await client.enqueue("add", n, n, _queue_name="mail")
    async with QueueControls(redis_url) as controls:
        app = create_app(controls, queues=["mail"])
        async with await open_site(app) as http:
            overview = await http.get("/")
            assert 'name="op" value="pause"' in overview.text and 'href="/purge?queue=mail"' in overview.text
            assert (await post(http, "/actions/queue", queue="mail", op="pause")).status_code == 303
            assert await controls.paused_queues() == {"mail"}
            assert 'data-queue="mail">' in (page := (await http.get("/")).text) and "badge paused" in page
            metrics = (await http.get("/metrics")).text
            assert 'aqueue_queue_paused{queue="mail"} 1.0' in metrics
            assert (await post(http, "/actions/queue", queue="mail", op="resume")).status_code == 303
            assert await controls.paused_queues() == set()
            confirm = await http.get("/purge", params={"queue": "mail"})
            assert "deletes the 4 jobs" in confirm.text
            unconfirmed = await post(http, "/actions/queue", queue="mail", op="purge", confirm="mai")
            assert unconfirmed.status_code == 400 and await client.redis.zcard("mail") == 4
            purged = await post(http, "/actions/queue", queue="mail", op="purge", confirm="mail")
            assert "purged 4 jobs from mail" in httpx.URL(purged.headers["location"]).params["notice"]
            assert await client.redis.zcard("mail") == 0
        await app.state.dashboard.aclose()
        assert controls.redis is not None  # the dashboard does not close a client it was given


async def test_without_queue_controls_there_are_no_such_buttons(http: httpx.AsyncClient) -> None:
    if hasattr(Client, "pause_queue"):  # the flow-control work landed: Client has the controls itself
        assert 'value="pause"' in (await http.get("/")).text
        return
    overview = await http.get("/")
    assert 'value="pause"' not in overview.text and "/purge?" not in overview.text
    assert (await http.get("/purge", params={"queue": "q"})).status_code == 404
    refused = await post(http, "/actions/queue", queue="q", op="pause")
    assert refused.status_code == 404 and "cannot pause" in refused.text


@pytest.mark.skipif(
    not hasattr(Client, "events"), reason="the events stream (client.events) is not on this branch"
)
async def test_finished_jobs_are_listed_from_the_events_stream(
    http: httpx.AsyncClient, client: Client, run_worker: Any
) -> None:
    async with run_worker(TASKS):
        done = [await client.enqueue("add", n, n) for n in range(3)]
        bad = await client.enqueue("boom", "listed")
        for job in [*done, bad]:
            assert job is not None
            await job.wait(timeout=5)
    assert bad is not None
    succeeded = await list_jobs(client, state=JobState.SUCCEEDED, limit=2)
    assert succeeded.jobs[0].finished_at is not None and succeeded.next_cursor is not None
    rest = await list_jobs(client, state=JobState.SUCCEEDED, limit=2, cursor=succeeded.next_cursor)
    # newest first, two per page: the three jobs run at once, so their finish order is not theirs
    listed = [j.job_id for j in [*succeeded.jobs, *rest.jobs]]
    assert len(succeeded.jobs) == 2 and len(rest.jobs) == 1
    assert sorted(listed) == sorted(j.job_id for j in done if j)
    times = [j.finished_at for j in [*succeeded.jobs, *rest.jobs]]
    assert all(t is not None for t in times) and times == sorted(times, reverse=True)  # type: ignore[type-var]
    failed = await http.get("/jobs", params={"state": "failed"})
    assert (
        bad.job_id in failed.text and "boom" in failed.text and done[0] and done[0].job_id not in failed.text
    )
    assert (await list_jobs(client, state=JobState.ABORTED)).jobs == []


@pytest.mark.parametrize(
    ("value", "fraction"),
    [
        (0.25, 0.25),
        (1, 1.0),
        (40, 0.4),
        (250, 1.0),
        (-3, 0.0),
        (True, None),
        ("half", None),
        ({"n": 1}, None),
    ],
)
def test_progress_values_as_the_bar_shows_them(value: Any, fraction: float | None) -> None:
    assert _fraction(Progress(value, "", datetime.now(UTC))) == fraction


def test_the_dag_layout_puts_each_node_after_its_deepest_parent() -> None:
    def node(node_id: int, *parents: int) -> NodeStatus:
        return NodeStatus(node_id, "t", NodeState.WAITING, parents)

    drawn = layout((node(0), node(1, 0), node(2, 0), node(3, 1, 2), node(4, 0, 3)))
    assert drawn is not None
    columns = {box.node.id: box.x for box in drawn.boxes}
    assert columns[0] < columns[1] == columns[2] < columns[3] < columns[4]
    assert len(drawn.edges) == 6 and all(e.x1 < e.x2 for e in drawn.edges)
    assert layout(()) is None
    assert layout(tuple(node(i) for i in range(MAX_DRAWN + 1))) is None


async def test_pause_and_resume_through_the_client_s_own_controls(
    http: httpx.AsyncClient, client: Client
) -> None:
    assert (await post(http, "/actions/queue", queue="arq:queue", op="pause")).status_code == 303
    assert await client.paused_queues() == {"arq:queue"}
    assert "badge paused" in (await http.get("/")).text
    assert (await post(http, "/actions/queue", queue="arq:queue", op="resume")).status_code == 303
    assert await client.paused_queues() == set()
