"""The dashboard's state: its client (connected on first use), its options, and rendering helpers."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import jinja2
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.templating import Jinja2Templates

from aqueue._redis.connection import RedisLike, resolve_settings
from aqueue.client import Client
from aqueue.dashboard._latency import shown
from aqueue.dashboard._overview import Throughput
from aqueue.dashboard._security import csrf_token, remember_csrf
from aqueue.errors import ConfigurationError

#: How a page names the queue controls the client offers (``Client.pause_queue`` and friends).
QUEUE_CONTROLS = ("pause_queue", "resume_queue", "paused_queues", "purge_queue")


#: Every page: not framed by another site (clickjacking the action buttons), no referrer outside.
PAGE_HEADERS = {
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "frame-ancestors 'self'",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class Options:
    """What ``create_app`` was asked for."""

    token: str | None = None
    read_only: bool = False
    queues: Sequence[str] = ()
    title: str = "aqueue"
    refresh_s: float = 1.0


@dataclass
class DashboardState:
    """Shared by every request of one app. The client is made and connected on first use."""

    source: RedisLike | Client
    key_prefix: str | None
    options: Options
    throughput: Throughput = field(default_factory=Throughput)
    client: Client | None = None
    owns_client: bool = False
    _lock: asyncio.Lock | None = None
    _connected: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.source, Client):
            if self.key_prefix is not None:
                raise ConfigurationError("key_prefix is the client's own when a Client is passed")
        else:
            resolve_settings(self.source)  # a bad URL fails now; AQUEUE_REDIS_URL is read on first use

    async def connected(self) -> Client:
        """Return the client, connecting it on first use (one attempt: a failure is a 503, not a hang)."""
        if not self._connected:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self.client is None:
                    self.client, self.owns_client = _make_client(self.source, self.key_prefix)
                if not self._connected:
                    await self.client.connect()
                    self._connected = True
        assert self.client is not None
        return self.client

    async def aclose(self) -> None:
        """Close the client if the app made it."""
        if self.owns_client and self.client is not None and self._connected:
            await self.client.aclose()
        self._connected = False

    def control(self, name: str) -> Callable[..., Awaitable[Any]] | None:
        """Return the connected client's queue control ``name`` (pause, resume, purge, paused) if any."""
        if self.client is None or not callable(getattr(type(self.client), name, None)):
            return None
        return cast("Callable[..., Awaitable[Any]]", getattr(self.client, name))

    async def paused(self) -> set[str]:
        """Return the paused queues (empty when the client has no queue controls)."""
        read = self.control("paused_queues")
        return set(await read()) if read is not None else set()


def _make_client(source: RedisLike | Client, key_prefix: str | None) -> tuple[Client, bool]:
    """Return the client to use and whether the app owns it (made it from a URL or settings)."""
    if isinstance(source, Client):
        return source, False
    client = Client(source, key_prefix=key_prefix or "arq:", retry_window_s=0)
    # one connection attempt: a page during an outage answers 503 at once instead of waiting
    client.settings = dataclasses.replace(client.settings, conn_retries=0)
    return client, True


def templates() -> Jinja2Templates:
    """Return the templates shipped in the package (autoescaped)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("aqueue.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["seconds"] = shown  # a latency: 3.2 ms, 1.25 s
    return Jinja2Templates(env=env)


def state_of(request: Request) -> DashboardState:
    """Return the app's state."""
    state: DashboardState = request.app.state.dashboard
    return state


def wants_json(request: Request) -> bool:
    """Whether the caller prefers JSON (an API client) over an HTML page."""
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def render(request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200) -> Response:
    """Render template ``name`` with the context every page has."""
    state = state_of(request)
    page: dict[str, Any] = {
        "root": request.scope.get("root_path", ""),
        "csrf": csrf_token(request),
        "read_only": state.options.read_only,
        "title": state.options.title,
        "guarded": state.options.token is not None,
        "refresh_ms": int(state.options.refresh_s * 1000),
        "notice": request.query_params.get("notice", "")[:200],
        **(context or {}),
    }
    view: Jinja2Templates = request.app.state.templates
    response = view.TemplateResponse(request, name, page, status_code=status)
    remember_csrf(request, response)
    response.headers.update(PAGE_HEADERS)
    return response


def problem(request: Request, status: int, message: str) -> Response:
    """Return a clear error: JSON for API callers, else the error page (never a traceback)."""
    if wants_json(request):
        return JSONResponse({"error": message, "status": status}, status_code=status)
    try:
        return render(request, "error.html", {"status": status, "message": message}, status)
    except Exception:  # the error page itself failed (it never should): plain text, still no traceback
        return Response(f"{status}: {message}\n", status_code=status, media_type="text/plain")
