"""The public surface named in the contract exists, and ``__all__`` lists exactly what is exported."""

from __future__ import annotations

import inspect

import aqueue
import aqueue.contrib.prometheus
import aqueue.extensions
import aqueue.scheduler
import aqueue.testing
import aqueue.workflows
from aqueue import JobStatus, task

PUBLIC_MODULES = (
    aqueue,
    aqueue.workflows,
    aqueue.scheduler,
    aqueue.extensions,
    aqueue.contrib.prometheus,
    aqueue.testing,
)


def test_all_lists_exactly_the_exported_names() -> None:
    for module in PUBLIC_MODULES:
        names = module.__all__
        assert len(names) == len(set(names)), module.__name__
        assert names == sorted(names), f"{module.__name__}.__all__ is not sorted"
        assert [n for n in names if n.startswith("_") and n != "__version__"] == [], module.__name__
        assert [n for n in names if not hasattr(module, n)] == [], module.__name__
        public = {n for n, v in vars(module).items() if not n.startswith("_") and not inspect.ismodule(v)}
        if not hasattr(module, "__path__"):  # a plain module: only what it defines, not what it imports
            public = {n for n in public if getattr(vars(module)[n], "__module__", None) == module.__name__}
        public -= {"annotations"}
        assert public - set(names) == set(), f"{module.__name__} exports names missing from __all__"


def test_contract_names() -> None:
    for name in (
        "enqueue",
        "Client",
        "JobStatus",
        "task",
        "cron",
        "Worker",
        "Retry",
        "RedisSettings",
        "job_serializer",
        "job_deserializer",
        "PickleSerializer",
        "AqueueError",
    ):
        assert name in aqueue.__all__, name
    for name in ("sig", "si", "chain", "group", "chord", "Dag", "start_workflow", "WorkflowRun"):
        assert name in aqueue.workflows.__all__, name
    assert {s.value for s in JobStatus} == {"deferred", "queued", "in_progress", "complete", "not_found"}
    assert aqueue.cron is aqueue.scheduler.cron


def test_task_surface() -> None:
    @task
    async def add(ctx: object, x: int, y: int) -> int:
        return x + y

    @task(name="math.add", timeout=30, max_tries=5, retry_backoff=True)
    async def named(ctx: object) -> None:
        return None

    assert add.name == "add" and named.name == "math.add"
    assert add.s(1, 2).task == "add" and not add.s(1, 2).immutable
    assert add.si(1, 2).immutable
    assert inspect.iscoroutinefunction(aqueue.enqueue)
    client_params = inspect.signature(aqueue.Client.enqueue).parameters
    for option in ("_job_id", "_queue_name", "_defer_until", "_defer_by", "_expires"):
        assert option in client_params


def test_internals_stay_out_of_the_public_surface() -> None:
    """What users never write (compiler, graph, templates, runners, slot maths) is not exported."""
    internals = {
        "aqueue.workflows": {
            "Node",
            "Ref",
            "Template",
            "ListOf",
            "compile_workflow",
            "WorkflowGraph",
            "template_parts",
            "evaluate_template",
            "element_from_dict",
            "failure_info",
        },
        "aqueue.scheduler": {
            "CronRunner",
            "Claim",
            "due_slots",
            "MAX_CATCHUP",
            "overlap_decision",
            "parse_expression",
            "check_unique_names",
            "resolve_zone",
        },
    }
    for module in (aqueue.workflows, aqueue.scheduler):
        assert internals[module.__name__] & set(module.__all__) == set(), module.__name__
        assert not any(hasattr(module, name) for name in internals[module.__name__]), module.__name__
