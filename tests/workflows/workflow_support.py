"""Test helpers: a reference interpreter of canvas semantics, a graph runner, strategies."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from aqueue.workflows import (
    CanvasElement,
    Chain,
    Chord,
    Dag,
    DagFlow,
    Group,
    Signature,
    chain,
    chord,
    group,
    si,
    sig,
)
from aqueue.workflows._dag import DagNode
from aqueue.workflows._graph import Node, WorkflowGraph
from aqueue.workflows._template import evaluate_template

NOTHING = object()


def call(task: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """The fake task every test uses: it returns what it was called with."""
    return [task, *args, dict(kwargs)] if kwargs else [task, *args]


def apply_signature(s: Signature | Node, items: Any, prepended: Any) -> Any:
    """Run a signature or node as a worker would, given its items / prepended value."""
    if s.kind == "task":
        head = () if prepended is NOTHING else (prepended,)
        return call(s.task, (*head, *s.args), s.kwargs)
    if s.kind == "map":
        return [call(s.task, (item, *s.args), s.kwargs) for item in items]
    return [call(s.task, (*item, *s.args), s.kwargs) for item in items]


def reference(element: CanvasElement, incoming: Any = NOTHING) -> Any:
    """Celery semantics, evaluated directly on the canvas (no graph)."""
    if isinstance(element, Signature):
        return _reference_signature(element, incoming)
    if isinstance(element, Chain):
        value = reference(element.steps[0], incoming)
        for step in element.steps[1:]:
            value = reference(step, value)
        return value
    if isinstance(element, Group):
        return [reference(member, incoming) for member in element.members]
    if isinstance(element, Chord):
        return reference(element.body, reference(element.header, incoming))
    assert isinstance(element, DagFlow)
    return _reference_dag(element, incoming)


def _reference_signature(s: Signature, incoming: Any) -> Any:
    if s.items is not None:
        return apply_signature(s, s.items, NOTHING)
    if s.kind != "task":
        return apply_signature(s, incoming, NOTHING)
    return apply_signature(s, None, NOTHING if s.immutable else incoming)


def _links_value(links: Any, values: list[Any]) -> Any:
    if isinstance(links, int):
        return values[links]
    return [values[i] for i in links]


def _reference_dag(flow: DagFlow, incoming: Any) -> Any:
    values: list[Any] = []
    for step in flow.steps:
        given = incoming if step.after is None else _links_value(step.after, values)
        values.append(reference(step.element, given))
    return _links_value(flow.output, values)


def run_graph(graph: WorkflowGraph, rng: random.Random | None = None) -> Any:
    """Execute ``graph`` like the continuation runtime, in a random ready order.

    Checks on the way that a node runs only when all it references is done, that every node
    runs once, and that the workflow is complete exactly when all terminals are.
    """
    rng = rng or random.Random(0)
    pending = {node.id: node.pending for node in graph.nodes}
    ready = list(graph.roots)
    results: dict[int, Any] = {}
    while ready:
        node = graph.nodes[ready.pop(rng.randrange(len(ready)))]
        assert node.id not in results
        results[node.id] = _run_node(node, results)
        for child in node.dependents:
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    assert len(results) == len(graph.nodes)
    assert set(graph.terminals) <= set(results)
    return evaluate_template(graph.result, results)


def _run_node(node: Node, results: dict[int, Any]) -> Any:
    value = NOTHING if node.input is None else assemble(node.input_parts() or [], results)
    if node.kind == "task":
        return apply_signature(node, None, value)
    return apply_signature(node, node.items if node.items is not None else value, NOTHING)


def assemble(parts: list[str | int], results: Mapping[int, Any]) -> Any:
    """Build a value like the Lua runtime: concatenate literals and JSON-encoded results."""
    text = "".join(part if isinstance(part, str) else json.dumps(results[part]) for part in parts)
    return json.loads(text)


# ---------------------------------------------------------------- strategies

json_scalars = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=5)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
names = st.sampled_from(["a", "b", "c", "add"])
arg_lists = st.lists(json_values, max_size=2)
kwarg_maps = st.dictionaries(st.sampled_from(["x", "y"]), json_values, max_size=1)


@st.composite
def signatures(draw: st.DrawFn) -> Signature:
    """A signature of any kind; maps and starmaps carry items (they may sit anywhere)."""
    base = sig(draw(names), *draw(arg_lists), **draw(kwarg_maps))
    kind = draw(st.sampled_from(["task", "task", "immutable", "map", "starmap"]))
    if kind == "immutable":
        base = si(base.task, *base.args, **base.kwargs)
    elif kind == "map":
        base = base.map(draw(st.lists(json_values, max_size=3)))
    elif kind == "starmap":
        base = base.starmap(draw(st.lists(st.lists(json_values, max_size=2), max_size=3)))
    if draw(st.booleans()):
        base = base.set(queue=draw(st.sampled_from(["q1", "q2"])), max_tries=draw(st.integers(1, 5)))
    return base


@st.composite
def dags(draw: st.DrawFn, children: st.SearchStrategy[CanvasElement]) -> DagFlow:
    """A small DAG whose steps are drawn from ``children``."""
    dag = Dag()
    handles: list[DagNode] = []
    for _ in range(draw(st.integers(1, 4))):
        after: DagNode | list[DagNode] | None = None
        if draw(st.booleans()) and handles:
            picks = st.lists(st.sampled_from(handles), min_size=1, max_size=3, unique_by=lambda h: h.index)
            chosen = draw(picks)
            single = len(chosen) == 1 and draw(st.booleans())
            after = chosen[0] if single else chosen
        handles.append(dag.add(draw(children), after=after))
    output = draw(st.sampled_from(handles)) if draw(st.booleans()) else None
    return dag.build(output=output)


def _composites(children: st.SearchStrategy[CanvasElement]) -> st.SearchStrategy[CanvasElement]:
    return st.one_of(
        st.lists(children, min_size=1, max_size=3).map(chain),
        st.lists(children, max_size=3).map(group),
        st.tuples(st.lists(children, max_size=3), children).map(lambda hb: chord(hb[0], hb[1])),
        dags(children),
    )


def _with_errback(element: CanvasElement, handler: Signature | None) -> CanvasElement:
    return element if handler is None else element.on_error(handler)


def canvases(max_depth: int = 4) -> st.SearchStrategy[CanvasElement]:
    """Random nested canvases of depth at most ``max_depth``."""
    handlers = st.none() | st.none() | st.none() | st.builds(sig, st.sampled_from(["fail1", "fail2"]))
    strategy: st.SearchStrategy[CanvasElement] = st.builds(_with_errback, signatures(), handlers)
    for _ in range(max_depth - 1):
        strategy = st.builds(_with_errback, signatures() | _composites(strategy), handlers)
    return strategy


def node_ancestors(graph: WorkflowGraph) -> list[set[int]]:
    """Return, per node id, the set of its ancestors."""
    ancestors: list[set[int]] = []
    for node in graph.nodes:
        found: set[int] = set(node.parents)
        for parent in node.parents:
            found |= ancestors[parent]
        ancestors.append(found)
    return ancestors
