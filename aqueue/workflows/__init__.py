"""Workflows: Celery-style canvas (signatures, chains, groups, chords, maps, DAGs) run as continuations.

Build a canvas with :func:`sig`, :func:`si`, :func:`chain` (or ``|``), :func:`group`,
:func:`chord` and :class:`Dag`; start it with ``await canvas.enqueue()`` or ``await client.run(canvas)``
and follow it with the :class:`WorkflowRun` handle.
"""

from aqueue.workflows import _base
from aqueue.workflows._base import CanvasElement, Chain, chain
from aqueue.workflows._dag import Dag, DagFlow, DagStep
from aqueue.workflows._failure import FailureInfo
from aqueue.workflows._group import Chord, Group, chord, group
from aqueue.workflows._options import TaskOptions
from aqueue.workflows._run import NodeState, NodeStatus, RunState, WorkflowRun, WorkflowStatus, start_workflow
from aqueue.workflows._signature import Signature, si, sig

_base.use_starter(start_workflow)

__all__ = [
    "CanvasElement",
    "Chain",
    "Chord",
    "Dag",
    "DagFlow",
    "DagStep",
    "FailureInfo",
    "Group",
    "NodeState",
    "NodeStatus",
    "RunState",
    "Signature",
    "TaskOptions",
    "WorkflowRun",
    "WorkflowStatus",
    "chain",
    "chord",
    "group",
    "si",
    "sig",
    "start_workflow",
]
