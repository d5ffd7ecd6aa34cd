"""Templates, and properties of compiled random canvases (parts, semantics, invariants)."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from workflow_support import (
    assemble,
    canvases,
    json_scalars,
    json_values,
    node_ancestors,
    reference,
    run_graph,
)

from aqueue.errors import WorkflowError
from aqueue.serialization import job_deserializer, job_serializer
from aqueue.workflows import CanvasElement
from aqueue.workflows._compiler import compile_workflow
from aqueue.workflows._template import (
    ListOf,
    Ref,
    Template,
    evaluate_template,
    template_from_json,
    template_parts,
    template_refs,
    template_to_json,
)


def test_template_parts_examples() -> None:
    assert template_parts(Ref(4)) == [4]
    assert template_parts(ListOf(())) == ["[]"]
    assert template_parts(ListOf((Ref(1), Ref(2)))) == ["[", 1, ",", 2, "]"]
    nested = ListOf((ListOf((Ref(1),)), ListOf(()), Ref(2)))
    assert template_parts(nested) == ["[[", 1, "],[],", 2, "]"]


def test_evaluate_template() -> None:
    nested = ListOf((ListOf((Ref(1),)), ListOf(()), Ref(2)))
    assert evaluate_template(nested, {1: "x", 2: {"k": [1]}}) == [["x"], [], {"k": [1]}]


def test_template_json_form() -> None:
    nested = ListOf((ListOf((Ref(1),)), ListOf(()), Ref(2)))
    assert template_to_json(nested) == [[1], [], 2]
    assert template_from_json([[1], [], 2]) == nested
    with pytest.raises(WorkflowError, match="template"):
        template_from_json("x")


templates = st.recursive(
    st.integers(0, 5).map(Ref),
    lambda inner: st.lists(inner, max_size=4).map(lambda items: ListOf(tuple(items))),
    max_leaves=12,
)


@given(templates, st.lists(json_values, min_size=6, max_size=6))
def test_parts_concatenate_to_evaluated_json(template: Template, values: list[Any]) -> None:
    results = dict(enumerate(values))
    parts = template_parts(template)
    assert assemble(parts, results) == evaluate_template(template, results)
    assert [p for p in parts if isinstance(p, int)] == list(template_refs(template))
    assert not any(isinstance(a, str) and isinstance(b, str) for a, b in itertools.pairwise(parts))


@settings(max_examples=100, deadline=None)
@given(canvases(), st.data())
def test_random_canvas_parts_match_evaluation(element: CanvasElement, data: st.DataObject) -> None:
    graph = compile_workflow(element)
    results = {node.id: data.draw(json_values) for node in graph.nodes}
    for template in [graph.result, *(n.input for n in graph.nodes if n.input is not None)]:
        text = "".join(p if isinstance(p, str) else json.dumps(results[p]) for p in template_parts(template))
        assert json.loads(text) == evaluate_template(template, results)


@settings(max_examples=100, deadline=None)
@given(canvases(), st.randoms(use_true_random=False))
def test_random_canvas_graph_computes_canvas_semantics(element: CanvasElement, rng: random.Random) -> None:
    graph = compile_workflow(element)
    assert run_graph(graph, rng) == reference(element)


@settings(max_examples=100, deadline=None)
@given(canvases())
def test_random_canvas_graph_invariants(element: CanvasElement) -> None:
    graph = compile_workflow(element)
    ancestors = node_ancestors(graph)
    assert [n.id for n in graph.nodes] == list(range(len(graph.nodes)))
    for node in graph.nodes:
        assert all(parent < node.id for parent in node.parents)
        assert len(set(node.parents)) == node.pending == len(node.parents)
        if node.input is not None:
            assert set(template_refs(node.input)) <= ancestors[node.id]
    assert graph.roots == tuple(n.id for n in graph.nodes if not n.parents)
    assert graph.terminals == tuple(n.id for n in graph.nodes if not n.dependents)
    finished = set(graph.terminals).union(*(ancestors[t] for t in graph.terminals))
    assert finished == set(range(len(graph.nodes)))
    assert set(template_refs(graph.result)) <= finished


rich_values = st.recursive(
    json_scalars | st.integers() | st.binary(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3).map(tuple)
        | st.lists(inner, max_size=3)
        | st.dictionaries(st.integers(0, 9), inner, max_size=2)
        | st.frozensets(st.integers() | st.text(max_size=3), max_size=2)
    ),
    max_leaves=6,
)


@given(templates, st.lists(rich_values, min_size=6, max_size=6))
def test_parts_work_with_the_job_codec(template: Template, values: list[Any]) -> None:
    """The runtime concatenates results as encoded by aqueue's orjson codec (tagged JSON)."""
    results = dict(enumerate(values))
    encoded = {node: job_serializer(value).decode() for node, value in results.items()}
    text = "".join(p if isinstance(p, str) else encoded[p] for p in template_parts(template))
    assert job_deserializer(text.encode()) == evaluate_template(template, results)
