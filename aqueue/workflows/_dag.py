"""General DAGs: steps with any number of parents, for shapes chains and chords cannot say.

::

    dag = Dag()
    a = dag.add(sig("fetch", "x"))
    b = dag.add(sig("parse"), after=a)          # b receives result_a (a single handle: the value)
    c = dag.add(sig("stats"), after=a)
    d = dag.add(sig("store"), after=[b, c])     # d receives [result_b, result_c] (a list: a list)
    flow = dag.build(output=d)                  # an immutable canvas element

The shape of ``after`` is the shape of what the step receives, prepended to its own args:
one handle gives that step's result, a list of handles gives the list of their results (like a
chord callback). A step without ``after`` is a root of the DAG: it receives what the DAG
itself receives (like a group member) when the DAG follows another step. Any canvas element
can be a step. The DAG's result is its ``output`` (a handle, or a list of handles; by default
the last step added); it is finished when all its sinks are.

:class:`Dag` is a builder (the only mutable object of the canvas); :meth:`Dag.build` returns the
immutable :class:`DagFlow`, which composes, compiles and round-trips like any element.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

from aqueue.errors import WorkflowError
from aqueue.workflows._base import CanvasElement, check_elements, describe, element_from_dict

Links = int | tuple[int, ...]


@dataclass(frozen=True)
class DagStep:
    """One step of a DAG: an element and the earlier steps (by index) it runs after."""

    element: CanvasElement
    after: Links | None = None

    def parents(self) -> tuple[int, ...]:
        """Return the indexes this step runs after, as a tuple (empty for a root)."""
        return () if self.after is None else links_tuple(self.after)


def links_tuple(links: Links) -> tuple[int, ...]:
    """Return ``links`` as a tuple of indexes (one index becomes a 1-tuple)."""
    return (links,) if isinstance(links, int) else links


@dataclass(frozen=True)
class DagFlow(CanvasElement, tag="dag"):
    """An immutable DAG of steps; build it with :class:`Dag`."""

    steps: tuple[DagStep, ...]
    output: Links

    def __post_init__(self) -> None:
        if not self.steps:
            raise WorkflowError("a DAG needs at least one step")
        check_elements(tuple(step.element for step in self.steps), "DAG")
        for index, step in enumerate(self.steps):
            _check_links(step.parents(), index, f"DAG step {index} 'after'")
        _check_links(links_tuple(self.output), len(self.steps), "DAG output")

    def sinks(self) -> tuple[int, ...]:
        """Return the indexes of the steps that no other step runs after."""
        used = {parent for step in self.steps for parent in step.parents()}
        return tuple(index for index in range(len(self.steps)) if index not in used)

    def _body_to_dict(self) -> dict[str, Any]:
        steps = [{"element": s.element.to_dict(), "after": _links_json(s.after)} for s in self.steps]
        return {"steps": steps, "output": _links_json(self.output)}

    @classmethod
    def _body_from_dict(cls, data: Mapping[str, Any]) -> Self:
        steps = (
            DagStep(element_from_dict(s["element"]), _links_from_json(s["after"])) for s in data["steps"]
        )
        output = _links_from_json(data["output"])
        if output is None:
            raise WorkflowError("a DAG dict needs an output")
        return cls(tuple(steps), output)


def _check_links(links: tuple[int, ...], limit: int, what: str) -> None:
    for link in links:
        if not isinstance(link, int) or isinstance(link, bool) or not 0 <= link < limit:
            raise WorkflowError(f"{what} must name earlier steps (0..{limit - 1}), not {describe(link)}")


def _links_json(links: Links | None) -> int | list[int] | None:
    return list(links) if isinstance(links, tuple) else links


def _links_from_json(links: Any) -> Links | None:
    return tuple(links) if isinstance(links, list) else links


@dataclass(frozen=True)
class DagNode:
    """A handle on a step added to a :class:`Dag`; pass it in another step's ``after``."""

    index: int
    owner: object = field(compare=False, repr=False)


class Dag:
    """Builder of a :class:`DagFlow`: add steps in order, each after earlier ones, then build."""

    def __init__(self) -> None:
        self._steps: tuple[DagStep, ...] = ()

    def add(self, element: CanvasElement, after: DagNode | Sequence[DagNode] | None = None) -> DagNode:
        """Add ``element`` as a step after ``after`` (see the module doc for what it receives)."""
        check_elements((element,), "DAG step")
        links = None if after is None else self._links(after, "after")
        self._steps = (*self._steps, DagStep(element, links))
        return DagNode(len(self._steps) - 1, self)

    def build(self, output: DagNode | Sequence[DagNode] | None = None) -> DagFlow:
        """Return the immutable DAG; its result is ``output`` (default: the last step added)."""
        if not self._steps:
            raise WorkflowError("a DAG needs at least one step")
        links = len(self._steps) - 1 if output is None else self._links(output, "output")
        return DagFlow(self._steps, links)

    def _links(self, nodes: DagNode | Sequence[DagNode], what: str) -> Links:
        if isinstance(nodes, DagNode):
            return self._index(nodes, what)
        if not isinstance(nodes, Sequence) or isinstance(nodes, str):
            raise WorkflowError(f"DAG {what} must be a step handle or a list of them, not {describe(nodes)}")
        return tuple(self._index(node, what) for node in nodes)

    def _index(self, node: object, what: str) -> int:
        if not isinstance(node, DagNode) or node.owner is not self:
            raise WorkflowError(
                f"DAG {what} must hold handles returned by this Dag's add(), not {describe(node)}"
            )
        return node.index
