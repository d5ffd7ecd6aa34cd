"""The one seam between redis-py's exceptions and aqueue's: every public call translates here.

In the manner of httpx's ``map_httpcore_exceptions``: :func:`redis_errors` is a context manager put
around the calls to Redis that a public function makes; it re-raises what redis-py (or the lean
:class:`~aqueue._redis.wire.Wire`, which raises redis-py's classes) raised as an
:class:`~aqueue.errors.RedisFailure`:

* a lost, refused, reset or silent connection (redis-py's ``ConnectionError`` and ``TimeoutError``,
  the builtin ``ConnectionError``, a garbled reply) becomes :class:`~aqueue.errors.RedisUnavailableError`;
* an error reply (redis-py's ``ResponseError`` and its kin, ``BusyLoadingError``, the login errors)
  becomes :class:`~aqueue.errors.RedisRefusedError`, with the reply's code and text and what it means;
* any other redis-py error (``DataError``, ``PubSubError``, …) becomes :class:`~aqueue.errors.RedisFailure`.

The builtin ``TimeoutError`` is not among :data:`REDIS_ERRORS`, so ``JobTimeout`` (a subclass) and
an ``asyncio.timeout`` of the caller pass through untouched. The hot path (``Client.enqueue``) writes
the ``except REDIS_ERRORS`` clause inline instead of entering the context manager: a ``try`` costs
nothing until it catches. Worker loops catch :data:`REDIS_ERRORS` themselves and describe the error
with :func:`redis_failure` (see :mod:`aqueue._backoff`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis.exceptions
from redis.asyncio.connection import SSLConnection
from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    BusyLoadingError,
    ChildDeadlockedError,
    InvalidResponse,
    RedisClusterException,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from aqueue.errors import RedisAuthError, RedisFailure, RedisRefusedError, RedisUnavailableError

__all__ = ["REDIS_ERRORS", "describe_pool", "format_address", "redis_errors", "redis_failure", "reply_of"]

#: Everything a call to Redis can raise that means "it did not go through". Not the builtin
#: ``TimeoutError``: redis-py and the Wire raise their own, and JobTimeout is one.
REDIS_ERRORS: tuple[type[Exception], ...] = (
    RedisError,
    RedisClusterException,
    ChildDeadlockedError,
    ConnectionError,
)
_REFUSALS = (ResponseError, BusyLoadingError, AuthenticationError, AuthorizationError)
_LOST = (RedisConnectionError, RedisTimeoutError, InvalidResponse, RedisClusterException, ConnectionError)
#: redis-py cuts these codes off the reply's text: the class tells which it was. (By name: older
#: redis-py has fewer of them, e.g. 4.2 no OutOfMemoryError, and leaves those codes in the text.)
_CODE_OF_CLASS: dict[type[Exception], str] = {
    cls: code
    for name, code in (
        ("OutOfMemoryError", "OOM"),
        ("ReadOnlyError", "READONLY"),
        ("BusyLoadingError", "LOADING"),
        ("NoScriptError", "NOSCRIPT"),
        ("ExecAbortError", "EXECABORT"),
        ("NoPermissionError", "NOPERM"),
        ("AuthorizationError", "NOPERM"),
    )
    if (cls := getattr(redis.exceptions, name, None)) is not None
}
_CODE = re.compile(r"[A-Z][A-Z_]+")
#: Redis 6 wraps a refusal inside a script: ``ERR Error running script (…): @user_script: 3: -OOM …``.
_IN_SCRIPT = re.compile(r"Error running script .*?: -([A-Z][A-Z_]+ .*)", re.DOTALL)
#: redis-py's pipelines rewrite the message: ``Command # 1 (PSETEX k …) of pipeline caused error: …``.
_IN_PIPELINE = re.compile(r"Command # \d+ \(.*\) of pipeline caused error: (.*)", re.DOTALL)
#: The codes whose command was necessarily a write.
_WRITES = frozenset({"OOM", "READONLY", "MISCONF", "NOREPLICAS"})
#: The codes of refused credentials.
_AUTH = frozenset({"NOAUTH", "WRONGPASS"})
#: Why Redis refused, and what to do, by code.
_MEANING = {
    "OOM": "it is out of memory (maxmemory reached, noeviction); free memory or raise maxmemory",
    "READONLY": "it is a read-only replica (after a failover?); point aqueue at the primary",
    "MASTERDOWN": "it is a replica that lost its primary",
    "BUSY": "it is busy running a long script (SCRIPT KILL ends one that wrote nothing)",
    "LOADING": "it is loading its dataset into memory and answers once that is done",
    "NOSCRIPT": "the script is not loaded (Redis restarted, or SCRIPT FLUSH)",
    "NOAUTH": "it wants a password; put it in the URL (redis://:password@host:port/db)",
    "WRONGPASS": "the user name or password in the URL is wrong",
    "NOPERM": "the Redis user lacks a permission for it (ACL)",
    "MISCONF": "it cannot save to disk and refuses writes (stop-writes-on-bgsave-error)",
    "NOREPLICAS": "not enough replicas are connected (min-replicas-to-write)",
    "EXECABORT": "a command of the transaction was refused",
    "UNBLOCKED": "the blocking call was ended, e.g. as the server turned into a replica",
    "CLUSTERDOWN": "the cluster is down",
    "TRYAGAIN": "the cluster is moving the keys' slot; retry shortly",
}


def describe_pool(redis: Any) -> str:
    """Return a password-free address for a redis-py client or pool, from its connection options."""
    cluster = getattr(redis, "cluster_address", None)  # aqueue's ClusterPool: its seed nodes
    if isinstance(cluster, str):
        return cluster
    pool = getattr(redis, "connection_pool", redis)
    kwargs: dict[str, Any] = getattr(pool, "connection_kwargs", {})
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}"
    manager = getattr(pool, "sentinel_manager", None)
    if manager is not None:  # Sentinel: the primary's address is looked up per connection
        where = ",".join(_address(node.connection_pool.connection_kwargs) for node in manager.sentinels)
        return f"redis+sentinel://{where}/{pool.service_name}/{kwargs.get('db', 0)}"
    if "host" not in kwargs:
        return ""
    tls = issubclass(getattr(pool, "connection_class", object), SSLConnection)
    scheme = "rediss" if tls else "redis"
    return f"{scheme}://{kwargs['host']}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def format_address(host: str, port: int) -> str:
    """Return ``host:port``, with an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _address(kwargs: dict[str, Any]) -> str:
    return format_address(str(kwargs.get("host", "localhost")), int(kwargs.get("port", 6379)))


def _message(error: BaseException) -> str:
    text = str(error.args[0]) if error.args else str(error)
    found = _IN_PIPELINE.fullmatch(text)
    if found is None:
        return text
    inner = found.group(1)
    try:  # redis-py 5 writes the original args tuple, ('text',)
        args = ast.literal_eval(inner)
    except (ValueError, SyntaxError):
        return inner
    return str(args[0]) if isinstance(args, tuple) and args else inner


def reply_of(error: BaseException) -> tuple[str, str]:
    """Return an error reply's code and text (``("OOM", "OOM command not allowed …")``).

    The same for redis-py's classes, which cut known codes off the text, and the Wire's, which keep
    them; a refusal inside a script (Redis 6 says ``ERR Error running script …: -OOM …``) gives the
    inner code and text.
    """
    text = _message(error)
    code = next((c for k, c in _CODE_OF_CLASS.items() if isinstance(error, k)), "")
    if isinstance(error, AuthenticationError) and not code:
        code = "WRONGPASS" if "invalid" in text else "NOAUTH"
    first = text.split(" ", 1)[0]
    if _CODE.fullmatch(first):
        code = first
    elif code:
        text = f"{code} {text}"
    else:  # redis-py cuts "ERR " off as well
        code, text = "ERR", f"ERR {text}"
    inner = _IN_SCRIPT.search(text) if code == "ERR" else None
    if inner is not None:
        text = inner.group(1)
        code = text.split(" ", 1)[0]
    return code, text


def redis_failure(error: BaseException, where: str = "") -> RedisFailure:
    """Return the aqueue error for ``error``, raised by a call to Redis at ``where`` (an address)."""
    if isinstance(error, _REFUSALS):
        code, text = reply_of(error)
        what = "write" if code in _WRITES else "command"
        meaning = _MEANING.get(code)
        why = f"{meaning}. Redis said: {text}" if meaning else text
        kind = RedisAuthError if code in _AUTH else RedisRefusedError
        return kind(f"{_at(where)} refused the {what}: {why}", code=code, reply=text)
    if isinstance(error, _LOST):
        return RedisUnavailableError(f"lost {_at(where)} ({type(error).__name__}: {error})")
    return RedisFailure(f"a call to {_at(where)} failed ({type(error).__name__}: {error})")


def _at(where: str) -> str:
    return f"Redis at {where}" if where else "Redis"


@contextmanager
def redis_errors(where: Any = "") -> Iterator[None]:
    """Translate what a call to Redis raises inside the block (see the module's docstring).

    ``where`` names the server in messages: an address, or a redis-py client or pool (described
    only if something fails).
    """
    try:
        yield
    except REDIS_ERRORS as e:
        raise redis_failure(e, where if isinstance(where, str) else describe_pool(where)) from e
