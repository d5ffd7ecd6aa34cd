"""The hot path's connection, chosen once at connect time: the lean :class:`Wire` or redis-py.

The hot path is what every job pays for: a producer's enqueue, the worker's claim, finish and renew
scripts, and its wake-up ``BLPOP``. It runs over one :class:`Transport`:

* :class:`WireTransport` (aqueue's own connections: TCP, TLS, unix sockets, Sentinel): a :class:`Wire`
  for scripts and a second one for the blocking pop, about half redis-py's client CPU per call;
* :class:`RedisPyTransport` (a pool the caller passed in, or asked for): the same calls through
  redis-py, scripts on the caller's pool and the blocking pop on a connection of its own.

:func:`open_transport` picks one from the settings and the ``transport`` option (``"auto"``, or
``"wire"`` / ``"redis-py"`` to force one; ``AQUEUE_TRANSPORT`` sets what ``"auto"`` means, which is
how the test suite runs everything on both). Everything else (status reads, pub/sub, MULTI, the CLI)
uses the redis-py pool whichever transport runs the hot path.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Sequence
from typing import Literal, Protocol, TypeVar, cast

from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import Redis
from redis.exceptions import ConnectionError

from aqueue._redis.cluster import is_cluster
from aqueue._redis.cluster_transport import ClusterRedisPyTransport
from aqueue._redis.cluster_wire import ClusterWireTransport
from aqueue._redis.connection import DEFAULT_REPLY_TIMEOUT_S, connect
from aqueue._redis.errors import REDIS_ERRORS
from aqueue._redis.evalsha import ScriptArgs, ScriptCall, evalsha_waiting, run_script, run_waiting
from aqueue._redis.wire import Wire, eligible
from aqueue.errors import ConfigurationError, RedisFailure

__all__ = [
    "ENV_TRANSPORT",
    "TRANSPORTS",
    "RedisPyTransport",
    "ScriptArgs",
    "ScriptCall",
    "Transport",
    "WireTransport",
    "choose_transport",
    "open_transport",
    "run_script",
]

#: Set to ``redis-py``, makes ``transport="auto"`` mean redis-py (``wire`` or ``auto``: by the settings).
ENV_TRANSPORT = "AQUEUE_TRANSPORT"
TRANSPORTS: tuple[str, ...] = ("auto", "wire", "redis-py")

ArgsT = TypeVar("ArgsT", bound="ScriptArgs")
ReplyT = TypeVar("ReplyT")


class Transport(Protocol):
    """The hot path's Redis operations over one kind of connection.

    ``run`` runs a script by SHA (loading it on NOSCRIPT, after a restart or a SCRIPT FLUSH) and
    returns its parsed reply. ``blpop`` starts a blocking pop on a connection of its own and returns
    its future at once (one pop at a time): a caller that stops waiting must not cancel it (a
    handed-over job may already be popped); ``stop_blocking`` closes the blocking side (the worker
    cancels its pending pop first, and takes back what was handed over since, see release.lua). ``aclose``
    closes the transport's own connections (never a pool it was given).
    """

    @property
    def name(self) -> str:
        """Return ``"wire"`` or ``"redis-py"``."""

    def run(self, script: ScriptCall[ArgsT, ReplyT], args: ArgsT) -> Awaitable[ReplyT]:
        """Run ``script`` with ``args``; the awaitable gives its parsed reply."""

    def blpop(self, key: str, timeout: float) -> asyncio.Future[Sequence[bytes] | None]:
        """Pop from list ``key``, waiting up to ``timeout`` seconds: (key, value) or None."""

    async def stop_blocking(self) -> None:
        """Close the blocking pop's connection (cancel an outstanding pop first); a later pop reopens it."""

    async def aclose(self) -> None:
        """Close this transport's connections."""


class WireTransport:
    """The hot path over two :class:`Wire` connections: one for scripts, one for the blocking pop."""

    name = "wire"

    def __init__(self, settings: RedisSettings, *, reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S) -> None:
        self._settings = settings
        self._reply_timeout_s = reply_timeout_s
        self._wire = Wire(settings, reply_timeout_s=reply_timeout_s)
        self._blocking: Wire | None = None
        self._durable: Wire | None = None

    def run(self, script: ScriptCall[ArgsT, ReplyT], args: ArgsT) -> Awaitable[ReplyT]:
        """Run ``script`` with ``args`` on the scripts' Wire (no extra coroutine: see :func:`run_script`)."""
        return run_script(self._wire.call, script, args)

    def run_replicated(
        self, script: ScriptCall[ArgsT, ReplyT], args: ArgsT, replicas: int, timeout_ms: int
    ) -> Awaitable[tuple[ReplyT, int]]:
        """Run ``script`` and a WAIT on a Wire of their own (opened on first use).

        A WAIT holds back the replies after it on its connection, so the scripts' Wire (claims,
        renewals) never waits for replicas.
        """
        if self._durable is None:
            self._durable = Wire(self._settings, reply_timeout_s=self._reply_timeout_s)
        return run_waiting(self._durable.call, script, args, replicas, timeout_ms)

    def blpop(self, key: str, timeout: float) -> asyncio.Future[Sequence[bytes] | None]:
        """Send a BLPOP on the blocking Wire (opened on first use); its reply may take ``timeout``."""
        if self._blocking is None:
            self._blocking = Wire(self._settings, reply_timeout_s=self._reply_timeout_s)
        return self._blocking.call("BLPOP", key, timeout, wait_s=timeout)

    async def stop_blocking(self) -> None:
        """Close the blocking Wire."""
        if self._blocking is not None:
            await self._blocking.aclose()
            self._blocking = None

    async def aclose(self) -> None:
        """Close the Wires."""
        await self.stop_blocking()
        if self._durable is not None:
            await self._durable.aclose()
        await self._wire.aclose()


class RedisPyTransport:
    """The hot path through redis-py: scripts on ``pool``, the blocking pop on a connection of its own.

    That connection is made from ``settings`` (with a reply timeout long enough for ``block_s``, the
    longest pop) or, for a pool passed in without settings, from the pool's connection options.
    """

    name = "redis-py"

    def __init__(
        self,
        pool: Redis,
        settings: RedisSettings | None = None,
        *,
        reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S,
        block_s: float = 0.0,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._blocking_timeout_s = reply_timeout_s + block_s
        self._blocking: ArqRedis | None = None

    def run(self, script: ScriptCall[ArgsT, ReplyT], args: ArgsT) -> Awaitable[ReplyT]:
        """Run ``script`` with ``args`` as a bare ``execute_command`` (skips ``Script.__call__``)."""
        return run_script(self._pool.execute_command, script, args)

    async def run_replicated(
        self, script: ScriptCall[ArgsT, ReplyT], args: ArgsT, replicas: int, timeout_ms: int
    ) -> tuple[ReplyT, int]:
        """Run ``script`` and a WAIT as one pipeline (so on one of the pool's connections)."""
        reply, acknowledged = await evalsha_waiting(self._pool, script, args.argv(), replicas, timeout_ms)
        return script.parse(args, reply), acknowledged

    def blpop(self, key: str, timeout: float) -> asyncio.Future[Sequence[bytes] | None]:
        """Start a BLPOP on the blocking connection (opened on first use) as a task."""
        return asyncio.ensure_future(self._blpop(key, timeout))

    async def _blpop(self, key: str, timeout: float) -> Sequence[bytes] | None:
        if self._blocking is None:  # one pop at a time (see Transport), so one connection
            self._blocking = await self._connect_blocking()
        pop = self._blocking.blpop([key], timeout)  # type: ignore[arg-type]  # float seconds: Redis 6+
        popped = await cast(Awaitable[Sequence[bytes] | None], pop)
        return popped

    async def _connect_blocking(self) -> ArqRedis:
        if self._settings is None:
            return ArqRedis(**self._pool.connection_pool.connection_kwargs)
        try:
            return await connect(self._settings, retries=0, reply_timeout_s=self._blocking_timeout_s)
        except RedisFailure as e:  # to the caller's loop (which retries) as what redis-py raised
            cause = e.__cause__
            raise (cause if isinstance(cause, REDIS_ERRORS) else ConnectionError(str(e))) from e

    async def stop_blocking(self) -> None:
        """Close the blocking connection."""
        conn, self._blocking = self._blocking, None
        if conn is not None:
            await conn.aclose()

    async def aclose(self) -> None:
        """Close the blocking connection (the pool belongs to whoever passed it in)."""
        await self.stop_blocking()


def choose_transport(requested: str, settings: RedisSettings | None) -> Literal["wire", "redis-py"]:
    """Return the transport for ``requested`` (``auto``, ``wire``, ``redis-py``) and ``settings``.

    ``settings`` None means a pool the caller passed in. ``wire`` needs settings (TCP, TLS, a unix
    socket or Sentinel's), not a pool; ``auto`` takes the Wire wherever it can, unless
    ``AQUEUE_TRANSPORT`` says ``redis-py`` (a ``wire`` there means ``auto``: an environment default never
    makes a pool passed in fail).
    """
    if requested not in TRANSPORTS:
        raise ConfigurationError(f"transport must be one of {', '.join(TRANSPORTS)}, not {requested!r}")
    lean = settings is not None and (eligible(settings) or is_cluster(settings))
    if requested == "wire" and not lean:
        raise ConfigurationError(
            "transport='wire' needs Redis settings or a URL to connect with: a pool passed in uses "
            "transport='redis-py'"
        )
    if requested == "auto":
        default = os.environ.get(ENV_TRANSPORT) or "auto"
        if default not in TRANSPORTS:
            raise ConfigurationError(
                f"{ENV_TRANSPORT} must be one of {', '.join(TRANSPORTS)}, not {default!r}"
            )
        requested = default
    return "wire" if lean and requested != "redis-py" else "redis-py"


def open_transport(
    requested: str,
    *,
    pool: Redis,
    settings: RedisSettings | None,
    reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S,
    block_s: float = 0.0,
) -> Transport:
    """Return the hot path's transport (see :func:`choose_transport`); it connects on first use.

    ``pool`` serves the redis-py transport's scripts; ``settings`` are None for a pool passed in;
    ``block_s`` is the longest blocking pop the caller will ask for (redis-py's reply timeout).
    """
    choice = choose_transport(requested, settings)
    if settings is not None and is_cluster(settings):
        return _cluster_transport(choice, pool, settings, reply_timeout_s, block_s)
    if choice == "wire":
        assert settings is not None
        return WireTransport(settings, reply_timeout_s=reply_timeout_s)
    return RedisPyTransport(pool, settings, reply_timeout_s=reply_timeout_s, block_s=block_s)


def _cluster_transport(
    choice: str, pool: Redis, settings: RedisSettings, reply_timeout_s: float, block_s: float
) -> Transport:
    """Return the hot path on a Redis Cluster: scripts and pops routed to their slot's primary."""
    if choice == "wire":
        return ClusterWireTransport(settings, reply_timeout_s=reply_timeout_s)
    return ClusterRedisPyTransport(pool, settings, reply_timeout_s=reply_timeout_s, block_s=block_s)
