"""A Sentinel deployment on loopback for the failover tests: a primary, a replica, three sentinels.

Every process is the suite's own ``redis-server`` binary (:func:`aqueue.embedded.find_redis_server`);
a sentinel is ``redis-server sentinel.conf --sentinel``. Failure detection is quick
(``down-after-milliseconds`` 1000), so a killed primary is replaced in a few seconds. Everything is
stopped on exit (SIGTERM, SIGKILL after 5 s), also when starting fails half-way; every wait is bounded.

>>> with SentinelGroup() as group:          # doctest: +SKIP
...     group.url                           # redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,…/mymaster/0
...     old = group.kill_primary()          # SIGKILL
...     new = group.wait_for_switch(old)    # the sentinels promoted the replica
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import redis as sync_redis

from aqueue.embedded import RedisServer

MASTER = "mymaster"
#: Quick failure detection: a primary silent for this long is down (the default is 30 s).
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
#: Options of the data nodes: replication without disk, so a (re)sync is immediate.
DATA_NODE = ("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")

Address = tuple[str, int]


def wait_until(check: Callable[[], Any], what: str, timeout: float = 15) -> Any:
    """Call ``check`` until it returns something truthy (a Redis error: not yet); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(sync_redis.RedisError, OSError):
            value = check()
            if value:
                return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class SentinelServer(RedisServer):
    """One sentinel (``redis-server CONF --sentinel``) monitoring ``MASTER`` at ``master_port``.

    ``password`` protects the sentinel itself; ``master_password`` is what it uses on the data nodes.
    """

    def __init__(
        self, master_port: int, *, password: str | None = None, master_password: str | None = None
    ) -> None:
        super().__init__(password=password)
        self.master_port = master_port
        self.master_password = master_password

    def _config(self) -> str:
        lines = [
            f"sentinel monitor {MASTER} 127.0.0.1 {self.master_port} 2",
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}",
            f"sentinel parallel-syncs {MASTER} 1",
        ]
        if self.master_password:
            lines.append(f"sentinel auth-pass {MASTER} {self.master_password}")
        return "\n".join(lines) + "\n"

    def _args(self) -> list[str]:
        conf = self.data_dir / "sentinel.conf"  # the sentinel rewrites it as it learns the topology
        if not conf.exists():
            conf.write_text(self._config(), encoding="utf-8")
        args = [self.binary, str(conf), "--sentinel", "--bind", "127.0.0.1", "--port", str(self.port)]
        args += ["--dir", str(self.data_dir), "--daemonize", "no", "--loglevel", "warning"]
        return args + (["--requirepass", self.password] if self.password else [])

    def client(self) -> sync_redis.Redis:
        """Return a client of this sentinel."""
        return sync_redis.Redis(
            port=self.port, password=self.password, socket_timeout=2, decode_responses=True
        )

    def master_address(self) -> Address | None:
        """Return where this sentinel says the primary is."""
        with contextlib.closing(self.client()) as r:
            found = r.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
        return (str(found[0]), int(found[1])) if found else None

    def knows_everyone(self) -> bool:
        """Return whether this sentinel sees the replica and the two other sentinels."""
        with contextlib.closing(self.client()) as r:
            state = r.execute_command("SENTINEL", "MASTER", MASTER)
        if isinstance(state, list):  # RESP2 without redis-py's callback: a flat list of pairs
            state = dict(zip(state[::2], state[1::2], strict=True))
        return int(state["num-slaves"]) >= 1 and int(state["num-other-sentinels"]) >= 2


class SentinelGroup:
    """A primary, a replica and three sentinels on free loopback ports; a context manager.

    ``password`` protects the data nodes (the sentinels use it too); ``sentinel_password`` protects
    the sentinels. :attr:`url` is the ``redis+sentinel://`` URL of the group.
    """

    def __init__(self, *, password: str | None = None, sentinel_password: str | None = None) -> None:
        self.password = password
        self.sentinel_password = sentinel_password
        self.primary = RedisServer(extra_args=self._data_args(None), password=password)
        self.replica: RedisServer | None = None
        self.sentinels: list[SentinelServer] = []
        self.restarted: list[RedisServer] = []

    def _data_args(self, primary_port: int | None) -> tuple[str, ...]:
        args = DATA_NODE + (("--masterauth", self.password) if self.password else ())
        return args + (("--replicaof", "127.0.0.1", str(primary_port)) if primary_port else ())

    @property
    def url(self) -> str:
        """Return the group's URL: the three sentinels and the master's name, credentials included."""
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        query = (
            f"?sentinel_password={quote(self.sentinel_password, safe='')}" if self.sentinel_password else ""
        )
        return f"redis+sentinel://{auth}{hosts}/{MASTER}/0{query}"

    def start(self) -> SentinelGroup:
        """Start the data nodes, wait for the replica to sync, start the sentinels, wait until they agree."""
        try:
            self.primary.start()
            self.replica = RedisServer(extra_args=self._data_args(self.primary.port), password=self.password)
            self.replica.start()
            wait_until(lambda: self._linked(self.replica), "the replica to sync")  # type: ignore[arg-type]
            self.sentinels = [
                SentinelServer(
                    self.primary.port, password=self.sentinel_password, master_password=self.password
                )
                for _ in range(3)
            ]
            for sentinel in self.sentinels:
                sentinel.start()
            wait_until(lambda: all(s.knows_everyone() for s in self.sentinels), "the sentinels to agree", 20)
        except BaseException:
            self.close()
            raise
        return self

    def data_client(self, server: RedisServer) -> sync_redis.Redis:
        """Return a client of one data node."""
        return sync_redis.Redis(
            port=server.port, password=self.password, socket_timeout=2, decode_responses=True
        )

    def _linked(self, server: RedisServer) -> bool:
        with contextlib.closing(self.data_client(server)) as r:
            return bool(r.info("replication").get("master_link_status") == "up")

    def master_address(self) -> Address | None:
        """Return where the first sentinel that answers says the primary is."""
        for sentinel in self.sentinels:
            with contextlib.suppress(sync_redis.RedisError, OSError):
                return sentinel.master_address()
        return None

    def kill_primary(self) -> Address:
        """SIGKILL the current primary (no shutdown, no save); return its address."""
        address = self.master_address()
        assert address is not None, "no sentinel knows the primary"
        server = self.server_at(address[1])
        assert server.process is not None
        server.process.kill()
        server.process.wait(5)
        return address

    def server_at(self, port: int) -> RedisServer:
        """Return the data node listening on ``port``."""
        nodes = [self.primary, self.replica, *self.restarted]
        return next(n for n in nodes if n is not None and n.port == port)

    def wait_for_switch(self, old: Address, timeout: float = 20) -> Address:
        """Wait until every sentinel names a primary other than ``old``, and it takes writes; return it."""

        def switched() -> Address | None:
            seen = {s.master_address() for s in self.sentinels}
            if len(seen) != 1 or old in seen:
                return None
            (address,) = seen
            assert address is not None
            with contextlib.closing(self.data_client(self.server_at(address[1]))) as r:
                return address if r.info("replication").get("role") == "master" else None

        found: Address = wait_until(switched, "the sentinels to promote the replica", timeout)
        return found

    def restart_as_replica(self, old: Address, primary: Address) -> RedisServer:
        """Start a fresh data node on ``old``'s port as a replica of ``primary``; wait until it synced.

        It starts as a replica on purpose: a primary restarted empty before the sentinels noticed
        its death would be taken back as the primary, and the data lost.
        """
        server = RedisServer(port=old[1], extra_args=self._data_args(primary[1]), password=self.password)
        self.restarted.append(server)
        server.start()
        wait_until(lambda: self._linked(server), "the restarted node to sync", 20)
        return server

    def close(self) -> None:
        """Stop every process of the group (bounded: SIGTERM, then SIGKILL after 5 s)."""
        for server in [*self.sentinels, *self.restarted, self.replica, self.primary]:
            if server is not None:
                with contextlib.suppress(Exception):
                    server.close()

    def __enter__(self) -> SentinelGroup:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def logs(group: SentinelGroup) -> str:
    """Return the tail of every process's log, for a failing test's message."""
    parts = []
    for server in [group.primary, group.replica, *group.restarted, *group.sentinels]:
        if server is None:
            continue
        path = Path(server.data_dir) / "redis.log"
        with contextlib.suppress(OSError):
            parts.append(f"--- :{server.port}\n{path.read_text(errors='replace')[-2000:]}")
    return "\n".join(parts)
