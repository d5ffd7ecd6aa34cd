"""Lua scripts: loaded from ``aqueue/_lua``, with the shared library prepended, run by SHA."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

LUA_PACKAGE = "aqueue._lua"


@cache
def source(name: str, package: str = LUA_PACKAGE) -> str:
    """Return the text of ``{name}.lua`` in ``package``."""
    return resources.files(package).joinpath(f"{name}.lua").read_text(encoding="utf-8")


def compose(*parts: str) -> str:
    """Join script sources; the core library (``lib.lua``) always comes first."""
    return "\n".join((source("lib"), *parts))


class FastScript:
    """A script called with a bare EVALSHA on the hot path; loaded on NOSCRIPT; pipelines supported.

    redis-py's own ``Script.__call__`` costs ~20 µs per call in client CPU; this skips it.
    """

    def __init__(self, redis: Redis, text: str) -> None:
        self._redis = redis
        self._script: AsyncScript = redis.register_script(text)
        self.sha = self._script.sha

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = (), client: Any = None) -> Any:
        """Run the script with ``args`` (and ``keys``), or queue it on ``client`` (a pipeline)."""
        if client is not None:
            return await self._script(keys=keys, args=args, client=client)
        try:
            return await self._redis.execute_command(  # type: ignore[no-untyped-call]
                "EVALSHA", self.sha, len(keys), *keys, *args
            )
        except NoScriptError:
            return await self._script(keys=keys, args=args)  # loads it, then runs it


class Scripts:
    """The core scripts, registered on one Redis client."""

    def __init__(self, redis: Redis) -> None:
        self.enqueue = FastScript(redis, compose(source("enqueue")))
        self.claim = FastScript(redis, compose(source("wf_lib"), source("claim")))  # dead letters fail runs
        self.finish = FastScript(redis, compose(source("finish")))
        self.renew = FastScript(redis, compose(source("renew")))
        self.release = FastScript(redis, compose(source("release")))
        self.abort = FastScript(redis, compose(source("abort")))


def register(redis: Redis, *parts: str) -> FastScript:
    """Register a script made of the core library and ``parts`` (for extensions)."""
    return FastScript(redis, compose(*parts))
