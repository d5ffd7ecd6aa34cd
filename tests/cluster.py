"""A Redis Cluster on loopback for the cluster tests: three primaries, each with a replica.

Every node is the suite's own ``redis-server`` binary (:func:`aqueue.embedded.find_redis_server`)
started with ``--cluster-enabled yes`` on a free port; ``redis-cli --cluster create … --cluster-yes``
(Debian's redis-tools) assigns the slots and the replicas. Failure detection is quick
(``cluster-node-timeout`` 1000 ms), so a killed primary's replica takes over in a few seconds.
Everything is stopped on exit, also when starting fails half-way; every wait is bounded.

>>> with ClusterGroup() as cluster:          # doctest: +SKIP
...     cluster.url                          # redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
...     cluster.primary_of("arq:{fast}:queue")   # the port of the primary serving that key
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import redis as sync_redis

from aqueue.embedded import RedisServer
from tests.sentinel import wait_until

#: Debian's redis-cli (redis-tools): it builds the cluster.
REDIS_CLI = "/usr/bin/redis-cli"
NODE_TIMEOUT_MS = 1000
PRIMARIES = 3


def redis_cli() -> str | None:
    """Return the redis-cli that can create a cluster, or None."""
    found = REDIS_CLI if Path(REDIS_CLI).exists() else shutil.which("redis-cli")
    if found is None:
        return None
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=False).stdout
    return found if _major(version) >= 5 else None  # --cluster create: redis-cli 5+


def _major(version: str) -> int:
    for word in version.split():
        if word[:1].isdigit():
            return int(word.split(".")[0])
    return 0


def cluster_port() -> int:
    """Return a free loopback port whose cluster bus port (port + 10000) is free too."""
    for _ in range(200):
        port = random.randrange(20000, 45000)
        if _free(port) and _free(port + 10000):
            return port
    raise AssertionError("no free port pair for a cluster node")


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _node_args(timeout_ms: int) -> tuple[str, ...]:
    return (
        "--cluster-enabled", "yes",
        "--cluster-config-file", "nodes.conf",
        "--cluster-node-timeout", str(timeout_ms),
        "--cluster-replica-validity-factor", "0",
        "--repl-diskless-sync", "yes",
        "--repl-diskless-sync-delay", "0",
    )  # fmt: skip


class ClusterGroup:
    """Six ``redis-server`` nodes joined as a cluster of three primaries with a replica each.

    ``password``: every node's ``requirepass`` (and ``masterauth``, for the replicas).
    """

    def __init__(self, cli: str = REDIS_CLI, *, replicas: int = 1, password: str | None = None) -> None:
        self.cli = cli
        self.replicas = replicas
        self.password = password
        auth = ("--masterauth", password) if password else ()
        self.nodes = [
            RedisServer(
                port=cluster_port(), extra_args=(*_node_args(NODE_TIMEOUT_MS), *auth), password=password
            )
            for _ in range(PRIMARIES * (1 + replicas))
        ]

    @property
    def url(self) -> str:
        """Return the cluster's URL, naming the three first nodes as seeds (and the password)."""
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis+cluster://{auth}" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:PRIMARIES])

    def start(self) -> ClusterGroup:
        """Start the nodes, create the cluster, wait until every node says ``cluster_state:ok``."""
        try:
            for node in self.nodes:
                node.start()
            addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
            subprocess.run(
                [
                    self.cli,
                    "--cluster",
                    "create",
                    *addresses,
                    "--cluster-replicas",
                    str(self.replicas),
                    "--cluster-yes",
                    *(("-a", self.password, "--no-auth-warning") if self.password else ()),
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
            self.wait_healthy()
        except BaseException:
            self.close()
            raise
        return self

    def client(self, port: int) -> sync_redis.Redis:
        """Return a plain client of the node on ``port``."""
        return sync_redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, password=self.password)

    def node(self, port: int) -> RedisServer:
        """Return the node listening on ``port``."""
        return next(n for n in self.nodes if n.port == port)

    def live(self) -> list[RedisServer]:
        """Return the nodes whose process runs."""
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def _ask(self) -> sync_redis.Redis:
        return self.client(self.live()[0].port)

    def wait_healthy(self, timeout: float = 30) -> None:
        """Wait until every live node says ``cluster_state:ok`` and knows every slot."""

        def healthy() -> bool:
            for node in self.live():
                with self.client(node.port) as r:
                    info = r.execute_command("CLUSTER", "INFO")
                    text = info.decode() if isinstance(info, bytes) else str(info)
                    if "cluster_state:ok" not in text or "cluster_slots_ok:16384" not in text:
                        return False
            return True

        wait_until(healthy, "the cluster to be ok", timeout)

    def slot_of(self, key: str) -> int:
        """Return ``CLUSTER KEYSLOT key`` as the cluster computes it."""
        with self._ask() as r:
            return int(r.execute_command("CLUSTER", "KEYSLOT", key))

    def primary_of(self, key: str) -> int:
        """Return the port of the primary serving ``key``."""
        slot = self.slot_of(key)
        with self._ask() as r:
            for entry in r.execute_command("CLUSTER", "SLOTS"):
                if int(entry[0]) <= slot <= int(entry[1]):
                    return int(entry[2][1])
        raise AssertionError(f"no node serves slot {slot}")

    def replica_of(self, primary: int) -> int:
        """Return the port of a replica of the primary on ``primary``."""
        with self._ask() as r:
            for entry in r.execute_command("CLUSTER", "SLOTS"):
                if int(entry[2][1]) == primary and len(entry) > 3:
                    return int(entry[3][1])
        raise AssertionError(f"the primary on {primary} has no replica")

    def primaries(self) -> list[int]:
        """Return the ports of the primaries."""
        with self._ask() as r:
            return sorted({int(e[2][1]) for e in r.execute_command("CLUSTER", "SLOTS")})

    def flush(self) -> None:
        """Empty every primary (their replicas follow), scripts too: each test loads its own."""
        for port in self.primaries():
            with self.client(port) as r:
                r.flushall()
                r.script_flush()

    def node_id(self, port: int) -> str:
        """Return the cluster node id of the node on ``port``."""
        with self.client(port) as r:
            return str(r.execute_command("CLUSTER", "MYID").decode())

    def move_slot(self, slot: int, target: int) -> None:
        """Migrate ``slot`` and its keys to the primary on ``target`` (as ``redis-cli --cluster reshard``)."""
        source = next(p for p in self.primaries() if p != target and self._serves(p, slot))
        source_id, target_id = self.node_id(source), self.node_id(target)
        with self.client(source) as src, self.client(target) as dst:
            dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
            src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
                auth = ("AUTH", self.password) if self.password else ()
                src.execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, *auth, "KEYS", *keys)
            for port in self.primaries():
                with self.client(port) as r:
                    r.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        self.wait_healthy()

    def _serves(self, port: int, slot: int) -> bool:
        with self._ask() as r:
            for entry in r.execute_command("CLUSTER", "SLOTS"):
                if int(entry[0]) <= slot <= int(entry[1]):
                    return int(entry[2][1]) == port
        return False

    def replicate(self, key: str, timeout_ms: int = 5000) -> None:
        """Wait until a replica of ``key``'s primary has all it was sent: write ``key``, then WAIT.

        WAIT counts the writes of its own connection; one stream carries every client's, in order.
        """
        with self.client(self.primary_of(key)) as r:
            r.set(key, 1)
            if int(r.execute_command("WAIT", 1, timeout_ms)) < 1:
                raise AssertionError(f"no replica of {key}'s primary caught up within {timeout_ms} ms")

    def kill(self, port: int) -> None:
        """SIGKILL the node on ``port``."""
        node = self.node(port)
        assert node.process is not None
        node.process.kill()
        node.process.wait(5)
        node.process = None

    def close(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.close()

    def __enter__(self) -> ClusterGroup:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
