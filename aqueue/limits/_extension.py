"""The limits layer as a worker extension: its Lua in the core scripts, its tasks' limits in Redis."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aqueue._redis.scripts import source
from aqueue.extensions import LuaHooks, WorkerContext, WorkerExtension

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from aqueue.tasks import Task

__all__ = ["LimitsExtension", "hand_off_lua"]

_PACKAGE = "aqueue.limits"


def hand_off_lua() -> LuaHooks:
    """Return the Lua of every client's scripts: no handoff for a limited task's job; abort, purge."""
    return LuaHooks(
        library=source("limits_hand_off", _PACKAGE),
        may_hand_off="lim_may_hand_off",
        withdraw="lim_withdraw",
        purge="lim_purge",
    )


class LimitsExtension(WorkerExtension):
    """Admit jobs of limited tasks only while their limits allow; free slots as attempts end.

    ``tasks`` are the worker's tasks: at start the worker writes the limits of those that have any
    to ``{prefix}limits`` and removes the entries of those that have none (a limit taken off a task
    ends when its workers restart without it).
    """

    def __init__(self, tasks: Sequence[Task[Any, Any]]) -> None:
        self.limited = {t.name: t.limits.spec() for t in tasks if t.limits is not None}
        self.unlimited = [t.name for t in tasks if t.limits is None]
        self._redis: Redis | None = None
        self._key = ""

    def lua(self) -> LuaHooks:
        """Return the admission rules and their hooks."""
        client = hand_off_lua()  # a worker's scripts run the client's part too, then the rest
        return dataclasses.replace(
            client,
            library=client.library + "\n" + source("limits", _PACKAGE),
            admitting="lim_admitting",
            holding="lim_holding",
            waiting="lim_waiting",
            admit="lim_admit",
            on_claimed="lim_claimed",
            next_check="lim_next_check",
            on_renew="lim_renew",
            on_attempt_end="lim_ended",
            on_dead="lim_dead",
        )

    def bind(self, context: WorkerContext) -> None:
        """Keep the worker's connection and the limits hash's name."""
        self._redis = context.redis
        self._key = context.keys.limits()

    async def startup(self) -> None:
        """Write this worker's tasks' limits (and drop stale entries of its unlimited tasks)."""
        assert self._redis is not None
        if not self.limited and not await self._redis.exists(self._key):
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            if self.unlimited:
                pipe.hdel(self._key, *self.unlimited)
            if self.limited:
                pipe.hset(self._key, mapping=self.limited)
            await pipe.execute()
