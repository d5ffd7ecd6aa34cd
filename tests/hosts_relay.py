"""A TCP relay that delays what the server sends by a switchable amount (SIGUSR1: on, SIGUSR2: off).

``python tests/hosts_relay.py LISTEN_HOST:PORT UPSTREAM_HOST:PORT DELAY_MS``. ``test_many_hosts.py``
runs it inside a worker host's namespace when the kernel has no ``netem`` queueing discipline, so the
worker's link to the broker still gains the latency (order is kept: a chunk is written no earlier
than the one before it).
"""

from __future__ import annotations

import asyncio
import signal
import sys


class Relay:
    def __init__(self, upstream: tuple[str, int], delay_s: float) -> None:
        self.upstream = upstream
        self.delay_s = delay_s
        self.on = False

    async def accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self.upstream)
        await asyncio.gather(
            self.pump(client_r, server_w, delayed=False),
            self.pump(server_r, client_w, delayed=True),
            return_exceptions=True,
        )

    async def pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, delayed: bool
    ) -> None:
        """Copy ``reader`` to ``writer``; with ``delayed`` and the delay on, each chunk waits its turn."""
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self.send(chunks, writer))
        try:
            while data := await reader.read(65536):
                delay = self.delay_s if delayed and self.on else 0.0
                chunks.put_nowait((loop.time() + delay, data))
        finally:
            chunks.put_nowait((0.0, b""))
            await sender

    async def send(self, chunks: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter) -> None:
        """Write chunks in order, each no earlier than it is due; an empty one closes the writer."""
        loop = asyncio.get_running_loop()
        while data := (item := await chunks.get())[1]:
            wait = item[0] - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
        writer.close()


def address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def main(listen: str, upstream: str, delay_ms: str) -> None:
    relay = Relay(address(upstream), float(delay_ms) / 1000)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, lambda: setattr(relay, "on", True))
    loop.add_signal_handler(signal.SIGUSR2, lambda: setattr(relay, "on", False))
    server = await asyncio.start_server(relay.accept, *address(listen))
    print("relaying", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
