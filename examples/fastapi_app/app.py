"""The web side of the FastAPI example: enqueue in a route, stream the job's progress as SSE.

Run it with:  uvicorn examples.fastapi_app.app:app   (and a worker, see tasks.py)
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse

import aqueue
from aqueue.dashboard import create_app

#: How often the event stream looks at the job; progress is stored in Redis, so this is all it costs.
POLL_S = 0.05


# --8<-- [start:lifespan]
#: The aqueue dashboard, mounted at /aqueue below (extra aqueue-redis[dashboard]); DASHBOARD_TOKEN guards it.
dashboard = create_app(token=os.environ.get("DASHBOARD_TOKEN") or None)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One aqueue client for the app's lifetime (AQUEUE_REDIS_URL), closed at shutdown; the same for
    the mounted dashboard's (a mounted app's own lifespan is not run by its host, so it is entered here)."""
    async with aqueue.Client() as client, dashboard.router.lifespan_context(dashboard):
        app.state.queue = client
        yield


app = FastAPI(title="aqueue + FastAPI", lifespan=lifespan)
app.mount("/aqueue", dashboard)
# --8<-- [end:lifespan]


def client_of(request: Request) -> aqueue.Client:
    """Return the app's aqueue client."""
    client: aqueue.Client = request.app.state.queue
    return client


# --8<-- [start:enqueue]
@app.post("/reports/{account}", status_code=202)
async def start_report(account: str, request: Request) -> dict[str, str]:
    """Enqueue a report job by name (the web app imports no task code)."""
    job = await client_of(request).enqueue("reports.build", account)
    assert job is not None  # None only when a _job_id is reused
    return {"job_id": job.job_id, "events": f"/reports/{job.job_id}/events"}


# --8<-- [end:enqueue]


# --8<-- [start:events]
def sse(event: str, data: Any) -> str:
    """Format one server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


PENDING = {aqueue.JobStatus.deferred, aqueue.JobStatus.queued, aqueue.JobStatus.in_progress}


async def job_events(job: aqueue.Job) -> AsyncIterator[str]:
    """Yield a `progress` event for each new report of the job, then its `result` or `failed`."""
    last = None
    while True:
        pending = (await job.status()) in PENDING  # read first: the progress read next is then final
        progress = await job.progress()
        if progress is not None and progress != last:
            last = progress
            yield sse("progress", {"value": progress.value, "message": progress.message})
        if not pending:
            break
        await asyncio.sleep(POLL_S)
    try:
        outcome = await job.wait(timeout=5)  # the stored outcome, without raising the task's failure
    except aqueue.ResultNotFound as e:  # finished, but its result was not kept (keep_result=0)
        yield sse("failed", {"error": "ResultNotFound", "message": str(e)})
        return
    if outcome.success:
        yield sse("result", outcome.result)
    else:
        yield sse("failed", {"error": type(outcome.result).__name__, "message": str(outcome.result)})


@app.get("/reports/{job_id}/events")
async def report_events(job_id: str, request: Request) -> StreamingResponse:
    """Stream a job's progress and outcome to the browser (an `EventSource`)."""
    job = client_of(request).job(job_id)
    if (await job.status()) is aqueue.JobStatus.not_found:
        raise HTTPException(404, f"no job {job_id}")
    return StreamingResponse(job_events(job), media_type="text/event-stream")


# --8<-- [end:events]


PAGE = """<!doctype html>
<title>Reports</title>
<form id="start"><input name="account" value="acme"> <button>Build report</button></form>
<progress id="bar" max="1" value="0"></progress> <span id="text"></span>
<pre id="result"></pre>
<script>
document.getElementById("start").onsubmit = async (event) => {
  event.preventDefault();
  const account = new FormData(event.target).get("account");
  const job = await (await fetch(`/reports/${account}`, {method: "POST"})).json();
  const events = new EventSource(job.events);
  events.addEventListener("progress", (e) => {
    const p = JSON.parse(e.data);
    document.getElementById("bar").value = p.value;
    document.getElementById("text").textContent = p.message;
  });
  for (const name of ["result", "failed"]) {
    events.addEventListener(name, (e) => {
      document.getElementById("result").textContent = e.data;
      events.close();
    });
  }
};
</script>
"""


@app.get("/", response_class=HTMLResponse)
async def page() -> str:
    """A page that starts a report and shows its progress live."""
    return PAGE
