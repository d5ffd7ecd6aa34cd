"""Running a Lua script by SHA: what every transport does the same way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

__all__ = [
    "ScriptArgs",
    "ScriptCall",
    "evalsha_waiting",
    "raise_errors",
    "run_script",
    "run_waiting",
    "with_wait",
]

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


async def with_wait(pool: Redis, command: tuple[Any, ...], replicas: int, timeout_ms: int) -> list[Any]:
    """Send ``command`` then ``WAIT replicas timeout_ms`` as one redis-py pipeline, so on one connection.

    Returns both raw replies, an error reply in its place (see :func:`raise_errors`).
    """
    async with pool.pipeline(transaction=False) as pipe:
        pipe.execute_command(*command)
        pipe.execute_command("WAIT", replicas, timeout_ms)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
    return replies


async def evalsha_waiting(
    pool: Redis, script: ScriptCall[Any, Any], argv: list[Any], replicas: int, timeout_ms: int
) -> tuple[Any, int]:
    """EVALSHA and a WAIT on one of ``pool``'s connections (:func:`with_wait`); on NOSCRIPT, load and again.

    Returns the script's raw reply and how many replicas confirmed it; raises an error reply.
    """
    command = ("EVALSHA", script.sha, 0, *argv)
    replies = await with_wait(pool, command, replicas, timeout_ms)
    if isinstance(replies[0], NoScriptError):
        await pool.script_load(script.text)
        replies = await with_wait(pool, command, replicas, timeout_ms)
    reply, acknowledged = raise_errors(replies)
    return reply, int(acknowledged)


def raise_errors(replies: list[Any]) -> list[Any]:
    """Return ``replies``, or raise the first error reply among them."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies
