"""Result notifications: one pub/sub connection per client, shared by every waiting job."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from aqueue._redis.errors import REDIS_ERRORS

logger = logging.getLogger("aqueue.client")


class Notifier:
    """Multiplexes SUBSCRIBEs to ``done`` channels onto one connection; wakes the waiters' events."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiters: dict[str, set[asyncio.Event]] = {}
        # redis-py's PubSub takes a connection on its first command; concurrent first commands would
        # each take one and all but the last would stay checked out for good: one at a time, then.
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def watch(self, channel: str) -> AsyncIterator[asyncio.Event]:
        """Yield an event set whenever ``channel`` gets a message, for as long as the block runs."""
        event = asyncio.Event()
        waiters = self._waiters.setdefault(channel, set())
        waiters.add(event)
        try:
            if len(waiters) == 1:
                await self._subscribe(channel)
            yield event
        finally:
            waiters.discard(event)
            if not waiters:
                del self._waiters[channel]
                await self._unsubscribe(channel)

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
