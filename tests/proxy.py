"""A TCP proxy on 127.0.0.1 in front of a test Redis that can go silent, like a network that drops
packets: ``freeze()`` stops relaying on the connections it has (their bytes are dropped; both sockets
stay open, so neither end sees a reset, exactly a half-open connection), while new connections relay
normally. ``drop(on)`` makes it close a connection, both ends, when a command containing ``on`` (any
command, by default) arrives on it, before Redis sees it: a Redis that drops mid-command.
``lose_reply(on)`` lets such a command through and closes the connection when its reply comes back,
undelivered: Redis carried the command out, the client never learns it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit


class _Link:
    def __init__(self) -> None:
        self.frozen = False
        self.losing = False  # the next reply from Redis is dropped with the connection
        self.writers: list[asyncio.StreamWriter] = []


class FreezableProxy:
    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self._path = parts.path
        self._links: list[_Link] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._drop_on: bytes | None = None
        self._lose_on: bytes | None = None
        self._losses_left = 0
        self.dropped = 0
        self.lost_replies = 0
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}{self._path}"

    async def start(self) -> FreezableProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def connections(self) -> int:
        """Return how many connections were made so far (each counted once its upstream is open)."""
        return len(self._links)

    def freeze(self) -> int:
        """Silence every connection made so far; return how many there were."""
        for link in self._links:
            link.frozen = True
        return len(self._links)

    def drop(self, on: bytes = b"") -> None:
        """From now on, close any connection (old or new) that sends a command containing ``on``."""
        self._drop_on = on

    def lose_reply(self, on: bytes, times: int = 1) -> None:
        """Relay the next ``times`` commands containing ``on``; cut their connections as the replies come."""
        self._lose_on, self._losses_left = on, times

    def _loses(self, link: _Link, data: bytes) -> None:
        if self._lose_on is not None and self._losses_left > 0 and self._lose_on in data:
            self._losses_left -= 1
            link.losing = True

    def _drops(self, data: bytes) -> bool:
        if self._drop_on is None or self._drop_on not in data:
            return False
        self.dropped += 1
        return True

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self._upstream)
        link = _Link()
        link.writers += [client_w, server_w]
        self._links.append(link)
        upstream = functools.partial(self._upstream_data, link)
        for reader, writer, drops in ((client_r, server_w, upstream), (server_r, client_w, None)):
            task = asyncio.create_task(self._pump(link, reader, writer, drops))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _upstream_data(self, link: _Link, data: bytes) -> bool:
        self._loses(link, data)
        return self._drops(data)

    async def _pump(
        self,
        link: _Link,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        drops: Callable[[bytes], bool] | None,
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if drops is None and link.losing:  # the reply of a command whose reply is lost
                    self.lost_replies += 1
                    _cut(link)
                    return
                if drops is not None and drops(data):
                    _cut(link)
                    return
                if not link.frozen:
                    writer.write(data)
        if not link.frozen:
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for link in self._links:
            for writer in link.writers:
                writer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _cut(link: _Link) -> None:
    for end in link.writers:
        end.close()


@contextlib.asynccontextmanager
async def freezable_proxy(upstream_url: str) -> AsyncIterator[FreezableProxy]:
    proxy = await FreezableProxy(upstream_url).start()
    try:
        yield proxy
    finally:
        await proxy.close()
