"""How producers name tasks: a name, a task, an arq ``Function`` or a plain function (no task code needed)."""

from __future__ import annotations

from collections.abc import Callable
from types import CodeType
from typing import Any, Protocol

from aqueue.errors import ConfigurationError

__all__ = ["Named", "PlainFunction", "TaskRef", "task_name"]


class Named(Protocol):
    """Anything with a task ``name``: aqueue's ``Task``, arq's ``Function``."""

    @property
    def name(self) -> str:
        """Return the name producers address the task by."""
        ...


class PlainFunction(Protocol):
    """A function object (``def``/``async def``), for type checkers: a ``Task`` is callable but no function.

    ``enqueue``'s untyped overloads take names, arq ``Function``s and plain functions; a ``Task`` has its
    own typed overloads and must not slip into the untyped ones when its arguments are wrong.
    """

    __code__: CodeType

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function."""
        ...


#: What ``enqueue`` accepts as its task.
TaskRef = str | Named | Callable[..., Any]


def task_name(obj: TaskRef) -> str:
    """Return the name a producer uses to address ``obj``."""
    if isinstance(obj, str):
        return obj
    name = getattr(obj, "name", None)
    if isinstance(name, str):
        return name
    if callable(obj) and isinstance(getattr(obj, "__name__", None), str):
        return obj.__name__
    raise ConfigurationError(f"a task must be a name, a task or a function, not {obj!r}")
