"""The scheduler's Lua scripts, each built as ``lib.lua`` + ``cron_lib.lua`` + its own file."""

from __future__ import annotations

from redis.asyncio import Redis

from aqueue._redis.scripts import FastScript, register, source

LUA = "aqueue.scheduler._lua"


def _cron(redis: Redis, name: str) -> FastScript:
    return register(redis, source("cron_lib", LUA), source(name, LUA))


class CronScripts:
    """The cron scripts registered on one Redis client (EVALSHA, loaded on first use)."""

    def __init__(self, redis: Redis) -> None:
        self.claim = _cron(redis, "cron_claim")
        self.finish = _cron(redis, "cron_finish")
        self.trigger = _cron(redis, "cron_trigger")
        self.state = _cron(redis, "cron_state")
        self.wake = _cron(redis, "cron_wake")
