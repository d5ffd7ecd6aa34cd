"""The one seam to redis-py and arq's connection code: settings, connecting (errors: :mod:`.errors`)."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool

from aqueue._redis.errors import REDIS_ERRORS, redis_failure
from aqueue.errors import ConfigurationError, RedisRefusedError, RedisUnavailableError

__all__ = [
    "DEFAULT_REPLY_TIMEOUT_S",
    "ENV_URL",
    "RedisLike",
    "connect",
    "describe",
    "reply_timeout",
    "resolve_settings",
    "text",
]

logger = logging.getLogger("aqueue.redis")

ENV_URL = "AQUEUE_REDIS_URL"
DEFAULT_URL = "redis://localhost:6379/0"
RedisLike = str | RedisSettings | None
#: How long Redis may leave a command unanswered before the connection is presumed dead (half-open).
DEFAULT_REPLY_TIMEOUT_S = 30.0
#: TCP keepalive: first probe after this many idle seconds, then every interval, given up after count.
KEEPALIVE = {"TCP_KEEPIDLE": 60, "TCP_KEEPINTVL": 15, "TCP_KEEPCNT": 4}


def reply_timeout(seconds: float) -> float:
    """Return ``seconds`` as a reply timeout, or raise ConfigurationError if it is not positive."""
    if seconds <= 0:
        raise ConfigurationError(f"reply_timeout_s must be positive, got {seconds}")
    return seconds


def keepalive_options() -> dict[int, int]:
    """Return :data:`KEEPALIVE` as socket option numbers, for the names this platform has."""
    return {getattr(socket, k): v for k, v in KEEPALIVE.items() if hasattr(socket, k)}


def resolve_settings(value: RedisLike = None) -> RedisSettings:
    """Turn a URL, an arq ``RedisSettings`` or None (``AQUEUE_REDIS_URL`` or the default) into settings."""
    if isinstance(value, RedisSettings):
        return value
    url = value if value is not None else os.environ.get(ENV_URL) or DEFAULT_URL
    if not isinstance(url, str):
        raise ConfigurationError(
            f"redis settings must be a URL or arq RedisSettings, not {type(url).__name__}"
        )
    try:
        return RedisSettings.from_dsn(url)
    except Exception as e:
        raise ConfigurationError(
            f"invalid Redis URL {url!r}: use redis://host:port/db, rediss://… or unix:///path"
        ) from e


def text(value: bytes | str | None, errors: str = "strict") -> str:
    """Return a redis-py reply (bytes, str or None) as str; None becomes ""."""
    if value is None:
        return ""
    return value.decode(errors=errors) if isinstance(value, bytes) else value


def describe(settings: RedisSettings) -> str:
    """Return a password-free address for messages, e.g. ``redis://127.0.0.1:6379/0``."""
    if settings.unix_socket_path:
        return f"unix://{settings.unix_socket_path}"
    scheme = "rediss" if settings.ssl else "redis"
    return f"{scheme}://{settings.host}:{settings.port}/{settings.database}"


async def connect(
    settings: RedisSettings,
    *,
    retries: int | None = None,
    reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S,
    **pool_options: Any,
) -> ArqRedis:
    """Open an arq pool, retrying briefly; raise :class:`RedisUnavailableError` with the address.

    A server that answers with an error (a wrong password, still loading) raises RedisRefusedError.

    Its connections time out a reply after ``reply_timeout_s`` and, over TCP, use keepalive: arq's
    settings have neither, and without them a call on a half-open connection waits forever.
    """
    attempts = settings.conn_retries if retries is None else retries
    saved = (settings.conn_retries, settings.conn_retry_delay)
    try:
        settings.conn_retries, settings.conn_retry_delay = attempts, min(settings.conn_retry_delay, 1)
        pool = await create_pool(settings, **pool_options)
        await _harden(pool, reply_timeout_s, tcp=not settings.unix_socket_path)
        return pool
    except (*REDIS_ERRORS, OSError) as e:  # type: ignore[misc]  # connecting: any timeout is Redis's
        failure = redis_failure(e, describe(settings))
        if isinstance(failure, RedisRefusedError):
            raise failure from e
        raise RedisUnavailableError(
            f"cannot reach Redis at {describe(settings)} ({type(e).__name__}: {e}); "
            f"is redis-server running? set {ENV_URL} or redis_settings"
        ) from e
    finally:
        settings.conn_retries, settings.conn_retry_delay = saved


async def _harden(pool: ArqRedis, reply_timeout_s: float, *, tcp: bool) -> None:
    options: dict[str, Any] = {"socket_timeout": reply_timeout_s}
    if tcp:
        options.update(socket_keepalive=True, socket_keepalive_options=keepalive_options())
    pool.connection_pool.connection_kwargs.update(options)  # every connection made from now on
    # create_pool's PING already made a connection with its own copy of the options: update it (the
    # timeout applies at once, keepalive when it next connects). Not reconnected on purpose: a forced
    # reconnect here made a later cancellation of a task using the pool go missing (redis-py 5.3 on
    # Python 3.11). redis-py has no public way to reach idle connections across 4.x and 5.x.
    for conn in getattr(pool.connection_pool, "_available_connections", []):
        for name, value in options.items():
            setattr(conn, name, value)
