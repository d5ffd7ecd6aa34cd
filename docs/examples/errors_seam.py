"""An extension's public call that fails with aqueue's Redis errors, never redis-py's."""

import aqueue

# --8<-- [start:purge]
from aqueue._redis.errors import redis_errors


async def purge(client, queue):
    with redis_errors(client.address):
        return await client.redis.delete(client.queue_key(queue))


# --8<-- [end:purge]


async def main() -> None:
    async with aqueue.Client() as client:
        await client.enqueue("import_rows", 1, _queue_name="imports")
        assert await purge(client, "imports") == 1
        await client.redis.set(client.queue_key("imports"), "not a queue")
        await client.redis.config_set("maxmemory", 1)  # nothing more fits: Redis refuses writes
        try:
            await purge(client, "imports")  # DEL needs no memory: it goes through
            await client.enqueue("import_rows", 2, _queue_name="imports")
        except aqueue.RedisRefusedError as e:
            assert e.code == "OOM", e
        else:
            raise AssertionError("Redis is out of memory")
        finally:
            await client.redis.config_set("maxmemory", 0)
