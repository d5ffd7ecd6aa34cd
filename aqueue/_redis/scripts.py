"""Typed Lua scripts: the generic machinery, written once.

A script is a ``.lua`` file run with the core library (``lib.lua``) and the libraries it names
prepended. Its Python wrapper is a :class:`Script` subclass that names the file and binds two types:
its arguments (a ``NamedTuple`` whose fields, in order, are the script's ARGV, and whose ``argv()``
flattens them, repeated records last) and its reply (what ``parse`` makes of the raw one). Call sites
build the arguments by name and get the typed reply::

    reply = await scripts.get(Claim)(ClaimArgs(prefix=..., queue=..., ...))

Each ``.lua`` file states its KEYS, ARGV and reply in its header, in the wrapper's names;
``tests/test_scripts.py`` checks every file has a wrapper and that both sides agree.

A :class:`ScriptRegistry` binds scripts to one transport, each once; a worker's registry also
composes its extensions' Lua (:class:`~aqueue.extensions.LuaHooks`) into the core claim and finish
scripts, which name :data:`EXTENSIONS` among their libraries. Redis loads a script once per server
(on the first NOSCRIPT).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Sequence
from functools import cache
from importlib import resources
from typing import Any, ClassVar, Generic, TypeVar, cast

from redis.asyncio.client import Pipeline

from aqueue._redis.hooks import hook_declarations, hook_source
from aqueue._redis.replication import Replication
from aqueue._redis.shake import shaken
from aqueue._redis.transport import ScriptArgs, Transport
from aqueue.extensions import LuaHooks

__all__ = ["EXTENSIONS", "LUA_PACKAGE", "Script", "ScriptArgs", "ScriptRegistry", "compose", "source"]

LUA_PACKAGE = "aqueue._redis.lua"
#: In ``Script.libraries``: where the worker's extensions' Lua goes (their libraries, then the hook
#: dispatchers ``aq_hook_dead``/``aq_hook_finish``; see :mod:`aqueue._redis.hooks`), composed from
#: the :class:`LuaHooks` its registry was given.
EXTENSIONS = ("aqueue._redis.hooks", "<extensions>")


ArgsT = TypeVar("ArgsT", bound=ScriptArgs)
ReplyT = TypeVar("ReplyT")
ScriptT = TypeVar("ScriptT", bound="Script[Any, Any]")


@cache
def source(name: str, package: str = LUA_PACKAGE) -> str:
    """Return the text of ``{name}.lua`` in ``package``."""
    return resources.files(package).joinpath(f"{name}.lua").read_text(encoding="utf-8")


def compose(*parts: str) -> str:
    """Join script sources; the core library (``lib.lua``) always comes first."""
    return "\n".join((source("lib"), *parts))


class Script(Generic[ArgsT, ReplyT]):
    """One Lua script bound to a transport: ``await script(args)`` runs it and returns its reply.

    A subclass sets ``name`` (its ``.lua`` file), ``package`` (where that file is) and ``libraries``
    (``(package, name)`` of the Lua libraries it needs after ``lib.lua``; :data:`EXTENSIONS` among
    them places the extensions' Lua ``hooks`` there), and implements ``parse``.
    """

    name: ClassVar[str]
    package: ClassVar[str] = LUA_PACKAGE
    libraries: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: The script records outcomes: with a worker's ``min_replicas`` it waits for the replicas.
    records_outcomes: ClassVar[bool] = False

    def __init__(
        self, transport: Transport, hooks: Sequence[LuaHooks] = (), replication: Replication | None = None
    ) -> None:
        self.transport = transport
        self.text = self.source_text(hooks)
        self.sha = _sha(self.text)
        self.replication = replication if self.records_outcomes else None

    @classmethod
    def source_text(cls, hooks: Sequence[LuaHooks] = ()) -> str:
        """Return the script's full text: ``lib.lua``, its libraries, then its own file.

        The library functions the script never reaches are left out (:func:`~aqueue._redis.shake.shaken`).

        ``hooks`` fill in :data:`EXTENSIONS` (with none, its dispatchers do nothing); a script that
        names it declares the dispatchers first, so its libraries (before them) may call them too.
        """
        libraries = [
            hook_source(hooks) if library == EXTENSIONS else source(library[1], library[0])
            for library in cls.libraries
        ]
        if EXTENSIONS in cls.libraries:  # every library may call the dispatchers, defined later
            libraries.insert(0, hook_declarations())
        own = source(cls.name, cls.package)
        return shaken(compose(*libraries), own) + "\n" + own

    def __call__(self, args: ArgsT) -> Awaitable[ReplyT]:
        """Run the script with ``args``; the awaitable gives the parsed reply."""
        if self.replication is not None:
            return self.replication.run(self, args)
        return self.transport.run(self, args)  # the transport's coroutine, nothing wrapped around it

    def parse(self, args: ArgsT, reply: Any) -> ReplyT:
        """Turn the raw reply to ``args`` into the typed reply."""
        raise NotImplementedError

    async def queue_on(self, pipe: Pipeline, args: ArgsT) -> None:
        """Queue the script on a redis-py pipeline (loaded, if need be, when the pipeline runs)."""
        await pipe.register_script(self.text)(args=args.argv(), client=pipe)


@cache
def _sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


class ScriptRegistry:
    """The scripts of one transport, each bound once, on first use: ``registry.get(Claim)``.

    ``hooks`` are a worker's extensions' Lua, composed into the scripts that name
    :data:`EXTENSIONS` (the core claim and finish scripts); ``replication`` (a worker's
    ``min_replicas``) makes the scripts that record outcomes wait for replicas.
    """

    def __init__(
        self, transport: Transport, hooks: Sequence[LuaHooks] = (), replication: Replication | None = None
    ) -> None:
        self.transport = transport
        self.hooks = tuple(hooks)
        self.replication = replication
        self._bound: dict[type[Script[Any, Any]], Script[Any, Any]] = {}

    def get(self, kind: type[ScriptT]) -> ScriptT:
        """Return the script ``kind`` bound to this registry's transport."""
        script = self._bound.get(kind)
        if script is None:
            script = self._bound[kind] = kind(self.transport, self.hooks, self.replication)
        return cast(ScriptT, script)
