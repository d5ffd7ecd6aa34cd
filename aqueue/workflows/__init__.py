"""Workflows: Celery-style canvas (signatures, chains, groups, chords, maps, DAGs) and its compiler.

Build a canvas with :func:`sig`, :func:`si`, :func:`chain` (or ``|``), :func:`group`,
:func:`chord` and :class:`Dag`; :func:`compile_workflow` turns it into an immutable
:class:`WorkflowGraph` that the Redis runtime executes as continuations.
"""

from aqueue.workflows._base import CanvasElement, Chain, chain, element_from_dict
from aqueue.workflows._compiler import compile_workflow
from aqueue.workflows._dag import Dag, DagFlow, DagNode, DagStep
from aqueue.workflows._failure import FailureInfo, failure_info
from aqueue.workflows._graph import Node, WorkflowGraph
from aqueue.workflows._group import Chord, Group, chord, group
from aqueue.workflows._options import TaskOptions
from aqueue.workflows._run import NodeStatus, WorkflowRun, WorkflowStatus, start_workflow
from aqueue.workflows._signature import Signature, si, sig
from aqueue.workflows._template import ListOf, Ref, Template, evaluate_template, template_parts

__all__ = [
    "CanvasElement",
    "Chain",
    "Chord",
    "Dag",
    "DagFlow",
    "DagNode",
    "DagStep",
    "FailureInfo",
    "Group",
    "ListOf",
    "Node",
    "NodeStatus",
    "Ref",
    "Signature",
    "TaskOptions",
    "Template",
    "WorkflowGraph",
    "WorkflowRun",
    "WorkflowStatus",
    "chain",
    "chord",
    "compile_workflow",
    "element_from_dict",
    "evaluate_template",
    "failure_info",
    "group",
    "si",
    "sig",
    "start_workflow",
    "template_parts",
]
