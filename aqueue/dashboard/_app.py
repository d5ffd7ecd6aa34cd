"""``create_app``: the dashboard as one ASGI app (Starlette), standalone or mounted in another app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from aqueue._redis.connection import RedisLike
from aqueue.client import Client
from aqueue.dashboard import _actions, _pages
from aqueue.dashboard._security import authenticated, is_open, local_path
from aqueue.dashboard._state import DashboardState, Options, problem, templates, wants_json
from aqueue.errors import AqueueError, ConfigurationError, CronJobNotFound, RedisFailure, ResultNotFound

__all__ = ["create_app"]

logger = logging.getLogger("aqueue.dashboard")


def _routes() -> list[Route | Mount]:
    post = ["POST"]
    return [
        Route("/", _pages.overview, name="overview"),
        Route("/fragments/overview", _pages.overview_fragment),
        Route("/jobs", _pages.jobs, name="jobs"),
        Route("/jobs/{job_id:path}", _pages.job, name="job"),
        Route("/fragments/job", _pages.job_fragment),
        Route("/dead", _pages.dead, name="dead"),
        Route("/cron", _pages.cron, name="cron"),
        Route("/workflows", _pages.workflows, name="workflows"),
        Route("/workflows/{run_id:path}", _pages.workflow, name="workflow"),
        Route("/fragments/workflow", _pages.workflow_fragment),
        Route("/purge", _pages.purge_confirm),
        Route("/metrics", _pages.metrics),
        Route("/login", _actions.login_page),
        Route("/login", _actions.login, methods=post),
        Route("/logout", _actions.logout, methods=post),
        Route("/actions/abort", _actions.action(_actions.abort), methods=post),
        Route("/actions/retry", _actions.action(_actions.retry), methods=post),
        Route("/actions/requeue", _actions.action(_actions.requeue), methods=post),
        Route("/actions/queue", _actions.action(_actions.queue_control), methods=post),
        Route("/actions/cron", _actions.action(_actions.cron_control), methods=post),
        Route("/actions/workflow-cancel", _actions.action(_actions.cancel_workflow), methods=post),
        Mount("/static", StaticFiles(packages=[("aqueue.dashboard", "static")]), name="static"),
    ]


class TokenGuard:
    """ASGI middleware: with a token set, every route but login and static files needs it."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.token is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if is_open(request) or authenticated(request, self.token):
            await self.app(scope, receive, send)
            return
        await self._refuse(request)(scope, receive, send)

    def _refuse(self, request: Request) -> Response:
        if request.method == "GET" and not wants_json(request) and "authorization" not in request.headers:
            root = request.scope.get("root_path", "")
            return RedirectResponse(f"{root}/login?next={quote(local_path(request))}", status_code=303)
        return Response(
            '{"error": "a token is needed: send Authorization: Bearer TOKEN, or log in", "status": 401}',
            status_code=401,
            media_type="application/json",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "no such page", 405: f"{request.method} is not allowed here"}
    return problem(request, exc.status_code, messages.get(exc.status_code, str(exc.detail)))


async def _aqueue_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, RedisFailure):
        return problem(request, 503, f"Redis is not answering: {exc}")
    if isinstance(exc, ResultNotFound | CronJobNotFound):
        return problem(request, 404, str(exc))
    if isinstance(exc, ConfigurationError):
        return problem(request, 400, str(exc))
    return problem(request, 400, str(exc))


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("dashboard: %s %s failed", request.method, local_path(request), exc_info=exc)
    return problem(request, 500, "the dashboard failed on this request (see its log); nothing was changed")


def create_app(
    redis: RedisLike | Client = None,
    *,
    token: str | None = None,
    read_only: bool = False,
    queues: Sequence[str] = (),
    key_prefix: str | None = None,
    title: str = "aqueue",
    refresh_s: float = 1.0,
) -> Starlette:
    """Return the dashboard as an ASGI app.

    ``redis`` is a URL, an arq ``RedisSettings``, None for ``AQUEUE_REDIS_URL``, or a connected or
    unconnected :class:`aqueue.Client` to share (an app's own; it is not closed by the dashboard).
    ``token`` guards every page and action (the header ``Authorization: Bearer TOKEN``, or the login
    form's cookie); ``read_only`` hides actions and refuses them with 403. ``queues`` are shown beside
    the default queue and those live workers serve. Pages refresh their live parts every
    ``refresh_s`` seconds. Mount it anywhere (``app.mount("/aqueue", create_app(...))``): the client
    connects on the first request, so the host app's lifespan need not know about it.
    """
    if token is not None and not token:
        raise ConfigurationError("token must not be empty (leave it None for no token)")
    if refresh_s <= 0:
        raise ConfigurationError(f"refresh_s must be positive, not {refresh_s}")
    state = DashboardState(redis, key_prefix, Options(token, read_only, tuple(queues), title, refresh_s))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await state.aclose()

    app = Starlette(
        routes=_routes(),
        middleware=[Middleware(TokenGuard, token=token)],
        exception_handlers={HTTPException: _http_error, AqueueError: _aqueue_error, Exception: _unexpected},
        lifespan=lifespan,
    )
    app.state.dashboard = state
    app.state.templates = templates()
    return app
