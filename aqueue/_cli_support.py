"""Shared pieces of the ``aqueue`` command line: one error handler, logging, running async actions.

The core commands and the layers' command groups (cron, workflow) all import from here, so no CLI
module imports another's commands.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from aqueue import _loop
from aqueue._redis.connection import RedisLike
from aqueue.client import Client
from aqueue.errors import AqueueError

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def friendly(func: F) -> F:
    """Turn aqueue errors into one line on stderr and exit code 1 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AqueueError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def run_async(coro: Any) -> Any:
    """Run a coroutine on uvloop where it is installed (plain asyncio elsewhere)."""
    return _loop.run(coro)


def with_client(redis: RedisLike, action: Callable[[Client], Awaitable[T]]) -> T:
    """Run ``action`` with a client on ``redis`` (URL, RedisSettings, or None for AQUEUE_REDIS_URL)."""

    async def main() -> T:
        async with Client(redis) as client:
            return await action(client)

    return run_async(main())  # type: ignore[no-any-return]
