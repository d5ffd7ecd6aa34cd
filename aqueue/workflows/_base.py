"""The root of the canvas: every element's shared behaviour, and the chain that ``|`` builds.

Each element type registers a tag (``"sig"``, ``"chain"``, ``"group"``, ``"chord"``, ``"dag"``)
by subclassing :class:`CanvasElement` with ``tag=...``; :func:`element_from_dict` dispatches on it.
The chain lives here because ``a | b`` must be able to build one from any two elements.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Self, cast

from aqueue.client import Client, default_client
from aqueue.errors import WorkflowError

if TYPE_CHECKING:
    from aqueue.workflows._run import WorkflowRun
    from aqueue.workflows._signature import Signature

#: Starts a workflow on a client (``_run.start_workflow``, which needs the compiler, which needs the
#: element types defined here): set once by ``aqueue/workflows/__init__``.
Starter = Callable[..., Awaitable["WorkflowRun"]]
_STARTER: list[Starter] = []
_ELEMENT_TYPES: dict[str, type[CanvasElement]] = {}
_REPR_LIMIT = 80


@dataclass(frozen=True)
class CanvasElement:
    """Base of every canvas element: pipe with ``|``, attach an error callback, dict round trip."""

    tag: ClassVar[str]
    errback: Signature | None = field(default=None, kw_only=True)

    def __init_subclass__(cls, tag: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if tag is not None:
            cls.tag = tag
            _ELEMENT_TYPES[tag] = cls

    def __or__(self, other: object) -> Chain:
        """Return ``chain(self, other)``: ``other`` runs after ``self`` and receives its result."""
        if not isinstance(other, CanvasElement):
            return NotImplemented
        return chain(self, other)

    def on_error(self, handler: Signature) -> Self:
        """Return a copy whose failing nodes call ``handler`` with the failure info (nearest wins)."""
        return replace(self, errback=as_signature(handler, "on_error handler"))

    async def enqueue(self, client: Client | None = None, **options: Any) -> WorkflowRun:
        """Start this workflow (default client unless ``client``) and return its run handle.

        ``options``: ``run_id``, ``queue_name``, ``on_error`` (workflow-level), ``ttl``.
        """
        (start,) = _STARTER
        return await start(client or await default_client(), self, **options)

    def to_dict(self) -> dict[str, Any]:
        """Return a tagged, JSON-safe dict (given JSON-safe arguments); see :func:`element_from_dict`."""
        data: dict[str, Any] = {"type": self.tag, **self._body_to_dict()}
        if self.errback is not None:
            data["on_error"] = self.errback.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild an element of this class from :meth:`to_dict` output."""
        element = element_from_dict(data)
        if not isinstance(element, cls):
            raise WorkflowError(f"expected a {cls.__name__} dict, got type {data.get('type')!r}")
        return element

    def _errback_repr(self) -> str:
        return "" if self.errback is None else f".on_error({self.errback!r})"

    def _body_to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _body_from_dict(cls, data: Mapping[str, Any]) -> Self:
        raise NotImplementedError


def element_from_dict(data: Mapping[str, Any]) -> CanvasElement:
    """Rebuild any canvas element from the tagged dict made by its ``to_dict()``."""
    if not isinstance(data, Mapping):
        raise WorkflowError(f"a canvas dict must be a mapping, not {describe(data)}")
    tag = data.get("type")
    element_type = _ELEMENT_TYPES.get(tag) if isinstance(tag, str) else None
    if element_type is None:
        raise WorkflowError(f"unknown canvas element type {tag!r}")
    element = element_type._body_from_dict(data)
    handler = data.get("on_error")
    if handler is None:
        return element
    return element.on_error(as_signature(element_from_dict(handler), "on_error handler"))


def describe(item: object) -> str:
    """Return a short ``repr`` of ``item`` with its type name, for error messages."""
    text = repr(item)
    if len(text) > _REPR_LIMIT:
        text = text[: _REPR_LIMIT - 3] + "..."
    return f"{text} ({type(item).__name__})"


def as_signature(item: object, what: str) -> Signature:
    """Return ``item`` if it is a Signature, else raise a WorkflowError naming ``what``."""
    signature_type = _ELEMENT_TYPES["sig"]
    if not isinstance(item, signature_type):
        raise WorkflowError(f"{what} must be a signature, not {describe(item)}")
    return cast("Signature", item)


def collect_elements(items: tuple[Any, ...], what: str) -> tuple[CanvasElement, ...]:
    """Materialise ``f(a, b)`` or ``f(iterable)`` arguments into validated canvas elements."""
    if len(items) == 1 and not isinstance(items[0], CanvasElement):
        if not isinstance(items[0], Iterable) or isinstance(items[0], str | bytes):
            raise WorkflowError(
                f"{what} takes canvas elements or one iterable of them, not {describe(items[0])}"
            )
        items = tuple(items[0])
    return check_elements(items, what)


def check_elements(items: tuple[Any, ...], what: str) -> tuple[CanvasElement, ...]:
    """Return ``items`` if each is a canvas element, else raise naming the first offender."""
    for index, item in enumerate(items):
        if not isinstance(item, CanvasElement):
            raise WorkflowError(f"{what} item {index} is not a canvas element: {describe(item)}")
    return items


@dataclass(frozen=True, repr=False)
class Chain(CanvasElement, tag="chain"):
    """Steps run one after another; each step's result is prepended to the next step's args."""

    steps: tuple[CanvasElement, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", check_elements(tuple(self.steps), "chain"))
        if not self.steps:
            raise WorkflowError("a chain needs at least one step")

    def __repr__(self) -> str:
        """Return ``chain(a, b, ...)``-style text."""
        return f"chain({', '.join(map(repr, self.steps))}){self._errback_repr()}"

    def _body_to_dict(self) -> dict[str, Any]:
        return {"steps": [step.to_dict() for step in self.steps]}

    @classmethod
    def _body_from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(tuple(element_from_dict(step) for step in data["steps"]))


def chain(*steps: Any) -> Chain:
    """Return a chain of ``steps`` (given as arguments or as one iterable).

    Nested chains without their own error callback are flattened, which changes nothing
    about what runs: ``a | b | c`` is ``Chain((a, b, c))``.
    """
    elements = collect_elements(steps, "chain")
    return Chain(tuple(itertools.chain.from_iterable(_flattened(element) for element in elements)))


def _flattened(element: CanvasElement) -> tuple[CanvasElement, ...]:
    if isinstance(element, Chain) and element.errback is None:
        return element.steps
    return (element,)


def use_starter(start: Starter) -> None:
    """Set how :meth:`CanvasElement.enqueue` starts a workflow (once, from the package's ``__init__``)."""
    _STARTER[:] = [start]
