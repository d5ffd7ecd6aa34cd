"""The loop a process-pool child runs: receive a call, run the task, send back the encoded outcome.

A child is started by :mod:`aqueue._worker.procpool` (``forkserver`` where the platform has it, else
``spawn``) with the parent's ``sys.path`` and the job serializer pair. It imports each task by the
module path of its function, so only module-level functions of importable modules run here. Messages
are pickled by ``multiprocessing`` but carry only aqueue's own data; the task's arguments, its result
and its exception travel as bytes of the job serializer:

- parent to child: ``(module, qualname, ctx, payload)``, ``payload`` being ``{"a": args, "k": kwargs}``
  encoded; ``ctx`` a small mapping of plain values (job id, try, queue …);
- child to parent: ``("ok", result_bytes)``, ``("err", exception_bytes)`` (the exception encoded by the
  serializer, else pickled: ``("pickled", bytes)``), or ``("lost", type_name, message, traceback)``
  when neither can carry it.

The child ends when its pipe closes (the worker retired or stopped it, or the worker is gone).
"""

from __future__ import annotations

import faulthandler
import importlib
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from aqueue.errors import SerializationError

Codec = Callable[[Any], Any]


def serve(conn: Connection, sys_path: list[str], serializer: Codec, deserializer: Codec) -> None:
    """Run calls from ``conn`` until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the worker, which stops its children
    faulthandler.enable()  # a segfault prints the task's stack on the worker's stderr
    sys.path[:] = sys_path
    runner = _Runner(serializer, deserializer)
    while True:
        try:
            module, qualname, ctx, payload = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(runner.run(module, qualname, ctx, payload))


class _Runner:
    """Runs calls with the job serializer pair; remembers the functions it imported."""

    def __init__(self, serializer: Codec, deserializer: Codec) -> None:
        self.serializer, self.deserializer = serializer, deserializer
        self.functions: dict[tuple[str, str], Callable[..., Any]] = {}

    def run(self, module: str, qualname: str, ctx: dict[str, Any], payload: bytes) -> tuple[Any, ...]:
        """Run one call; return the message that reports its outcome."""
        try:
            func = self.functions.get((module, qualname)) or self._import(module, qualname)
            data = self.deserializer(payload)
            value = func(ctx, *data["a"], **data["k"])
        except BaseException as e:  # SystemExit and KeyboardInterrupt too: the attempt fails, the child lives
            return _failure(e, self.serializer)
        try:
            return ("ok", self.serializer(value))
        except Exception as e:
            problem = SerializationError(f"{qualname} returned a value that cannot be encoded: {e}")
            return _failure(problem, self.serializer)

    def _import(self, module: str, qualname: str) -> Callable[..., Any]:
        """Import ``module`` and find the task's function at ``qualname`` (a Task gives its ``func``)."""
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
        func = getattr(found, "func", found)
        if not callable(func):
            raise TypeError(f"{module}.{qualname} is not a function")
        self.functions[(module, qualname)] = func
        return func  # type: ignore[no-any-return]


def _failure(error: BaseException, serializer: Codec) -> tuple[Any, ...]:
    """Encode ``error`` with the job serializer, else pickle, else describe it in plain text."""
    text = "".join(traceback.format_exception(error))
    error.__aqueue_traceback__ = text  # type: ignore[attr-defined]
    try:
        return ("err", serializer(error))
    except Exception:
        pass
    try:
        encoded = pickle.dumps(error)
        pickle.loads(encoded)  # an exception class whose __init__ pickle cannot call fails here, not there
        return ("pickled", encoded)
    except Exception:
        return ("lost", type(error).__qualname__, str(error), text)
