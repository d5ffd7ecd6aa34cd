"""The worker's Redis operations on one queue: claim, finish, renew, release — one Lua call each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from aqueue._clock import now_ms
from aqueue._redis.connection import text
from aqueue._redis.keys import Keys
from aqueue._redis.scripts import Scripts
from aqueue._redis.wire import Wire
from aqueue._worker.types import ClaimedJob, Outcome, fencing_token
from aqueue.extensions import LuaHooks


def parse_handoff(message: bytes, worker_id: str) -> ClaimedJob | None:
    """Return the job in a wake-up message (``J<try>:<len>:<id><payload>``), or None for a plain wake."""
    if not message.startswith(b"J"):
        return None
    tries, idlen, rest = message[1:].split(b":", 2)
    size = int(idlen)
    job_id = rest[:size].decode()
    return ClaimedJob(
        job_id, rest[size:], now_ms(), int(tries), False, fencing_token(worker_id, int(tries)), True
    )


class QueueOps:
    """Claims and records jobs on ``queue`` for worker ``worker_id`` with leases of ``lease_ms``.

    Scripts run over ``wire`` when given (the lean connection), else over ``redis``; ``hooks`` are the
    worker's extensions' Lua, composed into the claim and finish scripts.
    """

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        queue: str,
        worker_id: str,
        lease_ms: int,
        *,
        wire: Wire | None = None,
        hooks: Sequence[LuaHooks] = (),
    ) -> None:
        self.redis = redis
        self.wire = wire
        self.scripts = Scripts(redis, wire, hooks)
        self.keys = keys
        self.queue = queue
        self.worker_id = worker_id
        self.lease_ms = lease_ms

    async def claim(
        self, limit: int, *, register_idle: bool, max_deliveries: int
    ) -> tuple[list[ClaimedJob], int | None]:
        """Claim up to ``limit`` due jobs; return them and the earliest score left in the queue."""
        argv: list[Any] = [
            self.keys.prefix,
            self.queue,
            now_ms(),
            limit,
            self.lease_ms,
            self.worker_id,
            int(register_idle),
            max_deliveries,
        ]
        reply: list[Any] = await self.scripts.claim(args=argv)
        head = reply[-1]
        jobs = [
            ClaimedJob(
                job_id=text(reply[i]),
                payload=reply[i + 1],
                score=int(float(reply[i + 2])),
                job_try=int(reply[i + 3]),
                aborted=reply[i + 4] == 1,
                token=fencing_token(self.worker_id, int(reply[i + 3])),
            )
            for i in range(0, len(reply) - 1, 5)
        ]
        return jobs, int(float(head)) if head else None

    async def finish(self, outcomes: list[Outcome]) -> list[bool]:
        """Record outcomes atomically per job; False where the claim was lost (fenced)."""
        argv: list[Any] = [self.keys.prefix, self.queue]
        for o in outcomes:
            argv += [o.job.job_id, o.job.token, o.kind, o.result, o.ttl_ms, o.retry_score]
        reply: list[int] = await self.scripts.finish(args=argv)
        return [bool(x) for x in reply]

    async def renew(self, held: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Extend leases on (job id, token) pairs; return (id, 'lost' | 'abort') where action is due."""
        argv: list[Any] = [self.keys.prefix, self.queue, now_ms(), self.lease_ms]
        for job_id, token in held:
            argv += [job_id, token]
        reply: list[Any] = await self.scripts.renew(args=argv)
        return [(text(reply[i]), text(reply[i + 1])) for i in range(0, len(reply), 2)]

    async def release(self, held: list[tuple[str, str]]) -> int:
        """Retire: leave the idle set and hand claimed jobs (and unread handed-over ones) back, due now.

        Returns how many were still ours.
        """
        argv: list[Any] = [self.keys.prefix, self.queue, now_ms(), self.worker_id, self.lease_ms]
        for job_id, token in held:
            argv += [job_id, token]
        return int(await self.scripts.release(args=argv))
