"""Dead letters: jobs delivered ``max_deliveries`` times without ever finishing (they killed their worker).

The claim script moves such a job to ``{prefix}dead`` (ids by time) and ``{prefix}dead:{id}`` (its
payload, queue, tries and the history of deliveries as ``worker@ms``). List and requeue them here
or with ``aqueue dead list`` / ``aqueue dead requeue``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from aqueue._clock import now_ms
from aqueue._redis.connection import text
from aqueue._redis.core import DeadRequeue, DeadRequeueArgs
from aqueue._redis.errors import redis_errors

if TYPE_CHECKING:
    from aqueue.client import Client

__all__ = ["DeadJob", "dead_job", "list_dead", "requeue_dead"]

REQUEUE_TTL_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class DeadJob:
    """One dead-lettered job: what it was, where it came from, and every delivery that never finished."""

    job_id: str
    function: str
    queue: str
    dead_at_ms: int
    tries: int
    history: tuple[str, ...]


def _function(client: Client, payload: bytes | None) -> str:
    try:
        return str(client.job_deserializer(payload)["f"]) if payload else "<expired>"
    except Exception:
        return "<undecodable>"


async def list_dead(client: Client, limit: int = 100, start: int = 0) -> list[DeadJob]:
    """Return up to ``limit`` dead jobs from the ``start``-th (0: the oldest), oldest first."""
    with redis_errors(client.address):
        ids: list[bytes] = await client.redis.zrange(client.keys.dead, start, start + limit - 1)
        async with client.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(client.keys.dead_job(job_id.decode()))
            rows: list[dict[bytes, bytes]] = await pipe.execute()
    return [_dead_job(client, job_id.decode(), row) for job_id, row in zip(ids, rows, strict=True) if row]


async def dead_job(client: Client, job_id: str) -> DeadJob | None:
    """Return dead job ``job_id``, or None if it is not dead-lettered."""
    with redis_errors(client.address):
        row: dict[bytes, bytes] = await client.redis.hgetall(client.keys.dead_job(job_id))  # type: ignore[misc]
    return _dead_job(client, job_id, row) if row else None


def _dead_job(client: Client, job_id: str, row: dict[bytes, Any]) -> DeadJob:
    history = orjson.loads(row.get(b"history") or b"[]")
    return DeadJob(
        job_id,
        _function(client, row.get(b"payload")),
        text(row.get(b"queue"), errors="replace"),
        int(row.get(b"dead_at") or 0),
        int(row.get(b"tries") or 0),
        tuple(history) if isinstance(history, list) else (),
    )


async def requeue_dead(client: Client, job_ids: Sequence[str] | None = None) -> int:
    """Requeue the given dead jobs (all of them when None), due now; return how many were requeued."""
    with redis_errors(client.address):
        if job_ids is None:
            job_ids = [text(i) for i in await client.redis.zrange(client.keys.dead, 0, -1)]
        if not job_ids:
            return 0
        args = DeadRequeueArgs(
            prefix=client.keys.prefix, now_ms=now_ms(), ttl_ms=REQUEUE_TTL_MS, job_ids=job_ids
        )
        return await client.scripts.get(DeadRequeue)(args)
