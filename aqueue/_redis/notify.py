"""Result notifications: one pub/sub connection per client, shared by every waiting job.

Finish scripts announce a result on ``{prefix}done:{id}`` only while some client waits for results:
a waiter first sets ``{prefix}listening`` (expiring after :data:`LISTENING_TTL_MS`, renewed every
:data:`LISTENING_RENEW_S` while anyone waits), then subscribes, then reads the result. A finish
before the flag was set is seen by that read; one after it is announced. So a drain nobody waits on
costs Redis no ``PUBLISH`` per job (each would also go to every replica and the AOF).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from aqueue._redis.errors import REDIS_ERRORS

logger = logging.getLogger("aqueue.client")

#: How long ``{prefix}listening`` lasts unless renewed (a client that died stops it within this).
LISTENING_TTL_MS = 60_000
#: How often a client with waiters renews it.
LISTENING_RENEW_S = 20.0


class Notifier:
    """Multiplexes SUBSCRIBEs to ``done`` channels onto one connection; wakes the waiters' events."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._flags: dict[str, float] = {}  # listening flags → when this client last set them
        # redis-py's PubSub takes a connection on its first command; concurrent first commands would
        # each take one and all but the last would stay checked out for good: one at a time, then.
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def watch(self, channel: str, flag: str | None = None) -> AsyncIterator[asyncio.Event]:
        """Yield an event set whenever ``channel`` gets a message, for as long as the block runs.

        ``flag``: the listening key the publisher checks (set before subscribing, renewed meanwhile).
        """
        event = asyncio.Event()
        waiters = self._waiters.setdefault(channel, set())
        waiters.add(event)
        try:
            if flag is not None:
                self._flags.setdefault(flag, float("-inf"))
                await self._renew_flags()
            if len(waiters) == 1:
                await self._subscribe(channel)
            yield event
        finally:
            waiters.discard(event)
            if not waiters:
                del self._waiters[channel]
                await self._unsubscribe(channel)

    async def _renew_flags(self) -> None:
        """Set the listening flags this client has not set for LISTENING_RENEW_S."""
        now = time.monotonic()
        for flag, last in self._flags.items():
            if now - last < LISTENING_RENEW_S:
                continue
            try:
                await self._redis.set(flag, b"1", px=LISTENING_TTL_MS)
            except REDIS_ERRORS:  # waiters fall back to re-reading results
                logger.debug("could not set %s", flag)
                continue
            self._flags[flag] = now

    async def _subscribe(self, channel: str) -> None:
        if self._pubsub is None:
            self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            async with self._lock:
                await self._pubsub.subscribe(channel)
        except REDIS_ERRORS:
            logger.debug("subscribe to %s failed; waiters fall back to re-reading", channel)
            return
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="aqueue-notifier")

    async def _unsubscribe(self, channel: str) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(*REDIS_ERRORS):
                async with self._lock:
                    await self._pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        assert self._pubsub is not None
        while self._waiters:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except REDIS_ERRORS:
                await asyncio.sleep(0.2)  # waiters keep re-reading results meanwhile
                continue
            await self._renew_flags()
            if message is not None:
                channel = message["channel"]
                name = channel.decode() if isinstance(channel, bytes) else channel
                for event in self._waiters.get(name, ()):
                    event.set()

    async def aclose(self) -> None:
        """Stop reading and close the pub/sub connection."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, *REDIS_ERRORS):
                await self._reader
        if self._pubsub is not None:
            with contextlib.suppress(*REDIS_ERRORS):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        self._pubsub = self._reader = None
