"""The dashboard's pages (GET): overview, jobs, a job, dead letters, cron, workflows, metrics."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from aqueue._redis.errors import redis_errors
from aqueue.dashboard._dag import layout
from aqueue.dashboard._metrics import render_metrics
from aqueue.dashboard._overview import read_overview
from aqueue.dashboard._params import BadRequest, int_param, name_param
from aqueue.dashboard._state import problem, render, state_of
from aqueue.errors import ResultNotFound
from aqueue.inspection import MAX_LIMIT, JobState, check_name, job_detail, list_jobs, parse_state
from aqueue.scheduler._registry import list_jobs as list_cron_jobs
from aqueue.workflows import WorkflowRun

#: The largest cursor a page takes (past it nothing is listed anyway).
MAX_CURSOR = 10**9


async def _overview_context(request: Request) -> dict[str, object]:
    state = state_of(request)
    client = await state.connected()
    overview = await read_overview(client, state.options.queues, state.throughput, await state.paused())
    return {"overview": overview, "can_pause": state.control("pause_queue") is not None}


async def overview(request: Request) -> Response:
    """The overview: every queue's depth and throughput, the dead letters, live workers."""
    return render(request, "overview.html", await _overview_context(request))


async def overview_fragment(request: Request) -> Response:
    """The overview's tables alone (htmx refreshes them)."""
    return render(request, "_overview.html", await _overview_context(request))


async def jobs(request: Request) -> Response:
    """A page of jobs, filtered by queue, state and task."""
    state = parse_state(request.query_params.get("state"))  # an unknown one: ConfigurationError, a 400
    queue = name_param(request, "queue")
    task = name_param(request, "task")
    limit = int_param(request, "limit", 50, 1, MAX_LIMIT)
    cursor = int_param(request, "cursor", 0, 0, MAX_CURSOR)
    client = await state_of(request).connected()
    page = await list_jobs(client, queue=queue, state=state, task=task, limit=limit, cursor=cursor)
    context = {
        "page": page,
        "states": [s.value for s in JobState],
        "state": state.value,
        "queue": queue or "",
        "task": task or "",
        "limit": limit,
    }
    return render(request, "jobs.html", context)


async def _job_context(request: Request, job_id: str) -> dict[str, object]:
    queue = name_param(request, "queue")
    client = await state_of(request).connected()
    detail = await job_detail(client, job_id, queue)
    if detail is None:
        raise ResultNotFound(
            f"no job {job_id!r} on queue {client.queue_key(queue)!r} (never enqueued, or expired)"
        )
    return {"job": detail, "queue": queue or "", "fraction": _fraction(detail.progress)}


def _fraction(progress: object) -> float | None:
    """Return a progress value as a fraction for the bar (0..1 taken as is, 1..100 as percent)."""
    value = getattr(progress, "value", None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if 0 <= value <= 1:
        return float(value)
    return min(float(value), 100.0) / 100 if value > 1 else 0.0


async def job(request: Request) -> Response:
    """One job: arguments, tries, timings, live progress, result or error with traceback."""
    return render(request, "job.html", await _job_context(request, request.path_params["job_id"]))


async def job_fragment(request: Request) -> Response:
    """The live part of a job's page (htmx polls it while the job runs)."""
    job_id = name_param(request, "id")
    if job_id is None:
        raise BadRequest("the query field 'id' is missing")
    return render(request, "_job_live.html", await _job_context(request, job_id))


async def dead(request: Request) -> Response:
    """Dead letters, oldest first, with requeue buttons."""
    cursor = int_param(request, "cursor", 0, 0, MAX_CURSOR)
    limit = int_param(request, "limit", 100, 1, MAX_LIMIT)
    client = await state_of(request).connected()
    page = await list_jobs(client, state=JobState.DEAD, limit=limit, cursor=cursor)
    return render(request, "dead.html", {"page": page, "limit": limit})


async def cron(request: Request) -> Response:
    """Cron jobs live workers registered: schedules, next runs, last outcome."""
    client = await state_of(request).connected()
    return render(request, "cron.html", {"entries": await list_cron_jobs(client)})


async def workflows(request: Request) -> Response:
    """A form to open a run by id (``?run=ID`` goes straight to it)."""
    run_id = name_param(request, "run")
    if run_id is not None:
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}/workflows/{quote(run_id, safe='')}", status_code=303)
    return render(request, "workflows.html", {})


async def _workflow_context(request: Request, run_id: str) -> dict[str, object]:
    check_name("run id", run_id)
    client = await state_of(request).connected()
    status = await WorkflowRun(run_id, client).status()  # ResultNotFound: a 404
    return {"status": status, "layout": layout(status.nodes)}


async def workflow(request: Request) -> Response:
    """A workflow run: its DAG with each node's state (refreshed live), and the nodes' table."""
    return render(request, "workflow.html", await _workflow_context(request, request.path_params["run_id"]))


async def workflow_fragment(request: Request) -> Response:
    """The DAG and table of a run alone (htmx polls it while the run is going)."""
    run_id = name_param(request, "run")
    if run_id is None:
        raise BadRequest("the query field 'run' is missing")
    return render(request, "_workflow_live.html", await _workflow_context(request, run_id))


async def purge_confirm(request: Request) -> Response:
    """Ask before purging a queue: the form wants the queue's name typed again."""
    queue = name_param(request, "queue")
    if queue is None:
        raise BadRequest("the query field 'queue' is missing")
    state = state_of(request)
    if state.options.read_only:
        return problem(request, 403, "the dashboard is read-only")
    if state.control("purge_queue") is None:
        return problem(request, 404, "this version of aqueue cannot purge queues")
    client = await state.connected()
    with redis_errors(client.address):
        size = await client.redis.zcard(client.queue_key(queue))
    return render(request, "purge.html", {"queue": queue, "size": size})


async def metrics(request: Request) -> Response:
    """Prometheus' text format: queue depths, paused queues, dead letters, live workers."""
    state = state_of(request)
    client = await state.connected()
    overview_now = await read_overview(client, state.options.queues, state.throughput, await state.paused())
    return Response(render_metrics(overview_now), media_type="text/plain; version=0.0.4; charset=utf-8")
