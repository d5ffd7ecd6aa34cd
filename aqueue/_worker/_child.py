"""The loop a process-pool child runs: receive a call, run the task, send back the encoded outcome.

A child is started by :mod:`aqueue._worker.procpool` (``forkserver`` where the platform has it, else
``spawn``) with the parent's ``sys.path`` and the job serializer pair. It imports each task by the
module name of its function (a module that the worker loaded from a file that ``sys.path`` does not reach
is loaded from the same file), so only module-level functions run here. Messages
are pickled by ``multiprocessing`` but carry only aqueue's own data; the task's arguments, its result
and its exception travel as bytes of the job serializer:

- parent to child: ``((module, qualname, module_file), ctx, payload)``, ``payload`` being
  ``{"a": args, "k": kwargs}`` encoded; ``ctx`` a small mapping of plain values (job id, try, queue …);
- child to parent: ``("ok", result_bytes)``, ``("err", exception_bytes)`` (the exception encoded by the
  serializer, else pickled: ``("pickled", bytes)``), or ``("lost", type_name, message, traceback)``
  when neither can carry it.

The child ends when its pipe closes (the worker retired or stopped it, or the worker is gone).
"""

from __future__ import annotations

import faulthandler
import importlib
import importlib.util
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import ModuleType
from typing import Any

from aqueue.errors import SerializationError

Codec = Callable[[Any], Any]
#: Where a task's function lives: its module's name, its qualified name, the module's file (or "").
Where = tuple[str, str, str]


def serve(conn: Connection, sys_path: list[str], serializer: Codec, deserializer: Codec) -> None:
    """Run calls from ``conn`` until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the worker, which stops its children
    faulthandler.enable()  # a segfault prints the task's stack on the worker's stderr
    sys.path[:] = sys_path
    runner = _Runner(serializer, deserializer)
    while True:
        try:
            where, ctx, payload = conn.recv()
        except (EOFError, OSError):
            return
        reply = runner.run(where, ctx, payload)
        try:
            conn.send(reply)
        except OSError:  # the worker is gone (killed while this call ran): nobody to tell
            return


class _Runner:
    """Runs calls with the job serializer pair; remembers the functions it imported."""

    def __init__(self, serializer: Codec, deserializer: Codec) -> None:
        self.serializer, self.deserializer = serializer, deserializer
        self.functions: dict[Where, Callable[..., Any]] = {}

    def run(self, where: Where, ctx: dict[str, Any], payload: bytes) -> tuple[Any, ...]:
        """Run one call; return the message that reports its outcome."""
        qualname = where[1]
        try:
            func = self.functions.get(where) or self._import(where)
            data = self.deserializer(payload)
            value = func(ctx, *data["a"], **data["k"])
        except BaseException as e:  # SystemExit and KeyboardInterrupt too: the attempt fails, the child lives
            return _failure(e, self.serializer)
        try:
            return ("ok", self.serializer(value))
        except Exception as e:
            problem = SerializationError(f"{qualname} returned a value that cannot be encoded: {e}")
            return _failure(problem, self.serializer)

    def _import(self, where: Where) -> Callable[..., Any]:
        """Import the task's module and find its function (a Task gives its ``func``)."""
        module, qualname, _ = where
        found: Any = _module(where)
        for part in qualname.split("."):
            found = getattr(found, part)
        func = getattr(found, "func", found)
        if not callable(func):
            raise TypeError(f"{module}.{qualname} is not a function")
        self.functions[where] = func
        return func  # type: ignore[no-any-return]


def _module(where: Where) -> ModuleType:
    """Import a module by name; one that ``sys.path`` does not reach is loaded from its file (as it was)."""
    module, _, path = where
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module or not path:
            raise
    spec = importlib.util.spec_from_file_location(module, path)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no module named {module!r} (nor a module file at {path})", name=module)
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[module] = loaded
    spec.loader.exec_module(loaded)
    return loaded


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
