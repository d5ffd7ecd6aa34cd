"""The event loop aqueue runs on: uvloop where it installs (not on Windows), plain asyncio elsewhere."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

try:
    import uvloop
except ImportError:  # Windows, or a platform uvloop does not build on
    uvloop = None  # type: ignore[assignment]

__all__ = ["add_signal_handler", "remove_signal_handler", "run"]

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on uvloop if it is installed, else on asyncio's default loop."""
    if uvloop is not None:
        return uvloop.run(coro)
    return asyncio.run(coro)


def add_signal_handler(sig: signal.Signals, callback: Callable[[signal.Signals], None]) -> None:
    """Call ``callback(sig)`` on the running loop when ``sig`` arrives (Unix and Windows alike).

    Windows loops have no ``add_signal_handler``: there a plain ``signal.signal`` handler hands the
    call to the loop thread-safely.
    """
    loop = asyncio.get_running_loop()
    if sys.platform != "win32":
        loop.add_signal_handler(sig, callback, sig)
        return
    signal.signal(sig, lambda *_: loop.call_soon_threadsafe(callback, sig))


def remove_signal_handler(sig: signal.Signals) -> None:
    """Undo :func:`add_signal_handler` for ``sig``."""
    if sys.platform != "win32":
        asyncio.get_running_loop().remove_signal_handler(sig)
    else:
        signal.signal(sig, signal.SIG_DFL)
