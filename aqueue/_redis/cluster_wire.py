"""The lean connection on a Redis Cluster: a slot map and one :class:`Wire` per primary.

:class:`ClusterWire` sends each command to the primary of its key's slot (CRC16 of the hash tag,
:func:`aqueue._redis.cluster.key_slot`), from a slot map read with ``CLUSTER SLOTS`` from any node
it knows (the seeds first). Redirects and failovers:

* ``MOVED slot host:port``: the slot has a new owner (a migration, or a failover seen by another
  node): the map is re-read and the command re-sent there, up to :data:`MAX_REDIRECTS` times;
* ``ASK slot host:port``: the slot is being migrated and this key is already there: ``ASKING`` and
  the command go, back to back, to that node, once, and the map stays;
* a lost connection (the primary died): the error goes to the caller, as on a single Redis (a
  command in flight is never re-sent: the caller's retry decides), and the map is re-read before
  the next command, so that the promoted replica is found as soon as the cluster names it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from arq.connections import RedisSettings
from redis.exceptions import ConnectionError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from aqueue._redis.cluster import SLOTS, key_slot
from aqueue._redis.connection import DEFAULT_REPLY_TIMEOUT_S
from aqueue._redis.evalsha import run_script
from aqueue._redis.wire import Wire

__all__ = ["MAX_REDIRECTS", "ClusterWire", "ClusterWireTransport"]

#: How many MOVED redirects one command follows before the error goes to the caller.
MAX_REDIRECTS = 5
Address = tuple[str, int]


class ClusterWire:
    """Lean connections to every primary of a cluster; :meth:`call` routes a command by its key."""

    def __init__(self, settings: RedisSettings, *, reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S) -> None:
        hosts = settings.host if isinstance(settings.host, list) else [(settings.host, settings.port)]
        self.settings = settings
        self.reply_timeout_s = reply_timeout_s
        self._seeds: list[Address] = [(str(h), int(p)) for h, p in hosts]
        self._slots: list[Address | None] = [None] * SLOTS
        self._wires: dict[Address, Wire] = {}
        self._stale = True  # the map must be (re-)read before the next command
        self._refreshing: asyncio.Task[None] | None = None
        self._closed = False
        self._closing: set[asyncio.Future[None]] = set()

    @property
    def primaries(self) -> list[Address]:
        """Return the primaries the slot map names."""
        return sorted({a for a in self._slots if a is not None})

    def node_of(self, key: bytes | str) -> Address | None:
        """Return the primary that serves ``key`` by the current map (None: not read yet)."""
        return self._slots[key_slot(key)]

    async def call(self, *args: Any, key: bytes | str, wait_s: float = 0.0) -> Any:
        """Send one command to the primary of ``key``'s slot; follow MOVED and ASK redirects."""
        if self._stale:
            await self.refresh()
        slot = key_slot(key)
        for _ in range(MAX_REDIRECTS):
            address = self._slots[slot] or self._any_node()
            try:
                return await self._wire(address).call(*args, wait_s=wait_s)
            except ResponseError as e:
                redirect = _redirect(e)
                if redirect is None:
                    raise
                kind, target = redirect
                if kind == "ASK":
                    return await self._ask(target, args, wait_s)
                self._stale = True
                await self.refresh()
                self._slots[slot] = target  # the redirect is news: a node's map may lag behind it
            except (ConnectionError, RedisTimeoutError):
                self._stale = True  # a failover: the next command reads the map again
                raise
        return await self._wire(self._slots[slot] or self._any_node()).call(*args, wait_s=wait_s)

    async def _ask(self, target: Address, args: Sequence[Any], wait_s: float) -> Any:
        wire = self._wire(target)
        asking = wire.call("ASKING")  # sent now: the command goes right behind it on the same socket
        reply = wire.call(*args, wait_s=wait_s)
        await asking
        return await reply

    def _any_node(self) -> Address:
        return next((a for a in self._slots if a is not None), self._seeds[0])

    def _wire(self, address: Address) -> Wire:
        wire = self._wires.get(address)
        if wire is None:
            node = RedisSettings(
                host=address[0],
                port=address[1],
                username=self.settings.username,
                password=self.settings.password,
                conn_timeout=self.settings.conn_timeout,
            )
            wire = self._wires[address] = Wire(node, reply_timeout_s=self.reply_timeout_s)
        return wire

    async def refresh(self) -> None:
        """Read the slot map again (one read at a time; concurrent callers share it)."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._read_map())
        await asyncio.shield(self._refreshing)

    async def _read_map(self) -> None:
        known = [a for a in dict.fromkeys([*self.primaries, *self._seeds])]
        failures = []
        for address in known:
            try:
                reply = await self._wire(address).call("CLUSTER", "SLOTS")
            except (ConnectionError, RedisTimeoutError, ResponseError, OSError) as e:
                failures.append(f"{address[0]}:{address[1]}: {e}")
                continue
            self._apply(reply)
            self._stale = False
            return
        raise ConnectionError(f"no node of the cluster answered CLUSTER SLOTS ({'; '.join(failures)})")

    def _apply(self, reply: Sequence[Any]) -> None:
        slots: list[Address | None] = [None] * SLOTS
        for entry in reply:
            start, end, primary = int(entry[0]), int(entry[1]), entry[2]
            host = primary[0].decode() if isinstance(primary[0], bytes) else str(primary[0])
            address = (host or self._seeds[0][0], int(primary[1]))
            slots[start : end + 1] = [address] * (end - start + 1)
        self._slots = slots
        for address in [a for a in self._wires if a not in set(slots) and a not in self._seeds]:
            wire = self._wires.pop(address)  # no longer a primary: its connection goes
            closing = asyncio.ensure_future(wire.aclose())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Close every node's connection."""
        self._closed = True
        wires, self._wires = list(self._wires.values()), {}
        for wire in wires:
            await wire.aclose()


def _redirect(error: ResponseError) -> tuple[str, Address] | None:
    """Return ``("MOVED" | "ASK", (host, port))`` for a redirect reply, None for any other error."""
    parts = str(error).split()
    if len(parts) != 3 or parts[0] not in ("MOVED", "ASK"):
        return None
    host, _, port = parts[2].rpartition(":")
    return parts[0], (host, int(port))


class ClusterWireTransport:
    """The hot path on a cluster over :class:`ClusterWire`: one for scripts, one for the blocking pop."""

    name = "wire"

    def __init__(self, settings: RedisSettings, *, reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S) -> None:
        self._settings = settings
        self._reply_timeout_s = reply_timeout_s
        self._wire = ClusterWire(settings, reply_timeout_s=reply_timeout_s)
        self._blocking: ClusterWire | None = None

    def run(self, script: Any, args: Any) -> Any:
        """Run ``script`` on the primary of its prefix's slot (the prefix carries the hash tag)."""
        key = str(args.argv()[0])

        def send(*command: Any) -> Any:
            return self._wire.call(*command, key=key)

        return run_script(send, script, args, (key,))

    def blpop(self, key: str, timeout: float) -> asyncio.Future[Sequence[bytes] | None]:
        """Send a BLPOP to the primary of ``key`` on the blocking connections (opened on first use)."""
        if self._blocking is None:
            self._blocking = ClusterWire(self._settings, reply_timeout_s=self._reply_timeout_s)
        return asyncio.ensure_future(self._blocking.call("BLPOP", key, timeout, key=key, wait_s=timeout))

    async def stop_blocking(self) -> None:
        """Close the blocking connections."""
        if self._blocking is not None:
            await self._blocking.aclose()
            self._blocking = None

    async def aclose(self) -> None:
        """Close every connection."""
        await self.stop_blocking()
        await self._wire.aclose()
