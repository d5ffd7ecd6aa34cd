"""Workers that schedule cron jobs compare their croniter versions.

Two versions may read one expression differently (croniter 6 and 7 do), and then the workers would
not agree on the slots.
"""

from __future__ import annotations

import logging
from importlib import metadata

from redis.asyncio import Redis

from aqueue._redis.connection import text
from aqueue._redis.keys import Keys

__all__ = ["check_croniter", "croniter_version"]

logger = logging.getLogger("aqueue.scheduler")


def croniter_version() -> str:
    """Return the installed croniter's version."""
    return metadata.version("croniter")


async def check_croniter(redis: Redis, keys: Keys, worker_id: str) -> dict[str, str]:
    """Record this worker's croniter version; warn about live scheduling workers on another one.

    Returns the differing workers (id → version). Entries of workers that are gone (no live-worker
    hash) are dropped.
    """
    key, mine = keys.scoped("cron", "croniter"), croniter_version()
    await redis.hset(key, worker_id, mine)  # type: ignore[misc]
    recorded = {text(k): text(v) for k, v in (await redis.hgetall(key)).items()}  # type: ignore[misc]
    others = sorted(w for w in recorded if w != worker_id)
    alive = [bool(await redis.exists(keys.worker(w))) for w in others]
    gone = [w for w, live in zip(others, alive, strict=True) if not live]
    if gone:
        await redis.hdel(key, *gone)  # type: ignore[misc]
    differing = {
        w: recorded[w] for w, live in zip(others, alive, strict=True) if live and recorded[w] != mine
    }
    if differing:
        listed = ", ".join(f"{w} (croniter {v})" for w, v in differing.items())
        logger.warning(
            "cron: this worker runs croniter %s but live workers %s run another version: they may read "
            "an expression differently and disagree on slots; install one croniter version everywhere",
            mine,
            listed,
        )
    return differing
