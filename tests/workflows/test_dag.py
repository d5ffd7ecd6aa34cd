"""The general DAG API: several parents per step, handles, outputs, composition."""

from __future__ import annotations

import pytest
from workflow_support import reference, run_graph

from aqueue.errors import WorkflowError
from aqueue.workflows import Dag, DagFlow, DagStep, group, sig
from aqueue.workflows._compiler import compile_workflow
from aqueue.workflows._template import ListOf, Ref


def diamond() -> DagFlow:
    dag = Dag()
    a = dag.add(sig("a"))
    b = dag.add(sig("b"), after=a)
    c = dag.add(sig("c", 1), after=a)
    dag.add(sig("d"), after=[b, c])
    return dag.build()


def test_diamond_compiles_to_four_nodes() -> None:
    graph = compile_workflow(diamond())
    assert [(n.task, n.parents, n.input) for n in graph.nodes] == [
        ("a", (), None),
        ("b", (0,), Ref(0)),
        ("c", (0,), Ref(0)),
        ("d", (1, 2), ListOf((Ref(1), Ref(2)))),
    ]
    assert [n.dependents for n in graph.nodes] == [(1, 2), (3,), (3,), ()]
    assert (graph.roots, graph.terminals, graph.result) == ((0,), (3,), Ref(3))
    assert run_graph(graph) == ["d", [["b", ["a"]], ["c", ["a"], 1]]]


def test_shape_of_after_is_shape_of_input() -> None:
    dag = Dag()
    a = dag.add(sig("a"))
    dag.add(sig("one"), after=[a])
    graph = compile_workflow(dag.build())
    assert graph.nodes[1].input == ListOf((Ref(0),))


def test_output_list_and_multiple_sinks() -> None:
    dag = Dag()
    a = dag.add(sig("a"))
    b = dag.add(sig("b"), after=a)
    c = dag.add(sig("c"), after=a)
    graph = compile_workflow(dag.build(output=[c, b]))
    assert graph.result == ListOf((Ref(2), Ref(1)))
    assert graph.terminals == (1, 2)


def test_default_output_is_last_step() -> None:
    dag = Dag()
    dag.add(sig("a"))
    dag.add(sig("b"))
    assert dag.build().output == 1


def test_dag_in_chain_roots_receive_input_and_next_waits_for_all_sinks() -> None:
    dag = Dag()
    a = dag.add(sig("a"))
    dag.add(sig("b"))
    dag.add(sig("c"), after=a)
    flow = dag.build()
    element = sig("start") | flow | sig("end")
    graph = compile_workflow(element)
    assert [(n.task, n.parents, n.input) for n in graph.nodes] == [
        ("start", (), None),
        ("a", (0,), Ref(0)),
        ("b", (0,), Ref(0)),
        ("c", (1,), Ref(1)),
        ("end", (2, 3), Ref(3)),
    ]
    assert run_graph(graph) == reference(element)


def test_composite_steps() -> None:
    dag = Dag()
    a = dag.add(group(sig("a1"), sig("a2")))
    b = dag.add(sig("b") | sig("b2"), after=a)
    dag.add(sig("d"), after=[a, b])
    flow = dag.build()
    graph = compile_workflow(flow)
    assert graph.nodes[2].input == ListOf((Ref(0), Ref(1)))
    assert graph.nodes[4].input == ListOf((ListOf((Ref(0), Ref(1))), Ref(3)))
    assert graph.nodes[4].parents == (0, 1, 3)
    assert run_graph(graph) == reference(flow)


def test_repeated_parent_counts_once() -> None:
    dag = Dag()
    a = dag.add(sig("a"))
    dag.add(sig("b"), after=[a, a])
    graph = compile_workflow(dag.build())
    assert graph.nodes[1].parents == (0,) and graph.nodes[1].pending == 1
    assert graph.nodes[1].input_parts() == ["[", 0, ",", 0, "]"]


def test_dag_validation() -> None:
    with pytest.raises(WorkflowError, match="at least one step"):
        Dag().build()
    other = Dag()
    foreign = other.add(sig("x"))
    dag = Dag()
    with pytest.raises(WorkflowError, match="handles returned by this Dag"):
        dag.add(sig("a"), after=foreign)
    with pytest.raises(WorkflowError, match="handle or a list"):
        dag.add(sig("a"), after=3)  # type: ignore[arg-type]
    with pytest.raises(WorkflowError, match="DAG step item 0"):
        dag.add("task")  # type: ignore[arg-type]
    with pytest.raises(WorkflowError, match="earlier steps"):
        DagFlow((DagStep(sig("a"), 0),), 0)
    with pytest.raises(WorkflowError, match="DAG output"):
        DagFlow((DagStep(sig("a")),), 1)
