"""Lua scripts: loaded from ``aqueue/_lua``, with the shared library prepended, run by SHA."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from functools import cache
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from aqueue._redis.hooks import hook_source
from aqueue._redis.wire import Wire
from aqueue.extensions import LuaHooks

LUA_PACKAGE = "aqueue._redis.lua"


@cache
def source(name: str, package: str = LUA_PACKAGE) -> str:
    """Return the text of ``{name}.lua`` in ``package``."""
    return resources.files(package).joinpath(f"{name}.lua").read_text(encoding="utf-8")


def compose(*parts: str) -> str:
    """Join script sources; the core library (``lib.lua``) always comes first."""
    return "\n".join((source("lib"), *parts))


class FastScript:
    """A script called with a bare EVALSHA on the hot path; loaded on NOSCRIPT; pipelines supported.

    With a :class:`Wire` the call skips redis-py altogether; without one (TLS, Sentinel, a pool the
    caller passed in) it is a bare ``execute_command``, which skips ``Script.__call__`` (~20 µs).
    """

    def __init__(self, redis: Redis, text: str, wire: Wire | None = None) -> None:
        self._redis = redis
        self._wire = wire
        self._text = text
        self._script: AsyncScript = redis.register_script(text)
        self.sha = self._script.sha

    def __call__(
        self, keys: Sequence[Any] = (), args: Sequence[Any] = (), client: Any = None
    ) -> Awaitable[Any]:
        """Run the script with ``args`` (and ``keys``), or queue it on ``client`` (a pipeline)."""
        if client is None and self._wire is not None:
            return self._wire.evalsha(self.sha, self._text, keys, args)  # no extra coroutine on the hot path
        return self._redis_py(keys, args, client)

    async def _redis_py(self, keys: Sequence[Any], args: Sequence[Any], client: Any) -> Any:
        if client is not None:
            return await self._script(keys=keys, args=args, client=client)
        try:
            return await self._redis.execute_command(  # type: ignore[no-untyped-call]
                "EVALSHA", self.sha, len(keys), *keys, *args
            )
        except NoScriptError:
            return await self._script(keys=keys, args=args)  # loads it, then runs it


class Scripts:
    """The core scripts, registered on one Redis client (run over ``wire`` when given).

    ``hooks``: the worker's extensions' Lua, composed into the claim and finish scripts.
    """

    def __init__(self, redis: Redis, wire: Wire | None = None, hooks: Sequence[LuaHooks] = ()) -> None:
        def script(*parts: str) -> FastScript:
            return FastScript(redis, compose(*parts), wire)

        hooked = hook_source(hooks)
        self.enqueue = script(source("enqueue"))
        self.claim = script(hooked, source("claim"))
        self.finish = script(hooked, source("finish"))
        self.renew = script(source("renew"))
        self.release = script(source("release"))
        self.abort = script(source("abort"))


def register(redis: Redis, *parts: str, wire: Wire | None = None) -> FastScript:
    """Register a script made of the core library and ``parts`` (for extensions)."""
    return FastScript(redis, compose(*parts), wire)
