"""Running a Lua script by SHA: what every transport does the same way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from redis.exceptions import NoScriptError

__all__ = ["ScriptArgs", "ScriptCall", "run_script", "run_waiting"]

ArgsT = TypeVar("ArgsT", bound="ScriptArgs")
ReplyT = TypeVar("ReplyT")
ArgsT_contra = TypeVar("ArgsT_contra", contravariant=True)
ReplyT_co = TypeVar("ReplyT_co", covariant=True)

#: Sends one command and returns (an awaitable of) its reply: ``Wire.call`` or redis-py's.
_Send = Callable[..., Awaitable[Any]]


class ScriptArgs(Protocol):
    """A script's arguments: ``argv()`` returns its ARGV (see :mod:`aqueue._redis.scripts`)."""

    def argv(self) -> list[Any]:
        """Return the script's ARGV: the fields in order, then the records' fields, record by record."""


class ScriptCall(Protocol[ArgsT_contra, ReplyT_co]):
    """What a transport needs of a script to run it (see :class:`aqueue._redis.scripts.Script`)."""

    @property
    def sha(self) -> str:
        """Return the SHA1 of the script's text."""

    @property
    def text(self) -> str:
        """Return the script's text (loaded on NOSCRIPT)."""

    def parse(self, args: ArgsT_contra, reply: Any) -> ReplyT_co:
        """Turn the script's raw reply (to ``args``) into its typed reply."""


async def run_script(
    send: _Send, script: ScriptCall[ArgsT, ReplyT], args: ArgsT, keys: Sequence[str] = ()
) -> ReplyT:
    """EVALSHA over ``send``; on NOSCRIPT, SCRIPT LOAD and retry once. The hot path's one coroutine.

    ``keys``: the script's KEYS, which it does not read; on a cluster one key routes the call.
    """
    argv = args.argv()
    try:
        reply = await send("EVALSHA", script.sha, len(keys), *keys, *argv)
    except NoScriptError:
        await send("SCRIPT", "LOAD", script.text)
        reply = await send("EVALSHA", script.sha, len(keys), *keys, *argv)
    return script.parse(args, reply)


async def run_waiting(
    send: _Send, script: ScriptCall[ArgsT, ReplyT], args: ArgsT, replicas: int, timeout_ms: int
) -> tuple[ReplyT, int]:
    """EVALSHA then WAIT, pipelined over ``send`` (one connection); on NOSCRIPT, load and retry once.

    Returns the parsed reply and how many replicas confirmed everything that connection wrote.
    """
    argv = args.argv()
    for attempt in range(2):
        ran = send("EVALSHA", script.sha, 0, *argv)
        waited = send("WAIT", replicas, timeout_ms, wait_s=timeout_ms / 1000)
        try:
            reply = await ran
        except NoScriptError:
            await waited
            if attempt:
                raise
            await send("SCRIPT", "LOAD", script.text)
            continue
        return script.parse(args, reply), int(await waited)
    raise AssertionError("unreachable")  # pragma: no cover
