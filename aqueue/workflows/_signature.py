"""Signatures: a task named by string, with its arguments and options, and no task code.

A signature is the leaf of every canvas. Its ``kind`` says how the job applies the task:

* ``"task"``: one call, ``task(*prepended, *args, **kwargs)``;
* ``"map"``: one job, ``[task(item, *args, **kwargs) for item in items]`` (Celery's ``map``);
* ``"starmap"``: one job, ``[task(*item, *args, **kwargs) for item in items]``.

A map or starmap given no items takes the previous step's result as its items; one given items
ignores the previous step's result (it still waits for that step).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal, Self, get_args

from aqueue.errors import WorkflowError
from aqueue.workflows._base import CanvasElement, describe
from aqueue.workflows._group import Group
from aqueue.workflows._options import TaskOptions

Kind = Literal["task", "map", "starmap"]
_KINDS: tuple[str, ...] = get_args(Kind)


@dataclass(frozen=True, repr=False)
class Signature(CanvasElement, tag="sig"):
    """One task call, by name: ``sig("add", 1, 2)``. Build it with :func:`sig` or :func:`si`."""

    task: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    options: TaskOptions = field(default_factory=TaskOptions)
    immutable: bool = False
    kind: Kind = "task"
    items: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.task, str) or not self.task:
            raise WorkflowError(f"a task name must be a non-empty string, not {describe(self.task)}")
        if self.kind not in _KINDS:
            raise WorkflowError(f"unknown signature kind {self.kind!r}; known: {list(_KINDS)}")
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))
        object.__setattr__(self, "items", _normal_items(self.kind, self.items))

    def __repr__(self) -> str:
        """Return ``sig('add', 1, x=2)``-style text, with ``.map([...])`` etc. when relevant."""
        words = [repr(self.task), *map(repr, self.args), *(f"{k}={v!r}" for k, v in self.kwargs.items())]
        text = f"{'si' if self.immutable else 'sig'}({', '.join(words)})"
        if self.kind != "task":
            text += f".{self.kind}({'' if self.items is None else list(self.items)!r})"
        return text + self._errback_repr()

    def set(self, *, immutable: bool | None = None, **options: Any) -> Self:
        """Return a copy with options changed (``queue``, ``timeout``, ``max_tries``) or immutability."""
        changed = replace(self, options=self.options.merged(**options))
        return changed if immutable is None else replace(changed, immutable=bool(immutable))

    def map(self, items: Iterable[Any] | None = None) -> Self:
        """Return a one-job map of this task over ``items`` (or over the previous step's result)."""
        return self._as_kind("map", items)

    def starmap(self, items: Iterable[Iterable[Any]] | None = None) -> Self:
        """Return a one-job starmap: ``task(*item)`` for each item (or over the previous result)."""
        return self._as_kind("starmap", items)

    def chunks(self, items: Iterable[Iterable[Any]], size: int) -> Group:
        """Return a group of starmap jobs of ``size`` items each (the last may be shorter)."""
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise WorkflowError(f"chunk size must be an integer >= 1, not {describe(size)}")
        every = self._as_kind("starmap", items).items or ()
        parts = (every[start : start + size] for start in range(0, len(every), size))
        return Group(tuple(replace(self, kind="starmap", items=part) for part in parts))

    def _as_kind(self, kind: Kind, items: Iterable[Any] | None) -> Self:
        if self.kind != "task":
            raise WorkflowError(f"{self!r} is already a {self.kind}; build {kind} from a plain signature")
        return replace(self, kind=kind, items=None if items is None else tuple(items))

    def _body_to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"task": self.task, "args": list(self.args), "kwargs": dict(self.kwargs)}
        data |= {"options": self.options.to_dict(), "immutable": self.immutable, "kind": self.kind}
        if self.items is not None:
            data["items"] = [list(i) for i in self.items] if self.kind == "starmap" else list(self.items)
        return data

    @classmethod
    def _body_from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            data["task"],
            tuple(data.get("args", ())),
            data.get("kwargs", {}),
            TaskOptions.from_dict(data.get("options", {})),
            bool(data.get("immutable", False)),
            data.get("kind", "task"),
            data.get("items"),
        )


def _normal_items(kind: str, items: Iterable[Any] | None) -> tuple[Any, ...] | None:
    if items is None:
        return None
    if kind == "task":
        raise WorkflowError("only a map or starmap signature has items")
    if kind == "map":
        return tuple(items)
    return tuple(_star_item(index, item) for index, item in enumerate(items))


def _star_item(index: int, item: Any) -> tuple[Any, ...]:
    if not isinstance(item, Iterable) or isinstance(item, str | bytes | Mapping):
        raise WorkflowError(f"starmap item {index} must be a sequence of arguments, not {describe(item)}")
    return tuple(item)


def sig(task: str, /, *args: Any, **kwargs: Any) -> Signature:
    """Return a signature of the task named ``task``: the previous step's result is prepended."""
    return Signature(task, args, kwargs)


def si(task: str, /, *args: Any, **kwargs: Any) -> Signature:
    """Return an immutable signature: it ignores the previous step's result (but runs after it)."""
    return Signature(task, args, kwargs, immutable=True)
