"""Outcome writes that wait for replicas: a worker's ``min_replicas``.

A worker with ``min_replicas=N`` runs the scripts that record outcomes (the core finish script and
the workflow layer's) with a ``WAIT N timeout`` behind them on the same connection
(:meth:`~aqueue._redis.transport.Transport.run_replicated`). The outcome is recorded either way:
``WAIT`` only tells how far it got. When fewer replicas confirm it in time, the worker says so in its
log (once per :data:`WARN_EVERY_S`) and counts it, because a failover before the write reaches a
replica brings back the job's claim instead of its result: the job runs again (at least once, never
lost).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from aqueue._redis.evalsha import ScriptArgs, ScriptCall

__all__ = ["DEFAULT_REPLICATION_TIMEOUT_S", "WARN_EVERY_S", "Replicating", "Replication"]

logger = logging.getLogger("aqueue.worker")

#: How long a write with ``min_replicas`` waits for the replicas (client and worker alike).
DEFAULT_REPLICATION_TIMEOUT_S = 1.0
#: At most one warning about unconfirmed outcome writes per this many seconds.
WARN_EVERY_S = 10.0

ArgsT = TypeVar("ArgsT", bound="ScriptArgs")
ReplyT = TypeVar("ReplyT")


@runtime_checkable
class Replicating(Protocol):
    """A transport that can pin a script and a ``WAIT`` to one connection (not a cluster's)."""

    def run_replicated(
        self, script: ScriptCall[ArgsT, ReplyT], args: ArgsT, replicas: int, timeout_ms: int
    ) -> Awaitable[tuple[ReplyT, int]]:
        """Run ``script``, then ``WAIT replicas timeout_ms`` on the same connection.

        The awaitable gives the parsed reply and how many replicas have everything that connection
        wrote (the script's writes included).
        """


class Replication:
    """Runs outcome scripts on ``transport`` so that ``replicas`` replicas confirm them in ``timeout_s``.

    ``short`` counts the script calls that fewer replicas confirmed; ``where`` names the server in
    the warning.
    """

    def __init__(self, transport: Replicating, replicas: int, timeout_s: float, where: str = "") -> None:
        self.transport = transport
        self.replicas = replicas
        self.timeout_ms = max(1, int(timeout_s * 1000))
        self.where = where
        self.short = 0
        self._warned_at: float | None = None

    async def run(self, script: ScriptCall[ArgsT, ReplyT], args: ArgsT) -> ReplyT:
        """Run ``script`` and wait for the replicas; return its reply."""
        run = self.transport.run_replicated(script, args, self.replicas, self.timeout_ms)
        reply, acknowledged = await run
        if acknowledged < self.replicas:
            self._short(acknowledged)
        return reply

    def _short(self, acknowledged: int) -> None:
        self.short += 1
        now = time.monotonic()
        if self._warned_at is not None and now - self._warned_at < WARN_EVERY_S:
            return
        self._warned_at = now
        where = f" at {self.where}" if self.where else ""
        logger.warning(
            "results written to Redis%s reached only %d of %d replicas within %g s (%d such writes so "
            "far): a failover now would run those jobs again",
            where,
            acknowledged,
            self.replicas,
            self.timeout_ms / 1000,
            self.short,
        )

    def __repr__(self) -> str:
        return f"Replication(replicas={self.replicas}, timeout_ms={self.timeout_ms})"
