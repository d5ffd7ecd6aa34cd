"""The one seam to redis-py and arq's connection code: settings, connecting (errors: :mod:`.errors`).

URLs: arq's (``redis://[user:password@]host:port/db``, ``rediss://…``, ``unix:///path``; a ``rediss://``
URL takes arq's TLS fields as query options, ``?ssl_cert_reqs=none&ssl_ca_certs=…``: :mod:`.tls`) and
Sentinel's, ``redis+sentinel://[user:password@]host:port[,host:port…]/master[/db][?sentinel_password=…]``:
the sentinels to ask, the name of the master they watch, the database; the credentials before ``@`` are
the data nodes' (the primary's and replicas'), ``sentinel_username`` and ``sentinel_password`` the
sentinels' own (when they have ``requirepass``). A Sentinel URL becomes :class:`SentinelSettings`, arq's
``RedisSettings(sentinel=True, host=[(host, port), …], sentinel_master=…)`` with those two fields more.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import ssl
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from arq.connections import ArqRedis, RedisSettings
from redis.asyncio.sentinel import MasterNotFoundError, Sentinel
from redis.exceptions import AuthenticationError, BusyLoadingError

from aqueue._redis.cluster import (
    CLUSTER_SCHEME,
    describe_cluster,
    is_cluster,
    parse_cluster_url,
    split_address,
    url_credentials,
)
from aqueue._redis.cluster_transport import open_cluster_pool
from aqueue._redis.errors import REDIS_ERRORS, format_address, redis_failure
from aqueue._redis.tls import TLS_OPTIONS, ssl_context, tls_fields, tls_refusal
from aqueue.errors import ConfigurationError, RedisAuthError, RedisRefusedError, RedisUnavailableError

__all__ = [
    "DEFAULT_REPLY_TIMEOUT_S",
    "ENV_URL",
    "RedisLike",
    "SentinelSettings",
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
SENTINEL_SCHEME = "redis+sentinel://"
DEFAULT_SENTINEL_PORT = 26379
SENTINEL_FORM = "redis+sentinel://[user:password@]host:port[,host:port…]/master[/db][?sentinel_password=…]"
#: Query options a Sentinel URL takes.
SENTINEL_OPTIONS = frozenset({"db", "sentinel_username", "sentinel_password"})


@dataclasses.dataclass(repr=False)
class SentinelSettings(RedisSettings):
    """arq's ``RedisSettings`` for a Sentinel deployment, with the sentinels' own credentials.

    ``host`` lists the sentinels as ``(host, port)`` pairs, ``sentinel_master`` names the master they
    watch; ``username`` and ``password`` are the data nodes', ``sentinel_username`` and
    ``sentinel_password`` the sentinels' (None: the sentinels take no password).
    """

    sentinel: bool = True
    sentinel_username: str | None = None
    sentinel_password: str | None = None

    def __repr__(self) -> str:
        return f"SentinelSettings({describe(self)})"


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
    if url.startswith(SENTINEL_SCHEME):
        return parse_sentinel_url(url)
    if url.startswith(CLUSTER_SCHEME):
        return parse_cluster_url(url)
    try:
        settings = RedisSettings.from_dsn(url)
        options = {k: v[-1] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}
    except Exception as e:
        raise ConfigurationError(
            f"invalid Redis URL {_redacted(url)!r}: use redis://host:port/db, rediss://…, unix:///path "
            f"or {SENTINEL_FORM}"
        ) from e
    return _with_url_options(url, settings, options)


def _with_url_options(url: str, settings: RedisSettings, options: dict[str, str]) -> RedisSettings:
    """Return ``settings`` with the TLS fields a URL's query sets; an unknown option is an error."""
    unknown = sorted(set(options) - TLS_OPTIONS - {"db"})
    if unknown:
        known = ", ".join(sorted(TLS_OPTIONS | {"db"}))
        raise ConfigurationError(
            f"invalid Redis URL {_redacted(url)!r}: unknown option {unknown[0]!r} (known: {known})"
        )
    fields = tls_fields(options)
    if fields and not settings.ssl:
        raise ConfigurationError(f"invalid Redis URL {_redacted(url)!r}: TLS options need a rediss:// URL")
    return dataclasses.replace(settings, **fields) if fields else settings


def parse_sentinel_url(url: str) -> SentinelSettings:
    """Return the settings of a ``redis+sentinel://`` URL (see the module's docstring)."""
    rest, _, query = url[len(SENTINEL_SCHEME) :].partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, _, hosts = netloc.rpartition("@")
    username, password = url_credentials(userinfo)
    options = _sentinel_options(url, query)
    parts = [unquote(p) for p in path.split("/")] if path else []
    if not parts or not parts[0] or len(parts) > 2:
        raise _bad_sentinel_url(url, "name the master after the sentinels: …/mymaster or …/mymaster/0")
    database = _integer(url, parts[1] if len(parts) == 2 and parts[1] else options.get("db", "0"))
    return SentinelSettings(
        host=[_sentinel_address(url, h) for h in hosts.split(",")],
        sentinel_master=parts[0],
        database=database,
        username=username,
        password=password,
        sentinel_username=options.get("sentinel_username"),
        sentinel_password=options.get("sentinel_password"),
    )


def _sentinel_options(url: str, query: str) -> dict[str, str]:
    try:
        values = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise _bad_sentinel_url(url, f"cannot read the options after '?' ({query!r})") from None
    unknown = sorted(set(values) - SENTINEL_OPTIONS)
    if unknown:
        known = ", ".join(sorted(SENTINEL_OPTIONS))
        raise _bad_sentinel_url(url, f"unknown option {unknown[0]!r} (known: {known})")
    return {k: v[-1] for k, v in values.items()}


def _sentinel_address(url: str, text: str) -> tuple[str, int]:
    host, port = split_address(text)
    if not host:
        raise _bad_sentinel_url(url, f"a sentinel address must be host:port, not {text!r}")
    number = _integer(url, port) if port else DEFAULT_SENTINEL_PORT
    if not 0 < number < 65536:
        raise _bad_sentinel_url(url, f"port {number} of sentinel {host} is out of range")
    return host, number


def _integer(url: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _bad_sentinel_url(url, f"{text!r} is not a number") from None


def _bad_sentinel_url(url: str, why: str) -> ConfigurationError:
    return ConfigurationError(f"invalid Sentinel URL {_redacted(url)!r}: {why}; use {SENTINEL_FORM}")


def _redacted(url: str) -> str:
    """Return ``url`` without the password before ``@`` and without a ``sentinel_password`` option."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        userinfo, _, after = rest.partition("@")
        user = userinfo.partition(":")[0]
        rest = f"{user}:***@{after}" if ":" in userinfo else f"{userinfo}@{after}"
    head, qmark, query = rest.partition("?")
    if qmark:
        pairs = [
            p if not p.startswith("sentinel_password=") else "sentinel_password=***" for p in query.split("&")
        ]
        rest = f"{head}?{'&'.join(pairs)}"
    return f"{scheme}{sep}{rest}"


def text(value: bytes | str | None, errors: str = "strict") -> str:
    """Return a redis-py reply (bytes, str or None) as str; None becomes ""."""
    if value is None:
        return ""
    return value.decode(errors=errors) if isinstance(value, bytes) else value


def describe(settings: RedisSettings) -> str:
    """Return a password-free address for messages, e.g. ``redis://127.0.0.1:6379/0``.

    Sentinel settings print as their sentinels and master: ``redis+sentinel://h:26379,h2:26379/mymaster/0``.
    """
    if is_cluster(settings):
        return describe_cluster(settings)
    if settings.sentinel:
        hosts = settings.host if isinstance(settings.host, list) else [(settings.host, settings.port)]
        where = ",".join(format_address(str(h), int(p)) for h, p in hosts)
        return f"{SENTINEL_SCHEME}{where}/{settings.sentinel_master}/{settings.database}"
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

    A server that answers with an error raises RedisRefusedError at once, without retrying: a wrong
    or missing password (of the data nodes, or of the sentinels) raises :class:`RedisAuthError`. Only
    a server still loading its data is waited for.

    Its connections time out a reply after ``reply_timeout_s`` and, over TCP, use keepalive: arq's
    settings have neither, and without them a call on a half-open connection waits forever.
    """
    attempts = settings.conn_retries if retries is None else retries
    if settings.ssl:
        ssl_context(settings)  # a TLS file that cannot be loaded: one clear error, before connecting
    for attempt in range(attempts + 1):
        try:
            if is_cluster(settings):
                pool_options["socket_timeout"] = reply_timeout_s
                pool_options["socket_keepalive_options"] = keepalive_options()
            pool = await _open_pool(settings, **pool_options)
            if not is_cluster(settings):
                await _harden(pool, reply_timeout_s, tcp=not settings.unix_socket_path)
            return pool
        except (*REDIS_ERRORS, OSError) as e:  # type: ignore[misc]  # connecting: any timeout is Redis's
            if isinstance(e, SentinelAuthenticationError):
                raise _sentinels_refused(settings, e) from e
            if settings.ssl and (refused := await tls_refusal(settings, e)) is not None:
                await asyncio.sleep(0)  # asyncio closes a failed handshake's socket in a callback: let it run
                raise _tls_refused(settings, refused) from e  # not retried: the next handshake fails alike
            failure = redis_failure(e, describe(settings))
            if isinstance(failure, RedisRefusedError) and not isinstance(e, BusyLoadingError):
                raise failure from e
            if attempt == attempts:
                raise _unreachable(settings, e) from e
            logger.debug(  # the final failure is what is reported: one line, not one per attempt
                "cannot reach Redis at %s (%s: %s); %d retries left",
                describe(settings),
                type(e).__name__,
                e,
                attempts - attempt,
            )
            await asyncio.sleep(min(settings.conn_retry_delay, 1))
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _sentinels_refused(settings: RedisSettings, error: AuthenticationError) -> RedisAuthError:
    given = getattr(settings, "sentinel_password", None) is not None
    code = "WRONGPASS" if given else "NOAUTH"
    why = (
        "the sentinel password is wrong"
        if given
        else "they want a password: add ?sentinel_password=… to the URL"
    )
    return RedisAuthError(
        f"the sentinels of {describe(settings)} refused the connection: {why}. A sentinel said: {error}",
        code=code,
        reply=str(error),
    )


def _tls_refused(settings: RedisSettings, error: ssl.SSLError) -> RedisUnavailableError:
    return RedisUnavailableError(
        f"the TLS handshake with {describe(settings)} failed ({error}): check ssl_ca_certs "
        "(or ssl_cert_reqs=none for a CA you do not have) and, if the server asks for one, the client "
        "certificate (ssl_certfile, ssl_keyfile)"
    )


def _unreachable(settings: RedisSettings, error: BaseException) -> RedisUnavailableError:
    if settings.sentinel and isinstance(error, MasterNotFoundError):
        return RedisUnavailableError(
            f"no sentinel of {describe(settings)} named a primary for {settings.sentinel_master!r} "
            f"({error}); "
            f"are the sentinels running, and is that the master's name? set {ENV_URL} or redis_settings"
        )
    return RedisUnavailableError(
        f"cannot reach Redis at {describe(settings)} ({type(error).__name__}: {error}); "
        f"is redis-server running? set {ENV_URL} or redis_settings"
    )


async def _open_pool(settings: RedisSettings, **pool_options: Any) -> ArqRedis:
    """Open one pool, one attempt (the retries are ours), as arq's ``create_pool`` would; closed if it fails.

    arq's leaves a failed pool open: over TLS its half-shut socket then outlives the event loop.
    """
    if is_cluster(settings):
        if settings.max_connections:
            pool_options["max_connections"] = settings.max_connections
        return await open_cluster_pool(settings, **pool_options)
    if not settings.sentinel:
        plain = ArqRedis(
            host=settings.host,
            port=settings.port,
            unix_socket_path=settings.unix_socket_path,
            socket_connect_timeout=settings.conn_timeout,
            retry=settings.retry,
            retry_on_timeout=settings.retry_on_timeout,
            retry_on_error=settings.retry_on_error,
            max_connections=settings.max_connections,
            db=settings.database,
            username=settings.username,
            password=settings.password,
            encoding="utf8",
            **_tls_options(settings),
            **pool_options,
        )
        try:
            await plain.ping()
        except BaseException:
            await plain.aclose()
            raise
        return plain
    if not isinstance(settings.host, list) or not settings.host:
        raise ConfigurationError("Sentinel settings need host=[(host, port), …]: the sentinels' addresses")
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        settings.host,
        sentinel_kwargs={
            "username": getattr(settings, "sentinel_username", None),
            "password": getattr(settings, "sentinel_password", None),
            "socket_connect_timeout": settings.conn_timeout,
            "socket_timeout": max(settings.conn_timeout, 1),
        },
        socket_connect_timeout=settings.conn_timeout,
        **_tls_options(settings),
    )
    pool: ArqRedis = sentinel.master_for(
        settings.sentinel_master,
        redis_class=SentinelRedis,
        db=settings.database,
        username=settings.username,
        password=settings.password,
        encoding="utf8",
        max_connections=settings.max_connections,
    )
    pool.job_serializer = pool_options.get("job_serializer")
    pool.job_deserializer = pool_options.get("job_deserializer")
    pool.default_queue_name = pool_options.get("default_queue_name", pool.default_queue_name)
    pool.expires_extra_ms = pool_options.get("expires_extra_ms", pool.expires_extra_ms)
    try:
        await pool.ping()
    except MasterNotFoundError as e:
        await pool.aclose()
        refusal = await _sentinel_refusal(sentinel)
        if refusal is None:
            raise
        raise refusal from e
    except BaseException:
        await pool.aclose()
        raise
    return pool


def _tls_options(settings: RedisSettings) -> dict[str, Any]:
    """Return redis-py's connection options for the TLS fields of ``settings``, as arq's create_pool's."""
    if not settings.ssl:
        return {}
    names = (
        "ssl_keyfile",
        "ssl_certfile",
        "ssl_cert_reqs",
        "ssl_ca_certs",
        "ssl_ca_data",
        "ssl_check_hostname",
    )
    return {"ssl": True, **{name: getattr(settings, name) for name in names}}


async def _sentinel_refusal(sentinel: Sentinel) -> Exception | None:
    """Return the error a sentinel refused us with (a wrong password), if one did: redis-py hides it."""
    for node in sentinel.sentinels:
        try:
            await node.ping()
        except AuthenticationError as e:
            return SentinelAuthenticationError(str(e))
        except REDIS_ERRORS:
            continue
    return None


class SentinelAuthenticationError(AuthenticationError):
    """A sentinel refused the sentinel credentials (redis-py's class, so that it translates as one)."""


class SentinelRedis(ArqRedis):
    """An arq pool on the primary that Sentinel names; closing it closes the sentinels' clients too."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Close the pool, then the connections to the sentinels."""
        await super().aclose(close_connection_pool)
        manager = getattr(self.connection_pool, "sentinel_manager", None)
        for node in getattr(manager, "sentinels", ()):
            await node.aclose()


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
