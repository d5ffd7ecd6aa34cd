"""How producers name tasks: a name, a task, an arq ``Function`` or a plain function (no task code needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from aqueue.errors import ConfigurationError

__all__ = ["Named", "TaskRef", "task_name"]


class Named(Protocol):
    """Anything with a task ``name``: aqueue's ``Task``, arq's ``Function``."""

    @property
    def name(self) -> str:
        """Return the name producers address the task by."""
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
