"""Tagged dict round trips of every element and of compiled graphs (JSON-safe)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from workflow_support import canvases

from aqueue.errors import WorkflowError
from aqueue.workflows import CanvasElement, Chain, Dag, Group, Signature, chain, chord, group, si, sig
from aqueue.workflows._base import element_from_dict
from aqueue.workflows._compiler import compile_workflow
from aqueue.workflows._graph import WorkflowGraph


def _diamond() -> CanvasElement:
    dag = Dag()
    a = dag.add(sig("a"))
    b = dag.add(sig("b"), after=a)
    c = dag.add(sig("c"), after=[a])
    dag.add(sig("d"), after=[b, c])
    return dag.build(output=[b, c]).on_error(sig("dag_failed"))


EXAMPLES: list[CanvasElement] = [
    sig("add", 1, [2, 3], x={"y": None}),
    si("add", 1).set(queue="fast", timeout=1.5, max_tries=3),
    sig("add", 10).map([1, 2, 3]),
    sig("add").map(),
    sig("add").starmap([(1, 2), (3, 4)]),
    sig("add").chunks(zip(range(10), range(10), strict=True), 3),
    sig("fetch", "a") | sig("parse") | sig("store", "d"),
    group(),
    group(sig("a"), group(sig("b"))).on_error(sig("cleanup", 1)),
    chord([sig("add", i, i) for i in range(3)], sig("add", [20])),
    chord([], group(sig("x"))),
    chain(sig("a"), chord([sig("b") | sig("c")], sig("d")).on_error(sig("e"))),
    _diamond(),
]


@pytest.mark.parametrize("element", EXAMPLES, ids=repr)
def test_round_trip_examples(element: CanvasElement) -> None:
    data = element.to_dict()
    assert element_from_dict(data) == element
    assert type(element).from_dict(json.loads(json.dumps(data))) == element


def test_dicts_are_tagged() -> None:
    assert sig("a", 1).to_dict() == {
        "type": "sig",
        "task": "a",
        "args": [1],
        "kwargs": {},
        "options": {},
        "immutable": False,
        "kind": "task",
    }
    tags = ["chain", "group", "group", "chord", "chord", "chain", "dag"]
    assert [e.to_dict()["type"] for e in EXAMPLES[6:]] == tags


def test_from_dict_errors() -> None:
    with pytest.raises(WorkflowError, match="unknown canvas element type 'nope'"):
        element_from_dict({"type": "nope"})
    with pytest.raises(WorkflowError, match="mapping"):
        element_from_dict([1])  # type: ignore[arg-type]
    with pytest.raises(WorkflowError, match="expected a Signature dict"):
        Signature.from_dict(group().to_dict())
    with pytest.raises(WorkflowError, match="at least one step"):
        Chain.from_dict({"type": "chain", "steps": []})
    assert Group.from_dict({"type": "group", "members": []}) == group()


@settings(max_examples=100, deadline=None)
@given(canvases())
def test_round_trip_random_canvases(element: CanvasElement) -> None:
    data = element.to_dict()
    assert element_from_dict(data) == element
    assert element_from_dict(json.loads(json.dumps(data))) == element


@settings(max_examples=100, deadline=None)
@given(canvases())
def test_graph_round_trip(element: CanvasElement) -> None:
    graph = compile_workflow(element, on_error=sig("whole"))
    data = json.loads(json.dumps(graph.to_dict()))
    assert WorkflowGraph.from_dict(data) == graph
    assert [n["pending"] for n in data["nodes"]] == [n.pending for n in graph.nodes]
