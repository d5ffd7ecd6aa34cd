"""Starting a workflow run and the producer's handle on it: result, status, cancel."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import orjson
from redis.exceptions import WatchError

from aqueue._clock import now_ms
from aqueue._redis.connection import text
from aqueue._redis.core import Enqueue, EnqueueArgs, EnqueueJob
from aqueue._redis.errors import redis_errors
from aqueue.errors import ResultNotFound, WorkflowCancelled, WorkflowError
from aqueue.jobs import wait_until
from aqueue.workflows._base import CanvasElement
from aqueue.workflows._compiler import compile_workflow
from aqueue.workflows._graph import WorkflowGraph
from aqueue.workflows._payload import dumps, errback_spec, node_spec, root_payload
from aqueue.workflows._scripts import WfCancel, WfCancelArgs
from aqueue.workflows._signature import Signature
from aqueue.workflows._template import template_parts

if TYPE_CHECKING:
    from aqueue.client import Client

__all__ = ["NodeState", "NodeStatus", "RunState", "WorkflowRun", "WorkflowStatus", "start_workflow"]

DEFAULT_TTL = timedelta(days=1)
SUFFIXES = ("", ":spec", ":pending", ":state", ":results", ":times", ":errors")


class NodeState(StrEnum):
    """Where one node of a run is; the values are what the workflow scripts store."""

    WAITING = "waiting"  # its parents have not all finished
    QUEUED = "queued"  # released: its job is queued (or deferred)
    RUNNING = "running"  # a worker holds its job's claim
    DONE = "done"  # finished; its result is stored in the run
    FAILED = "failed"  # failed (after its tries); the run failed with it
    CANCELLED = "cancelled"  # the run ended before it ran


class RunState(StrEnum):
    """A whole run's state."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """One node of a run: its task, state and, once it ran, timing, tries and error."""

    id: int
    task: str
    state: NodeState
    parents: tuple[int, ...]
    started_ms: int | None = None
    finished_ms: int | None = None
    tries: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class WorkflowStatus:
    """A run's overall state (running, complete, failed, cancelled) and its nodes' states."""

    run_id: str
    state: RunState
    nodes: tuple[NodeStatus, ...]
    started_ms: int | None
    finished_ms: int | None

    def counts(self) -> dict[str, int]:
        """Return how many nodes are in each state."""
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.state.value] = counts.get(node.state.value, 0) + 1
        return counts


class WorkflowRun:
    """A handle on one workflow run, by id; Redis failures raise :class:`aqueue.errors.RedisFailure`."""

    def __init__(self, run_id: str, client: Client, queue_key: str | None = None) -> None:
        self.run_id = run_id
        self._client = client
        #: The run's keys: the client's, but on Redis Cluster those of the run's queue (its slot).
        self._keys = client.keys_for(queue_key)

    def __repr__(self) -> str:
        return f"<aqueue.WorkflowRun {self.run_id}>"

    def key(self, suffix: str = "") -> str:
        """Return one of the run's Redis keys."""
        return self._keys.scoped("wf", self.run_id) + suffix

    async def _poll(self) -> tuple[str, Any] | None:
        fields: list[Any] = await self._client.redis.hmget(self.key(), ["state", "result", "error"])  # type: ignore[misc]
        state, result, error = fields
        if state is None:
            raise ResultNotFound(f"no workflow run {self.run_id} (never started, or expired)")
        if state == b"running":
            return None
        return text(state), (result, error)

    async def result(self, timeout: float | None = None) -> Any:
        """Wait for the run to end; return its final result or re-raise the failing node's error."""
        channel = self._keys.done_channel(f"wf:{self.run_id}")
        with redis_errors(self._client.address):  # the run's own failure is raised below, untranslated
            async with self._client.notifier.watch(channel) as event:
                what = f"workflow {self.run_id}"
                state, (result, error) = await wait_until(self._poll, event, timeout, what)
        if state == "complete":
            return self._client.job_deserializer(result)
        if state == "cancelled":
            raise WorkflowCancelled(f"workflow {self.run_id} was cancelled")
        failure = self._client.job_deserializer(error)
        if isinstance(failure, BaseException):
            raise failure
        raise WorkflowError(f"workflow {self.run_id} failed: {failure!r}")

    async def cancel(self) -> bool:
        """Cancel the run: pending nodes never start, running ones are aborted; False if it had ended."""
        cancel = self._client.scripts.get(WfCancel)
        args = WfCancelArgs(prefix=self._keys.prefix, run_id=self.run_id, now_ms=now_ms())
        with redis_errors(self._client.address):
            return await cancel(args)

    async def status(self) -> WorkflowStatus:
        """Return the run's state and every node's state, timing and error."""
        redis = self._client.redis
        with redis_errors(self._client.address):
            async with redis.pipeline(transaction=False) as pipe:
                for suffix in ("", ":spec", ":state", ":times", ":errors"):
                    pipe.hgetall(self.key(suffix))
                meta, specs, states, times, errors = await pipe.execute()
            running = await self._running_nodes(states)
        if not meta:
            raise ResultNotFound(f"no workflow run {self.run_id} (never started, or expired)")
        snapshot = _Snapshot(states, times, errors, running)
        nodes = tuple(
            snapshot.node(int(k), orjson.loads(v))
            for k, v in sorted(specs.items(), key=lambda kv: int(kv[0]))
        )
        return WorkflowStatus(
            self.run_id,
            RunState(text(meta[b"state"])),
            nodes,
            _int(meta.get(b"started_ms")),
            _int(meta.get(b"finished_ms")),
        )

    async def _running_nodes(self, states: dict[bytes, bytes]) -> set[int]:
        queued = [int(k) for k, v in states.items() if v == NodeState.QUEUED.encode()]
        if not queued:
            return set()
        async with self._client.redis.pipeline(transaction=False) as pipe:
            for node in queued:
                pipe.exists(self._keys.in_progress(f"{self.run_id}:{node}"))
            flags = await pipe.execute()
        return {node for node, flag in zip(queued, flags, strict=True) if flag}


def _int(value: bytes | None) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    states: dict[bytes, bytes]
    times: dict[bytes, bytes]
    errors: dict[bytes, bytes]
    running: set[int]

    def node(self, node: int, spec: dict[str, Any]) -> NodeStatus:
        key = str(node).encode()
        stored = text(self.states.get(key))
        state = NodeState.RUNNING if node in self.running else NodeState(stored or NodeState.WAITING)
        started = finished = tries = None
        if key in self.times:
            started, finished, tries = (int(x) for x in self.times[key].split(b","))
        return NodeStatus(
            node,
            spec["task"],
            state,
            tuple(spec["p"]),
            started,
            finished,
            tries,
            _error_text(self.errors.get(key)),
        )


def _error_text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    data = orjson.loads(raw)
    return f"{data.get('type', 'Error')}: {data.get('message', '')}" if isinstance(data, dict) else str(data)


@dataclass(frozen=True)
class _RunPlan:
    """Everything written when a run starts: meta, node specs, and the root jobs."""

    run: WorkflowRun
    graph: WorkflowGraph
    specs: list[dict[str, Any]]
    meta: dict[str, Any]
    now: int

    def write(self, pipe: Any) -> None:
        """Queue the run's state into a MULTI pipeline."""
        run, graph, meta = self.run, self.graph, self.meta
        if not graph.nodes:  # nothing to run: the result is constant
            meta |= {
                "state": "complete",
                "finished_ms": self.now,
                "result": "".join(map(str, template_parts(graph.result))),
            }
        pipe.hset(run.key(), mapping=meta)
        if not graph.nodes:
            for suffix in SUFFIXES:
                pipe.pexpire(run.key(suffix), meta["ttl_ms"])
            return
        pipe.hset(
            run.key(":spec"),
            mapping={str(n.id): dumps(s) for n, s in zip(graph.nodes, self.specs, strict=True)},
        )
        pipe.hset(
            run.key(":state"),
            mapping={str(n.id): NodeState.WAITING if n.parents else NodeState.QUEUED for n in graph.nodes},
        )
        pending = {str(n.id): n.pending for n in graph.nodes if n.parents}
        if pending:
            pipe.hset(run.key(":pending"), mapping=pending)

    def root_batches(self, prefix: str) -> list[EnqueueArgs]:
        """Return enqueue-script arguments, one per queue, for the run's root nodes."""
        batches: dict[str, list[EnqueueJob]] = {}
        for root in self.graph.roots:
            queue_key = self.specs[root]["q"]
            batches.setdefault(queue_key, []).append(
                EnqueueJob(
                    job_id=f"{self.run.run_id}:{root}",
                    payload=root_payload(self.specs[root], self.now),
                    score=self.now,
                    ttl_ms=0,  # no expiry: a node's job lives as long as its run
                )
            )
        return [
            EnqueueArgs(prefix=prefix, queue=queue, now_ms=self.now, check_ids=True, jobs=jobs)
            for queue, jobs in batches.items()
        ]


async def start_workflow(
    client: Client,
    workflow: CanvasElement | WorkflowGraph,
    *,
    run_id: str | None = None,
    queue_name: str | None = None,
    on_error: Signature | None = None,
    ttl: timedelta = DEFAULT_TTL,
) -> WorkflowRun:
    """Compile ``workflow``, store it in Redis and enqueue its roots, atomically; return the run handle.

    ``ttl`` is how long the run's state and results are kept after it ends (never before).
    A ``run_id`` whose run exists (running, or ended and not yet expired) is a WorkflowError.
    """
    graph = workflow if isinstance(workflow, WorkflowGraph) else compile_workflow(workflow, on_error=on_error)
    queue = client.queue_key(queue_name)
    plan = _plan(client, WorkflowRun(run_id or uuid.uuid4().hex, client, queue), graph, queue, ttl)
    taken = WorkflowError(f"a workflow run {plan.run.run_id} exists already; pick another run id")
    enqueue = client.scripts.get(Enqueue)
    with redis_errors(client.address):
        async with client.redis.pipeline(transaction=True) as pipe:  # one MULTI: state and roots together
            await pipe.watch(plan.run.key())  # a reused run id would merge into the old run's state
            if await pipe.exists(plan.run.key()):
                raise taken
            pipe.multi()  # type: ignore[no-untyped-call]
            plan.write(pipe)
            for args in plan.root_batches(client.keys_for(queue).prefix):
                await enqueue.queue_on(pipe, args)
            try:
                await pipe.execute()
            except WatchError as e:
                raise taken from e
    return plan.run


def _plan(client: Client, run: WorkflowRun, graph: WorkflowGraph, queue: str, ttl: timedelta) -> _RunPlan:
    serializer = client.job_serializer
    try:
        specs = [node_spec(node, client.keys, queue, serializer) for node in graph.nodes]
        handler = (
            None if graph.on_error is None else errback_spec(graph.on_error, client.keys, queue, serializer)
        )
    except TypeError as e:
        raise WorkflowError(f"cannot start workflow: {e}") from e
    if client.layout is not None:
        _one_queue(queue, [*specs, handler])
    now = now_ms()
    meta = {
        "state": "running",
        "total": len(graph.nodes),
        "done": 0,
        "started_ms": now,
        "queue": queue,
        "ttl_ms": int(ttl.total_seconds() * 1000),
        "result_parts": dumps(template_parts(graph.result)),
        "on_error": dumps(handler),
    }
    return _RunPlan(run, graph, specs, meta, now)


def _one_queue(queue: str, specs: Sequence[dict[str, Any] | None]) -> None:
    """On Redis Cluster a run lives in its queue's slot: every node must run on that queue."""
    others = sorted({spec["q"] for spec in specs if spec is not None and spec["q"] != queue})
    if others:
        raise WorkflowError(
            f"on Redis Cluster a workflow runs on one queue ({queue}), but some steps name {others[0]}: "
            "drop their queue option, or run a workflow per queue"
        )
