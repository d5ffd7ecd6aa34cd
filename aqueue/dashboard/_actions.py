"""The dashboard's actions (POST, CSRF-checked, refused with 403 when read-only).

Each answers a browser with a redirect back to the page it came from (with a notice), and an API
caller (``Accept: application/json``) with JSON.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from aqueue.client import Client
from aqueue.dashboard._params import BadRequest, field, form_of, optional_field
from aqueue.dashboard._security import CSRF_FIELD, SESSION_COOKIE, cookie_path, csrf_ok, session_value
from aqueue.dashboard._state import problem, render, state_of, wants_json
from aqueue.dead import dead_job, requeue_dead
from aqueue.errors import ResultNotFound
from aqueue.inspection import job_detail
from aqueue.scheduler._registry import pause as pause_cron
from aqueue.scheduler._registry import resume as resume_cron
from aqueue.scheduler._registry import trigger as trigger_cron
from aqueue.workflows import WorkflowRun

Action = Callable[[Request, FormData, Client], Awaitable[tuple[str, str]]]


def _done(request: Request, target: str, notice: str) -> Response:
    if wants_json(request):
        return JSONResponse({"ok": True, "notice": notice})
    root = request.scope.get("root_path", "")
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{root}{target}{joiner}{urlencode({'notice': notice})}", status_code=303)


def action(handler: Action) -> Callable[[Request], Awaitable[Response]]:
    """Wrap ``handler`` (returns where to go back and a notice) with the read-only and CSRF checks."""

    async def endpoint(request: Request) -> Response:
        state = state_of(request)
        if state.options.read_only:
            return problem(request, 403, "the dashboard is read-only: actions are turned off")
        form = await form_of(request)
        submitted = form.get(CSRF_FIELD)
        if not csrf_ok(request, submitted if isinstance(submitted, str) else None):
            return problem(
                request, 403, "the form's CSRF token is missing or stale: reload the page and retry"
            )
        client = await state.connected()
        target, notice = await handler(request, form, client)
        return _done(request, target, notice)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def _job_page(job_id: str, queue: str | None) -> str:
    return f"/jobs/{quote(job_id, safe='')}" + (f"?{urlencode({'queue': queue})}" if queue else "")


async def abort(request: Request, form: FormData, client: Client) -> tuple[str, str]:
    """Abort a job: dropped if it has not started, cancelled on its worker if it runs."""
    job_id, queue = field(form, "job_id"), optional_field(form, "queue")
    state = await client.abort_job(job_id, client.queue_key(queue))
    if state == "missing":
        raise ResultNotFound(f"no job {job_id!r} waiting or running on {client.queue_key(queue)!r}")
    told = "aborted" if state == "aborted" else "asked its worker to abort it"
    return _job_page(job_id, queue), f"job {job_id}: {told}"


async def retry(request: Request, form: FormData, client: Client) -> tuple[str, str]:
    """Run a finished job again as a new job (same task, arguments, queue), or requeue a dead one."""
    job_id, queue = field(form, "job_id"), optional_field(form, "queue")
    if await dead_job(client, job_id) is not None:
        count = await requeue_dead(client, [job_id])
        return _job_page(job_id, queue), f"requeued {count} dead job"
    detail = await job_detail(client, job_id, queue)
    if detail is None or detail.result is None:
        raise ResultNotFound(f"job {job_id!r} has not finished (or expired): nothing to retry")
    again = await client.enqueue(detail.task, *detail.args, _queue_name=detail.queue, **detail.kwargs)
    assert again is not None  # a fresh id is never taken
    return _job_page(again.job_id, detail.queue), f"retrying {job_id} as job {again.job_id}"


async def requeue(request: Request, form: FormData, client: Client) -> tuple[str, str]:
    """Requeue one dead job (``job_id``) or every one (``all=1``)."""
    job_id = optional_field(form, "job_id")
    if job_id is None and form.get("all") != "1":
        raise BadRequest("give the form field 'job_id', or 'all' set to 1")
    count = await requeue_dead(client, None if job_id is None else [job_id])
    if job_id is not None and count == 0:
        raise ResultNotFound(f"no dead job {job_id!r}")
    return "/dead", f"requeued {count} dead job{'s' if count != 1 else ''}"


async def queue_control(request: Request, form: FormData, client: Client) -> tuple[str, str]:
    """Pause, resume or purge a queue (purge wants ``confirm`` equal to the queue's name)."""
    queue, op = field(form, "queue"), field(form, "op")
    name = {"pause": "pause_queue", "resume": "resume_queue", "purge": "purge_queue"}.get(op or "")
    if name is None:
        raise BadRequest(f"op must be pause, resume or purge, not {op!r}")
    control = state_of(request).control(name)
    if control is None:
        raise ResultNotFound("this version of aqueue cannot pause, resume or purge queues")
    if op == "purge":
        if form.get("confirm") != queue:
            raise BadRequest("to purge, type the queue's name in the confirmation field")
        count = await control(queue)
        return "/", f"purged {count} jobs from {queue}"
    await control(queue)
    return "/", f"{op}d queue {queue}"


async def cron_control(request: Request, form: FormData, client: Client) -> tuple[str, str]:
    """Pause, resume or trigger a cron job by name."""
    name, op = field(form, "name"), field(form, "op")
    if op == "pause":
        await pause_cron(client, name)
    elif op == "resume":
        await resume_cron(client, name)
    elif op == "trigger":
        run = await trigger_cron(client, name)
        return "/cron", f"triggered {name}: job {run.job_id}"
    else:
        raise BadRequest(f"op must be pause, resume or trigger, not {op!r}")
    return "/cron", f"{op}d {name}"


async def cancel_workflow(request: Request, form: FormData, client: Client) -> tuple[str, str]:
    """Cancel a workflow run: pending nodes never start, running ones are aborted."""
    run_id = field(form, "run")
    cancelled = await WorkflowRun(run_id, client).cancel()
    return f"/workflows/{quote(run_id, safe='')}", "cancelled" if cancelled else "the run had already ended"


async def login_page(request: Request) -> Response:
    """The login form (only useful when a token is set)."""
    return render(request, "login.html", {"next": _next(request.query_params.get("next")), "failed": False})


def _next(value: str | None) -> str:
    """Return a safe local path to go to after logging in (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 1000:
        return "/"
    return value


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _csrf_refused(request: Request, form: FormData) -> Response | None:
    if csrf_ok(request, _text(form, CSRF_FIELD)):
        return None
    return problem(request, 403, "the form's CSRF token is missing or stale: reload the page and retry")


async def login(request: Request) -> Response:
    """Check the token typed in the form; set the session cookie and go on."""
    state = state_of(request)
    form = await form_of(request)
    refused = _csrf_refused(request, form)
    if refused is not None:
        return refused
    token, target = _text(form, "token"), _next(_text(form, "next"))
    going = RedirectResponse(request.scope.get("root_path", "") + target, status_code=303)
    if state.options.token is None:
        return going
    expected = session_value(state.options.token)
    if token is None or not hmac.compare_digest(session_value(token), expected):
        return render(request, "login.html", {"next": target, "failed": True}, status=401)
    going.set_cookie(SESSION_COOKIE, expected, httponly=True, samesite="strict", path=cookie_path(request))
    return going


async def logout(request: Request) -> Response:
    """Forget the session cookie."""
    refused = _csrf_refused(request, await form_of(request))
    if refused is not None:
        return refused
    response = RedirectResponse(request.scope.get("root_path", "") + "/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=cookie_path(request))
    return response
