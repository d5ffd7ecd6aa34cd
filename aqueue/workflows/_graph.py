"""The compiled workflow: an immutable DAG of task nodes that a runtime executes as continuations.

Node ids are ``0..n-1`` in topological order (every parent id is smaller than its child's). When
a node finishes, the runtime stores its result, decrements each dependent's pending-parent
counter (initially ``node.pending``) and enqueues the dependents that reach 0, building each
one's input from :attr:`Node.input` (see :mod:`aqueue.workflows._template`). The workflow is
finished when every node in :attr:`WorkflowGraph.terminals` is; its value is
:attr:`WorkflowGraph.result` evaluated over the nodes' results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Self

from aqueue.workflows._options import TaskOptions
from aqueue.workflows._signature import Kind, Signature
from aqueue.workflows._template import Template, template_from_json, template_parts, template_to_json


@dataclass(frozen=True)
class Node:
    """One job of the workflow.

    ``input`` is what is prepended to ``args`` (for a map or starmap without ``items``: the
    items), or ``None`` when the node receives nothing (a root, an immutable signature, a map
    with static items). ``on_error`` is the nearest error callback (own, else the innermost
    enclosing element's); it is called with the failure info (see :mod:`.failure`).
    """

    id: int
    task: str
    kind: Kind
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    options: TaskOptions
    items: tuple[Any, ...] | None
    parents: tuple[int, ...]
    input: Template | None
    dependents: tuple[int, ...] = ()
    on_error: Signature | None = None

    @property
    def pending(self) -> int:
        """Return the initial pending-parent counter: the number of distinct parents."""
        return len(self.parents)

    def input_parts(self) -> list[str | int] | None:
        """Return :func:`template_parts` of the input, or ``None`` when there is no input."""
        return None if self.input is None else template_parts(self.input)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (given JSON-safe args), with ``pending`` and ``input_parts``."""
        data: dict[str, Any] = {"id": self.id, "task": self.task, "kind": self.kind, "args": list(self.args)}
        data |= {"kwargs": dict(self.kwargs), "options": self.options.to_dict(), "items": _items_json(self)}
        data |= {"parents": list(self.parents), "pending": self.pending, "dependents": list(self.dependents)}
        data["input"] = None if self.input is None else template_to_json(self.input)
        data["input_parts"] = self.input_parts()
        data["on_error"] = None if self.on_error is None else self.on_error.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a node from :meth:`to_dict` output (derived keys are ignored)."""
        items = data["items"]
        return cls(
            data["id"],
            data["task"],
            data["kind"],
            tuple(data["args"]),
            MappingProxyType(dict(data["kwargs"])),
            TaskOptions.from_dict(data["options"]),
            None if items is None else tuple(tuple(i) if data["kind"] == "starmap" else i for i in items),
            tuple(data["parents"]),
            None if data["input"] is None else template_from_json(data["input"]),
            tuple(data["dependents"]),
            None if data["on_error"] is None else Signature.from_dict(data["on_error"]),
        )


def _items_json(node: Node) -> list[Any] | None:
    if node.items is None:
        return None
    return [list(i) for i in node.items] if node.kind == "starmap" else list(node.items)


@dataclass(frozen=True)
class WorkflowGraph:
    """A compiled workflow: nodes by id, roots, terminals, result template, workflow errback.

    ``roots`` (no parents) are enqueued when the run starts; ``terminals`` (no dependents) all
    finishing ends it. A graph may have no nodes (an empty group): its result is then constant.
    ``on_error`` is called once, with the failure info, when the workflow fails.
    """

    nodes: tuple[Node, ...]
    result: Template
    roots: tuple[int, ...]
    terminals: tuple[int, ...]
    on_error: Signature | None = None

    def result_parts(self) -> list[str | int]:
        """Return :func:`template_parts` of the result template."""
        return template_parts(self.result)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict of the whole graph (given JSON-safe args)."""
        return {
            "nodes": [node.to_dict() for node in self.nodes],
            "result": template_to_json(self.result),
            "result_parts": self.result_parts(),
            "roots": list(self.roots),
            "terminals": list(self.terminals),
            "on_error": None if self.on_error is None else self.on_error.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a graph from :meth:`to_dict` output."""
        handler = data["on_error"]
        return cls(
            tuple(Node.from_dict(node) for node in data["nodes"]),
            template_from_json(data["result"]),
            tuple(data["roots"]),
            tuple(data["terminals"]),
            None if handler is None else Signature.from_dict(handler),
        )


def assemble_graph(nodes: Sequence[Node], result: Template, on_error: Signature | None) -> WorkflowGraph:
    """Return the graph of ``nodes`` (ids ``0..n-1``, dependents unset), filling dependents."""
    children: dict[int, list[int]] = {node.id: [] for node in nodes}
    for node in nodes:
        for parent in node.parents:
            children[parent].append(node.id)
    linked = tuple(_with_dependents(node, tuple(children[node.id])) for node in nodes)
    roots = tuple(node.id for node in linked if not node.parents)
    terminals = tuple(node.id for node in linked if not node.dependents)
    return WorkflowGraph(linked, result, roots, terminals, on_error)


def _with_dependents(node: Node, dependents: tuple[int, ...]) -> Node:
    return replace(node, dependents=dependents) if dependents else node
