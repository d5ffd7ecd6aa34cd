"""Lua scripts: loaded from ``aqueue/_lua``, with the shared library prepended, run by SHA."""

from __future__ import annotations

from functools import cache
from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

LUA_PACKAGE = "aqueue._lua"


@cache
def source(name: str, package: str = LUA_PACKAGE) -> str:
    """Return the text of ``{name}.lua`` in ``package``."""
    return resources.files(package).joinpath(f"{name}.lua").read_text(encoding="utf-8")


def compose(*parts: str) -> str:
    """Join script sources; the core library (``lib.lua``) always comes first."""
    return "\n".join((source("lib"), *parts))


class Scripts:
    """The core scripts, registered on one Redis client (EVALSHA with a NOSCRIPT fallback)."""

    def __init__(self, redis: Redis) -> None:
        self.enqueue = redis.register_script(compose(source("enqueue")))
        self.claim = redis.register_script(
            compose(source("wf_lib"), source("claim"))
        )  # dead letters fail runs
        self.finish = redis.register_script(compose(source("finish")))
        self.renew = redis.register_script(compose(source("renew")))
        self.release = redis.register_script(compose(source("release")))
        self.abort = redis.register_script(compose(source("abort")))


def register(redis: Redis, *parts: str) -> AsyncScript:
    """Register a script made of the core library and ``parts`` (for extensions)."""
    return redis.register_script(compose(*parts))
