"""aqueue on a real Redis Cluster (three primaries with a replica each, :mod:`tests.cluster`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest

from aqueue import Client, Worker
from aqueue._redis.cluster import ClusterLayout, is_cluster, key_slot
from aqueue._redis.connection import describe, resolve_settings
from aqueue.errors import ConfigurationError
from tests.cluster import ClusterGroup, redis_cli

CLI = redis_cli()
needs_cluster = pytest.mark.skipif(
    CLI is None, reason="needs redis-cli 5+ (Debian's redis-tools) to create a cluster"
)
#: Three queue names whose hash tags fall in the three primaries' slot ranges (0-5460, 5461-10922, 10923-).
QUEUES = ("alpha", "green", "red")


def test_cluster_url_parses_and_prints_without_password() -> None:
    settings = resolve_settings("redis+cluster://u:s3cret@10.0.0.1:7000,[::1]:7001/")
    assert is_cluster(settings)
    assert settings.host == [("10.0.0.1", 7000), ("::1", 7001)]
    assert (settings.username, settings.password) == ("u", "s3cret")
    assert describe(settings) == "redis+cluster://10.0.0.1:7000,[::1]:7001"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    "url",
    ["redis+cluster://", "redis+cluster://h:notaport", "redis+cluster://h:1/0", "redis+cluster://h:1?x=1"],
)
def test_bad_cluster_url_is_one_clear_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid Cluster URL"):
        resolve_settings(url)


def test_key_slot_is_redis_cluster_hashing() -> None:
    assert key_slot("foo") == 12182  # the examples of the Redis Cluster specification
    assert key_slot("{user1000}.following") == key_slot("{user1000}.followers") == key_slot("user1000")
    assert key_slot("foo{}{bar}") == key_slot("foo{}{bar}") != key_slot("bar")


def test_layout_puts_a_queue_under_its_hash_tag() -> None:
    layout = ClusterLayout()
    keys = layout.keys("fast")
    assert keys.prefix == "arq:{fast}:" and layout.queue_key("fast") == "arq:{fast}:queue"
    assert layout.keys(layout.queue_key("fast")) == keys  # from the queue key back to its keys
    assert layout.queue_key(None) == layout.queue_key("arq:queue") == "arq:{queue}:queue"
    assert {
        key_slot(k) for k in (keys.job("x"), keys.deliveries, keys.workers, keys.limits(), keys.dead)
    } == {key_slot("fast")}
    with pytest.raises(ConfigurationError, match="may not contain"):
        layout.keys("a{b}")


def test_default_layout_is_unchanged_outside_cluster_mode() -> None:
    client = Client("redis://127.0.0.1:1/0")
    assert client.layout is None
    assert client.keys.prefix == "arq:" and client.queue_key("fast") == "fast"
    assert client.keys_for("fast").job("x") == "arq:job:x"


def test_worker_on_cluster_refuses_several_queues() -> None:
    with pytest.raises(ConfigurationError, match="serves one queue"):
        Worker([add], redis_settings="redis+cluster://127.0.0.1:1", queues=["a", "b"], handle_signals=False)


async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    return x + y


@pytest.fixture(scope="session")
def cluster() -> Iterator[ClusterGroup]:
    assert CLI is not None
    with ClusterGroup(CLI) as group:
        yield group


@pytest.fixture
def cluster_url(cluster: ClusterGroup, transport: str) -> str:
    cluster.wait_healthy()
    cluster.flush()
    return cluster.url


@contextlib.asynccontextmanager
async def serving(url: str, functions: Sequence[Any], **options: Any) -> AsyncIterator[Worker]:
    worker = Worker(functions, redis_settings=url, handle_signals=False, **options)
    runner = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        worker.request_stop(force=True)
        await asyncio.wait_for(runner, 15)
        await worker.close()


@needs_cluster
async def test_enqueue_and_result(cluster_url: str, transport: str) -> None:
    async with Client(cluster_url) as client, serving(cluster_url, [add]):
        assert client.transport.name == transport
        job = await client.enqueue("add", 1, 2)
        assert await job.result(timeout=5) == 3
        assert (await job.status()).value == "complete"


def _keys_by_node(cluster: ClusterGroup) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for port in cluster.primaries():
        with cluster.client(port) as r:
            found[port] = [k.decode() for k in r.scan_iter(count=1000)]
    return found


@needs_cluster
async def test_a_queues_keys_share_its_slot_and_queues_spread_over_shards(
    cluster: ClusterGroup, cluster_url: str
) -> None:
    async with Client(cluster_url) as client:
        for name in QUEUES:
            async with serving(cluster_url, [add], queue_name=name):
                job = await client.enqueue("add", 2, 3, _queue_name=name)
                assert await job.result(timeout=5) == 5
                await client.enqueue("add", 1, 1, _queue_name=name, _defer_by=60)
    by_node = _keys_by_node(cluster)
    homes = {name: cluster.primary_of(f"arq:{{{name}}}:queue") for name in QUEUES}
    assert len(set(homes.values())) == 3  # three queues, three shards
    for name, port in homes.items():
        mine = [k for k in by_node[port] if k.startswith(f"arq:{{{name}}}:")]
        assert any(":job:" in k for k in mine) and any(":result:" in k for k in mine)
        assert {cluster.slot_of(k) for k in mine} == {key_slot(name)}
    everything = [k for keys in by_node.values() for k in keys]
    assert all(k.startswith(tuple(f"arq:{{{n}}}:" for n in QUEUES)) for k in everything), everything
