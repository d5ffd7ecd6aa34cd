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

TCP, TLS (``rediss://``: one :class:`ssl.SSLContext` per ``Wire``, built from the settings' TLS fields;
the handshake is paid once per connection) and unix sockets; ACL users authenticate with
``AUTH user password``. With Sentinel settings each (re)connect asks the sentinels, in turn, for the
primary (``SENTINEL get-master-addr-by-name``) and checks that the node it reaches says ``ROLE`` master;
a ``READONLY`` reply (the node was demoted) drops the connection, so the next call finds the new
primary. Only a pool passed in by the caller has no ``Wire`` (see :func:`eligible`).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import socket
import ssl
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

from aqueue._redis.connection import (
    DEFAULT_REPLY_TIMEOUT_S,
    SentinelAuthenticationError,
    describe,
    keepalive_options,
)
from aqueue._redis.tls import ssl_context

__all__ = ["Wire", "eligible"]

#: How long closing a Wire waits for its socket to close (a TLS shutdown: a round trip) before aborting it.
CLOSE_WAIT_S = 1.0
#: Error-reply prefixes that map to a more specific redis-py class.
_SPECIFIC_ERRORS: dict[str, type[ResponseError]] = {"NOSCRIPT": NoScriptError}


def eligible(settings: RedisSettings) -> bool:
    """Return True if a ``Wire`` serves ``settings``: a host (TCP, TLS), a unix socket, or sentinels."""
    return isinstance(settings.host, list) if settings.sentinel else isinstance(settings.host, str)


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

    def __init__(
        self, reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S, *, drop_on_readonly: bool = False
    ) -> None:
        self._reader = hiredis.Reader(replyError=ResponseError)
        self._drop_on_readonly = drop_on_readonly  # Sentinel: a demoted node is left for the new primary
        self._waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._deadlines: collections.deque[float] = collections.deque()  # loop time, one per command
        self._reply_timeout_s = reply_timeout_s
        self._watchdog: asyncio.TimerHandle | None = None
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self.closed = False
        self.gone = self._loop.create_future()  # done once the socket is closed (connection_lost ran)

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
                if self._drop_on_readonly and str(reply).startswith("READONLY"):
                    self.close()
            else:
                fut.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.gone.done():
            self.gone.set_result(None)
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

    async def wait_gone(self, timeout_s: float) -> None:
        """Wait until the socket is closed; past ``timeout_s``, abort it."""
        try:
            await asyncio.wait_for(asyncio.shield(self.gone), timeout_s)
        except TimeoutError:
            if self._transport is not None:
                self._transport.abort()
            await asyncio.sleep(0)  # the abort closes the socket in a callback

    def close(self) -> None:
        if self._transport is not None and not self.closed:
            self.closed = True  # later calls reconnect rather than write to a closing socket
            self._transport.close()


class Wire:
    """One lean, shared connection to the Redis in ``settings``; opened on first use.

    Commands are sent in the order they were called, also across a (re)connect: calls made while
    the connection opens wait in a backlog that is flushed, in order, once it is open.
    """

    def __init__(self, settings: RedisSettings, *, reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S) -> None:
        if not eligible(settings):
            raise ValueError("Wire needs a host (or, for Sentinel, a list of sentinels) in the settings")
        if reply_timeout_s <= 0:
            raise ValueError(f"reply_timeout_s must be positive, got {reply_timeout_s}")
        self.settings = settings
        self.reply_timeout_s = reply_timeout_s
        self._ssl = ssl_context(settings) if settings.ssl else None  # once: its files are read here
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
        """Close the socket and wait (up to ``CLOSE_WAIT_S``) until it is closed; later calls raise.

        Over TLS closing is a shutdown exchange: without the wait, a loop that ends right after
        would leave the socket open (and unclosed, to the garbage collector).
        """
        self._closed = True
        protocol, self._protocol = self._protocol, None
        if protocol is not None:
            protocol.close()
            await protocol.wait_gone(CLOSE_WAIT_S)

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
        s = self.settings
        host, port = await self._primary() if s.sentinel else (str(s.host), s.port)
        protocol: _Protocol | None = None
        try:
            async with asyncio.timeout(s.conn_timeout):
                protocol = await self._dial(host, port, self._ssl, s.sentinel)
                await self._handshake(protocol, f"{host}:{port}")
        except BaseException as e:
            if protocol is not None:
                protocol.close()
            failure = _connect_error(e, s.conn_timeout, f"{host}:{port}" if self._ssl else "")
            if failure is None:
                raise
            await asyncio.sleep(0)  # asyncio closes a failed handshake's socket in a callback: let it run
            raise failure from e
        return protocol

    async def _dial(self, host: str, port: int, context: ssl.SSLContext | None, primary: bool) -> _Protocol:
        """Open a socket to ``host:port`` (TLS with ``context``; a unix socket if the settings name one)."""
        loop = asyncio.get_running_loop()
        make = functools.partial(_Protocol, self.reply_timeout_s, drop_on_readonly=primary)
        if self.settings.unix_socket_path:
            _, protocol = await loop.create_unix_connection(make, self.settings.unix_socket_path)
        else:
            hostname = host if context is not None else None
            _, protocol = await loop.create_connection(
                make, host, port, ssl=context, server_hostname=hostname
            )
        return protocol

    async def _handshake(self, protocol: _Protocol, where: str) -> None:
        s = self.settings
        commands: list[tuple[Any, ...]] = []
        if s.password is not None:
            auth = ("AUTH", s.username, s.password) if s.username else ("AUTH", s.password)
            commands.append(auth)
        if s.database:
            commands.append(("SELECT", s.database))
        if s.sentinel:
            commands.append(("ROLE",))  # the node Sentinel named may not have switched yet
        elif self._ssl is not None:
            commands.append(("PING",))  # a refused client certificate fails here, not on the first call
        futures = _send_all(protocol, commands)
        for fut in futures[:-1] if s.sentinel else futures:
            await fut
        if s.sentinel:
            await _check_primary(futures[-1], where)

    async def _primary(self) -> tuple[str, int]:
        """Ask the sentinels, in turn, for the primary's address; the first that names one wins."""
        s, failures = self.settings, []
        assert isinstance(s.host, list)  # eligible()
        for host, port in s.host:
            try:
                async with asyncio.timeout(s.conn_timeout):
                    address = await self._ask_sentinel(host, int(port))
            except AuthenticationError as e:
                raise SentinelAuthenticationError(str(e)) from e
            except (OSError, TimeoutError, ConnectionError, ResponseError) as e:
                failures.append(f"{host}:{port}: {type(e).__name__}: {e}")
                continue
            if address is not None:
                return address
            failures.append(f"{host}:{port}: no primary known")
        raise ConnectionError(
            f"no sentinel of {describe(s)} named a primary for {s.sentinel_master!r} ({'; '.join(failures)})"
        )

    async def _ask_sentinel(self, host: str, port: int) -> tuple[str, int] | None:
        s = self.settings
        commands: list[tuple[Any, ...]] = []
        password = getattr(s, "sentinel_password", None)
        if password is not None:
            username = getattr(s, "sentinel_username", None)
            commands.append(("AUTH", username, password) if username else ("AUTH", password))
        commands.append(("SENTINEL", "get-master-addr-by-name", s.sentinel_master))
        protocol = await self._dial(host, port, None, False)  # sentinels: plain TCP, as redis-py's
        try:
            replies = [await fut for fut in _send_all(protocol, commands)]
        finally:
            protocol.close()
        address = replies[-1]
        return None if not address else (address[0].decode(), int(address[1]))


def _send_all(protocol: _Protocol, commands: list[tuple[Any, ...]]) -> list[asyncio.Future[Any]]:
    """Pipeline ``commands`` on ``protocol``; return a future per reply."""
    loop = asyncio.get_running_loop()
    return [protocol.send(hiredis.pack_command(c), loop.create_future()) for c in commands]


async def _check_primary(role: asyncio.Future[Any], where: str) -> None:
    """Raise ConnectionError unless the ``ROLE`` reply says master (a user without ROLE is believed)."""
    try:
        reply = await role
    except AuthenticationError:  # NOPERM: this ACL user may not ask; trust the sentinels
        return
    if reply[0] != b"master":
        name = reply[0].decode(errors="replace")
        raise ConnectionError(f"{where}, named primary by the sentinels, is a {name}: not switched yet")


def _connect_error(error: BaseException, timeout_s: float, tls_peer: str) -> Exception | None:
    """Return what a failed connect raises instead of ``error`` (None: ``error`` itself)."""
    over_tls = f" over TLS ({tls_peer})" if tls_peer else ""
    if isinstance(error, TimeoutError):
        return RedisTimeoutError(f"timed out connecting to Redis{over_tls} after {timeout_s} s")
    if isinstance(error, ssl.SSLError):
        return ConnectionError(f"the TLS handshake with {tls_peer} failed: {error}")
    if isinstance(error, OSError):
        return ConnectionError(f"cannot connect to Redis{over_tls}: {error}")
    return None
