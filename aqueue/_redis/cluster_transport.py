"""Redis Cluster through redis-py: the pool everything but the hot path uses, and its hot path.

:class:`ClusterPool` is redis-py's ``RedisCluster`` with what aqueue asks of an arq pool: arq's
serializer attributes, transactions (``pipeline(transaction=True)``: every key of one aqueue
transaction is in one slot, so it runs as MULTI/EXEC on that slot's primary) and pub/sub (on one
node: a cluster forwards every ``PUBLISH`` to all its nodes). redis-py follows MOVED and ASK
redirects and refreshes its slot map after a failover.

:class:`ClusterRedisPyTransport` runs the scripts with their prefix (which carries the queue's hash
tag) as their one key, so that redis-py sends each to the primary of the queue's slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Sequence
from typing import Any, cast

from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import Pipeline, PubSub
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import (
    AuthenticationError,
    ConnectionError,
    RedisClusterException,
    ResponseError,
    TimeoutError,
)

from aqueue._redis.cluster import describe_cluster, key_slot
from aqueue._redis.evalsha import run_script

__all__ = ["ClusterPool", "ClusterRedisPyTransport", "open_cluster_pool", "routing_key"]


#: How often a pipeline is sent before its error goes to the caller, and the pause after a lost node.
PIPELINE_ATTEMPTS = 4
PIPELINE_RETRY_S = 0.25
#: How long closing a pool waits for redis-py's own disconnects of replaced nodes.
CLOSE_WAIT_S = 1.0


def routing_key(argv: Sequence[Any]) -> str:
    """Return the key a script call is routed by: its prefix (ARGV 1), which carries the hash tag."""
    return str(argv[0])


class ClusterPool(RedisCluster):
    """redis-py's ``RedisCluster`` with an arq pool's attributes, slot transactions and pub/sub."""

    job_serializer: Any = None
    job_deserializer: Any = None
    default_queue_name: str = "arq:queue"
    expires_extra_ms: int = 86_400_000

    def __init__(self, settings: RedisSettings, **options: Any) -> None:
        hosts = settings.host if isinstance(settings.host, list) else [(settings.host, settings.port)]
        self._options: dict[str, Any] = {
            "username": settings.username,
            "password": settings.password,
            "socket_timeout": options.get("socket_timeout"),
            "socket_connect_timeout": settings.conn_timeout,
        }
        super().__init__(
            startup_nodes=[ClusterNode(str(h), int(p)) for h, p in hosts],
            encoding="utf8",
            socket_keepalive=True,
            **options,
            username=settings.username,
            password=settings.password,
            socket_connect_timeout=settings.conn_timeout,
        )
        #: The seed nodes, without password, as error messages name the cluster (``describe_pool``).
        self.cluster_address = describe_cluster(settings)
        self._node_pools: dict[tuple[str, int], ConnectionPool] = {}
        self._pubsub_client: Redis | None = None

    async def reread_slots(self) -> None:
        """Read the slot map again (after a failover or a migrated slot); give up quietly if no node answers.

        It goes through redis-py's own re-read (``initialize`` under its lock), never beside it: two
        reads at once replace each other's node objects, and one still connecting through a node the
        other replaced is left with a socket nobody closes.
        """
        self._initialize = True
        with contextlib.suppress(ConnectionError, TimeoutError, RedisClusterException):
            await self.initialize()

    def node_pool(self, host: str, port: int | str) -> ConnectionPool:
        """Return a plain connection pool to one node (for transactions and pub/sub)."""
        port = int(port)
        pool = self._node_pools.get((host, port))
        if pool is None:
            pool = self._node_pools[(host, port)] = ConnectionPool(host=host, port=port, **self._options)
        return pool

    def any_node(self) -> ClusterNode:
        """Return a node to send a keyless command to: the default one, else any known one."""
        node = self.get_default_node() or next(iter(self.get_primaries()), None)
        if node is None:  # between two slot maps redis-py may know none: a seed, then
            node = next(iter(self.nodes_manager.startup_nodes.values()))
        return node

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        """Return a pipeline on one slot's primary (see :class:`SlotPipeline`)."""
        return SlotPipeline(self, bool(transaction))

    def pubsub(self, **kwargs: Any) -> PubSub:
        """Return a pub/sub on one node: the cluster forwards every PUBLISH to every node."""
        if self._pubsub_client is None:
            node = self.any_node()
            self._pubsub_client = Redis(connection_pool=self.node_pool(node.host, node.port))
        return self._pubsub_client.pubsub(**kwargs)

    async def aclose(self) -> None:
        """Close the cluster's connections and the node pools.

        redis-py disconnects the nodes a new slot map replaced in tasks of their own, which nobody
        awaits: after a failover they would outlive a loop that ends now, their sockets unclosed.
        They are waited for here (up to ``CLOSE_WAIT_S``).
        """
        await super().aclose()
        for pool in self._node_pools.values():
            await pool.disconnect()
        self._node_pools.clear()
        current = asyncio.current_task()
        replaced = [
            t
            for t in asyncio.all_tasks()
            if t is not current and getattr(t.get_coro(), "__qualname__", "") == "ClusterNode.disconnect"
        ]
        if replaced:
            await asyncio.wait(replaced, timeout=CLOSE_WAIT_S)


class SlotPipeline(Pipeline):
    """A pipeline (a MULTI/EXEC one with ``transaction``) on the primary of its keys' slot.

    aqueue's pipelines touch one queue's keys, so one slot: they run on its primary as on a single
    Redis (PUBLISH included, which redis-py's cluster pipeline refuses). A plain pipeline whose keys
    span slots is handed to redis-py's cluster pipeline; a transaction's keys must share one slot.
    """

    def __init__(self, cluster: ClusterPool, transaction: bool) -> None:
        self._cluster = cluster
        node = cluster.any_node()
        pool = cluster.node_pool(node.host, node.port)
        super().__init__(pool, cluster.response_callbacks, transaction, None)

    async def watch(self, *names: Any) -> None:  # type: ignore[override]  # redis-py's stubs: two types
        """WATCH ``names`` on the primary of the first one's slot (the transaction runs there too)."""
        self._route(_text(names[0]))
        await super().watch(*names)

    def _route(self, key: str) -> None:
        node = self._cluster.nodes_manager.get_node_from_slot(key_slot(key))
        if node is not None:
            self.connection_pool = self._cluster.node_pool(node.host, node.port)

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Run the queued commands on their slot's primary.

        If it says MOVED (then none ran), or cannot be reached (its shard may be failing over), the
        slot map is read again and the pipeline sent again, up to :data:`PIPELINE_ATTEMPTS` times,
        as redis-py's cluster pipeline does. A pipeline under WATCH is sent once.
        """
        if self.watching:  # WATCH chose the node and holds the connection: one attempt
            return await super().execute(raise_on_error)
        stack, scripts = list(self.command_stack), set(self.scripts)
        keys = [k for k in (_key_of(args) for args, _ in stack) if k is not None]
        if not self.is_transaction and len({key_slot(k) for k in keys}) > 1:
            return await self._across_slots(stack, raise_on_error)
        for attempt in range(1, PIPELINE_ATTEMPTS + 1):
            if keys:
                self._route(keys[0])
            self.command_stack, self.scripts = list(stack), set(scripts)
            try:
                replies = await super().execute(raise_on_error)
            except ResponseError as e:
                if attempt == PIPELINE_ATTEMPTS or not _redirected(e):
                    raise
            except (ConnectionError, TimeoutError):
                if attempt == PIPELINE_ATTEMPTS:
                    raise
                await asyncio.sleep(PIPELINE_RETRY_S * attempt)
            else:
                if attempt == PIPELINE_ATTEMPTS or not replies or not _redirected(replies[0]):
                    return replies
            await self._refresh()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _refresh(self) -> None:
        await self._cluster.reread_slots()

    async def _across_slots(self, stack: list[Any], raise_on_error: bool) -> list[Any]:
        self.command_stack = []
        pipe = RedisCluster.pipeline(self._cluster)
        for args, options in stack:
            pipe.execute_command(*args, **options)
        replies: list[Any] = await pipe.execute(raise_on_error)
        return replies


def _redirected(reply: Any) -> bool:
    """Return whether ``reply`` is a MOVED or ASK error (redis-py prefixes a pipeline's with the command)."""
    return isinstance(reply, ResponseError) and _REDIRECT.search(str(reply)) is not None


_REDIRECT = re.compile(r"(^|\W)(MOVED|ASK) \d+ \S+:\d+")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _key_of(args: Sequence[Any]) -> str | None:
    """Return the key a command is routed by: its first key (a script's: KEYS[1], else its prefix)."""
    name = _text(args[0]).upper()
    if name in ("MULTI", "EXEC", "WAIT", "PING"):
        return None
    if name in ("EVAL", "EVALSHA"):
        return _text(args[3]) if len(args) > 3 else None
    return _text(args[1]) if len(args) > 1 else None


async def open_cluster_pool(settings: RedisSettings, **options: Any) -> ArqRedis:
    """Open a :class:`ClusterPool` (it reads the slot map from a seed node), typed as an arq pool."""
    arq_fields = {
        name: options.pop(name)
        for name in ("job_serializer", "job_deserializer", "default_queue_name", "expires_extra_ms")
        if name in options
    }
    pool = ClusterPool(settings, **options)  # type: ignore[abstract]  # redis-py types it so
    for name, value in arq_fields.items():
        setattr(pool, name, value)
    try:
        await pool.initialize()
        await pool.ping()
    except RedisClusterException as e:
        await pool.aclose()
        if isinstance(e.__cause__, AuthenticationError):  # a wrong password: what the node said
            raise e.__cause__ from e
        raise
    except BaseException:
        await pool.aclose()
        raise
    return cast(ArqRedis, pool)


class ClusterRedisPyTransport:
    """The hot path on a cluster through redis-py: scripts and the blocking pop, routed by key."""

    name = "redis-py"

    def __init__(
        self, pool: Redis, settings: RedisSettings, *, reply_timeout_s: float, block_s: float
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._blocking_timeout_s = reply_timeout_s + block_s
        self._blocking: Redis | None = None  # to the node of the last key popped from
        self._blocking_at: tuple[str, int | str] | None = None

    def run(self, script: Any, args: Any) -> Awaitable[Any]:
        """Run ``script`` on the primary of its prefix's slot."""
        argv = args.argv()
        return run_script(self._send, script, args, (routing_key(argv),))

    def _send(self, *command: Any) -> Awaitable[Any]:
        """Send one command; SCRIPT LOAD goes to every primary (redis-py routes it only so)."""
        if command[0] == "SCRIPT":
            return cast(Awaitable[Any], self._pool.script_load(command[2]))
        return cast(Awaitable[Any], self._pool.execute_command(*command))  # type: ignore[no-untyped-call]

    def blpop(self, key: str, timeout: float) -> asyncio.Future[Sequence[bytes] | None]:
        """Start a BLPOP on the primary of ``key``'s slot, on a connection of its own to that node."""
        return asyncio.ensure_future(self._blpop(key, timeout))

    async def _blpop(self, key: str, timeout: float) -> Sequence[bytes] | None:
        cluster = cast(ClusterPool, self._pool)
        node = cluster.nodes_manager.get_node_from_slot(key_slot(key))
        if self._blocking is None or self._blocking_at != (node.host, node.port):
            await self.stop_blocking()
            self._blocking = Redis(
                host=node.host,
                port=int(node.port),
                username=self._settings.username,
                password=self._settings.password,
                socket_timeout=self._blocking_timeout_s,
                socket_connect_timeout=self._settings.conn_timeout,
                socket_keepalive=True,
            )
            self._blocking_at = (node.host, node.port)
        try:
            pop = self._blocking.blpop([key], timeout)  # type: ignore[arg-type]  # float seconds: Redis 6+
            return await cast(Awaitable[Sequence[bytes] | None], pop)
        except (ConnectionError, TimeoutError, ResponseError) as e:
            if not isinstance(e, ResponseError) or _redirected(e):  # a failover, or a migrated slot
                await self.stop_blocking()
                await cluster.reread_slots()
            raise

    async def stop_blocking(self) -> None:
        """Close the blocking connection."""
        conn, self._blocking = self._blocking, None
        if conn is not None:
            await conn.aclose()

    async def aclose(self) -> None:
        """Close the blocking client (the pool belongs to its owner)."""
        await self.stop_blocking()
