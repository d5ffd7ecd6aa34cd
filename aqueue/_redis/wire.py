"""A lean Redis connection for the hot path: one socket, pipelined commands, replies parsed by hiredis.

redis-py spends ~80 µs of client CPU per command (pool checkout, locks, response callbacks); on the
hot path (an enqueue, a claim, the worker's wake-up BLPOP) that is most of the cost. A ``Wire`` is an
``asyncio.Protocol``: a command is packed by ``hiredis.pack_command`` and written at once, and its
reply resolves a future in FIFO order, so any number of coroutines may share one ``Wire`` and their
commands pipeline on the socket.

Behaviour callers rely on:

* errors are redis-py's classes (``ConnectionError``, ``TimeoutError``, ``ResponseError``,
  ``NoScriptError``), so the rest of aqueue handles them as it handles redis-py's;
* a command on a closed connection reconnects first (with AUTH and SELECT); a command in flight when
  the connection drops fails with ``ConnectionError`` and is never re-sent;
* a caller that stops waiting (cancelled, timed out) leaves the reply to be read and dropped, so
  later replies stay matched to their commands;
* a command left unanswered for ``reply_timeout_s`` (plus the wait a blocking command asked for) means
  the connection is dead, e.g. half-open after a network fault that sent no reset: the socket is
  dropped, every waiting call fails with ``ConnectionError``, and the next call reconnects. TCP
  keepalive is on, so idle connections are probed too (and NAT and firewall entries stay alive).

TCP and unix sockets only: TLS and Sentinel settings keep redis-py (see :func:`eligible`).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import socket
from typing import Any, cast

import hiredis
from arq.connections import RedisSettings
from redis.exceptions import (
    AuthenticationError,
    ConnectionError,
    NoScriptError,
    ResponseError,
)
from redis.exceptions import TimeoutError as RedisTimeoutError

from aqueue._redis.connection import DEFAULT_REPLY_TIMEOUT_S, keepalive_options

__all__ = ["Wire", "eligible"]

#: Error-reply prefixes that map to a more specific redis-py class.
_SPECIFIC_ERRORS: dict[str, type[ResponseError]] = {"NOSCRIPT": NoScriptError}


def eligible(settings: RedisSettings) -> bool:
    """Return True if ``settings`` are plain TCP or a unix socket (no TLS, no Sentinel)."""
    return not settings.ssl and not settings.sentinel and isinstance(settings.host, str)


def _error(reply: ResponseError) -> Exception:
    message = str(reply)
    kind = _SPECIFIC_ERRORS.get(message.split(" ", 1)[0], ResponseError)
    if message.startswith(("NOAUTH", "WRONGPASS", "NOPERM")):
        return AuthenticationError(message)
    return kind(message)


def _keep_alive(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in keepalive_options().items():
        sock.setsockopt(socket.IPPROTO_TCP, option, value)


class _Protocol(asyncio.Protocol):
    """The socket side: writes packed commands, resolves one waiting future per reply.

    A watchdog timer runs while replies are awaited: if the oldest command is past its deadline,
    the connection is dropped (replies come in order, so nothing behind it can have been answered).
    """

    def __init__(self, reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S) -> None:
        self._reader = hiredis.Reader(replyError=ResponseError)
        self._waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._deadlines: collections.deque[float] = collections.deque()  # loop time, one per command
        self._reply_timeout_s = reply_timeout_s
        self._watchdog: asyncio.TimerHandle | None = None
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio subclasses
        _keep_alive(transport)

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            fut = self._waiting.popleft()
            self._deadlines.popleft()
            if fut.done():  # its caller stopped waiting: drop the reply
                continue
            if isinstance(reply, ResponseError):
                fut.set_exception(_error(reply))
            else:
                fut.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        reason = f"connection to Redis lost ({exc})" if exc else "connection to Redis closed"
        self._fail_waiting(ConnectionError(reason))

    def _fail_waiting(self, error: Exception) -> None:
        self._deadlines.clear()
        while self._waiting:
            fut = self._waiting.popleft()
            if not fut.done():
                fut.set_exception(error)

    def send(self, packed: bytes, fut: asyncio.Future[Any], wait_s: float = 0.0) -> asyncio.Future[Any]:
        """Write one packed command; ``fut`` gets its reply (a blocking command may take ``wait_s``)."""
        assert self._transport is not None
        self._transport.write(packed)
        self._waiting.append(fut)
        self._deadlines.append(self._loop.time() + self._reply_timeout_s + wait_s)
        if self._watchdog is None:
            self._watchdog = self._loop.call_at(self._deadlines[0], self._watch)
        return fut

    def _watch(self) -> None:
        self._watchdog = None
        if not self._deadlines or self.closed:
            return
        if self._loop.time() < self._deadlines[0]:
            self._watchdog = self._loop.call_at(self._deadlines[0], self._watch)
            return
        assert self._transport is not None
        error = ConnectionError(
            f"no reply from Redis in {self._reply_timeout_s:g} s: connection presumed dead (half-open?)"
        )
        self._transport.abort()  # connection_lost follows, with no error of its own: fail the calls now
        self.closed = True
        self._fail_waiting(error)

    def close(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.close()


class Wire:
    """One lean, shared connection to the Redis in ``settings``; opened on first use.

    Commands are sent in the order they were called, also across a (re)connect: calls made while
    the connection opens wait in a backlog that is flushed, in order, once it is open.
    """

    def __init__(self, settings: RedisSettings, *, reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S) -> None:
        if not eligible(settings):
            raise ValueError("Wire supports plain TCP and unix sockets only")
        if reply_timeout_s <= 0:
            raise ValueError(f"reply_timeout_s must be positive, got {reply_timeout_s}")
        self.settings = settings
        self.reply_timeout_s = reply_timeout_s
        self._protocol: _Protocol | None = None
        self._backlog: list[tuple[bytes, asyncio.Future[Any], float]] = []
        self._connector: asyncio.Task[None] | None = None
        self._closed = False

    def call(self, *args: Any, wait_s: float = 0.0) -> asyncio.Future[Any]:
        """Send one command (connecting first if needed); return a future for its reply.

        ``wait_s``: how long a blocking command (``BLPOP key 5``) may legitimately wait for its answer,
        on top of ``reply_timeout_s``.
        """
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        protocol = self._protocol
        if protocol is not None and not protocol.closed:
            return protocol.send(hiredis.pack_command(args), fut, wait_s)
        if self._closed:
            fut.set_exception(ConnectionError("connection was closed by its owner"))
            return fut
        self._backlog.append((hiredis.pack_command(args), fut, wait_s))
        if self._connector is None:
            self._connector = loop.create_task(self._connect_and_flush())
        return fut

    async def execute(self, *args: Any) -> Any:
        """Run one command and return its reply."""
        return await self.call(*args)

    async def aclose(self) -> None:
        """Close the socket; later calls raise."""
        self._closed = True
        if self._protocol is not None:
            self._protocol.close()
            self._protocol = None

    async def _connect_and_flush(self) -> None:
        try:
            protocol = await self._open()
        except Exception as e:
            self._fail_backlog(e)
            return
        except BaseException:
            self._fail_backlog(None)  # cancelled: so are the calls waiting for the connection
            raise
        finally:
            self._connector = None
        if self._closed:
            protocol.close()
            self._fail_backlog(ConnectionError("connection was closed by its owner"))
            return
        backlog, self._backlog = self._backlog, []
        for packed, fut, wait_s in backlog:
            if not fut.done():  # a caller that gave up meanwhile sends nothing
                protocol.send(packed, fut, wait_s)
        self._protocol = protocol

    def _fail_backlog(self, error: Exception | None) -> None:
        backlog, self._backlog = self._backlog, []
        for _, fut, _ in backlog:
            if fut.done():
                continue
            if error is None:
                fut.cancel()
            else:
                fut.set_exception(error)

    async def _open(self) -> _Protocol:
        loop, s = asyncio.get_running_loop(), self.settings
        protocol: _Protocol | None = None
        make = functools.partial(_Protocol, self.reply_timeout_s)
        try:
            async with asyncio.timeout(s.conn_timeout):
                if s.unix_socket_path:
                    _, protocol = await loop.create_unix_connection(make, s.unix_socket_path)
                else:
                    assert isinstance(s.host, str)  # eligible(): no Sentinel host lists
                    _, protocol = await loop.create_connection(make, s.host, s.port)
                await self._handshake(protocol)
        except BaseException as e:
            if protocol is not None:
                protocol.close()
            if isinstance(e, TimeoutError):
                raise RedisTimeoutError(f"timed out connecting to Redis after {s.conn_timeout} s") from e
            if isinstance(e, OSError):
                raise ConnectionError(f"cannot connect to Redis: {e}") from e
            raise
        return protocol

    async def _handshake(self, protocol: _Protocol) -> None:
        loop, s = asyncio.get_running_loop(), self.settings
        commands: list[tuple[Any, ...]] = []
        if s.password is not None:
            auth = ("AUTH", s.username, s.password) if s.username else ("AUTH", s.password)
            commands.append(auth)
        if s.database:
            commands.append(("SELECT", s.database))
        futures = [protocol.send(hiredis.pack_command(c), loop.create_future()) for c in commands]
        for fut in futures:
            await fut
