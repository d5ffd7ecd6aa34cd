"""Real Redis servers that refuse commands, for the error tests: out of memory, busy, read-only.

Each works on a server of the test's own (``RedisServer``), never the session's shared one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import redis as sync_redis

from aqueue.embedded import RedisServer

#: A script that spins until SCRIPT KILL ends it (it writes nothing, so it may be killed).
SPIN = "while true do end"


def connect(server: RedisServer) -> sync_redis.Redis:
    return sync_redis.Redis.from_url(server.url, socket_timeout=10)


def starve(server: RedisServer, maxmemory: int = 1) -> None:
    """Put the server out of memory: ``maxmemory`` (0 lifts it) with ``noeviction``."""
    with contextlib.closing(connect(server)) as r:
        r.config_set("maxmemory-policy", "noeviction")
        r.config_set("maxmemory", maxmemory)


def wait_for(check: object, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _answers_busy(r: sync_redis.Redis) -> bool:
    try:
        r.ping()
    except sync_redis.ResponseError as e:
        return str(e).startswith("BUSY")
    return False


@contextlib.contextmanager
def busy(server: RedisServer) -> Iterator[None]:
    """Keep the server busy in a long script for the block (every command answers BUSY), then kill it."""
    with contextlib.closing(connect(server)) as r:
        r.config_set("lua-time-limit", 50)  # busy-reply-threshold on Redis 7: the same setting
        spinner = threading.Thread(target=_spin, args=(server,), daemon=True)
        spinner.start()
        try:
            wait_for(lambda: _answers_busy(r), "the server to answer BUSY")
            yield
        finally:
            for _ in range(100):
                try:
                    r.script_kill()
                    break
                except sync_redis.ResponseError:  # NOTBUSY: the script has not started yet
                    time.sleep(0.01)
            spinner.join(10)
        r.ping()


def _spin(server: RedisServer) -> None:
    with contextlib.closing(connect(server)) as r, contextlib.suppress(sync_redis.ResponseError):
        r.eval(SPIN, 0)  # ends with "Script killed by user with SCRIPT KILL"


def replicate(replica: RedisServer, primary: RedisServer) -> None:
    """Make ``replica`` a read-only replica of ``primary`` (it drops its data for the primary's)."""
    with contextlib.closing(connect(replica)) as r:
        r.replicaof("127.0.0.1", primary.port)
        wait_for(lambda: r.info("replication").get("master_link_status") == "up", "the replica to sync")


def promote(replica: RedisServer) -> None:
    """Make a replica a primary again (``REPLICAOF NO ONE``): it keeps its data and takes writes."""
    with contextlib.closing(connect(replica)) as r:
        r.replicaof("NO", "ONE")
        wait_for(lambda: r.info("replication").get("role") == "master", "the replica to be promoted")
