"""Starting a workflow run and the producer's handle on it: result, status, cancel."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson

from aqueue._scripts import register, source
from aqueue.errors import ResultNotFound, WorkflowCancelled, WorkflowError
from aqueue.jobs import wait_until
from aqueue.workflows._payload import dumps, errback_spec, node_spec, root_payload
from aqueue.workflows.base import CanvasElement
from aqueue.workflows.compiler import compile_workflow
from aqueue.workflows.graph import WorkflowGraph
from aqueue.workflows.signature import Signature
from aqueue.workflows.template import template_parts

if TYPE_CHECKING:
    from aqueue.client import Client

__all__ = ["NodeStatus", "WorkflowRun", "WorkflowStatus", "start_workflow"]

DEFAULT_TTL = timedelta(days=1)
SUFFIXES = ("", ":spec", ":pending", ":state", ":results", ":times", ":errors")


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """One node of a run: its task, state and, once it ran, timing, tries and error."""

    id: int
    task: str
    state: str
    parents: tuple[int, ...]
    started_ms: int | None = None
    finished_ms: int | None = None
    tries: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class WorkflowStatus:
    """A run's overall state (running, complete, failed, cancelled) and its nodes' states."""

    run_id: str
    state: str
    nodes: tuple[NodeStatus, ...]
    started_ms: int | None
    finished_ms: int | None

    def counts(self) -> dict[str, int]:
        """Return how many nodes are in each state."""
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.state] = counts.get(node.state, 0) + 1
        return counts


class WorkflowRun:
    """A handle on one workflow run, by id."""

    def __init__(self, run_id: str, client: Client) -> None:
        self.run_id = run_id
        self._client = client

    def __repr__(self) -> str:
        return f"<aqueue.WorkflowRun {self.run_id}>"

    def key(self, suffix: str = "") -> str:
        """Return one of the run's Redis keys."""
        return self._client.keys.scoped("wf", self.run_id) + suffix

    async def _poll(self) -> tuple[str, Any] | None:
        state, result, error = await self._client.redis.hmget(self.key(), ["state", "result", "error"])
        if state is None:
            raise ResultNotFound(f"no workflow run {self.run_id} (never started, or expired)")
        if state == b"running":
            return None
        return _text(state) or "", (result, error)

    async def result(self, timeout: float | None = None) -> Any:
        """Wait for the run to end; return its final result or re-raise the failing node's error."""
        channel = self._client.keys.done_channel(f"wf:{self.run_id}")
        async with self._client.notifier.watch(channel) as event:
            state, (result, error) = await wait_until(self._poll, event, timeout, f"workflow {self.run_id}")
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
        script = register(self._client.redis, source("wf_lib"), source("wf_cancel"))
        done = await script(args=[self._client.keys.prefix, self.run_id, int(time.time() * 1000)])
        return bool(done)

    async def status(self) -> WorkflowStatus:
        """Return the run's state and every node's state, timing and error."""
        redis = self._client.redis
        async with redis.pipeline(transaction=False) as pipe:
            for suffix in ("", ":spec", ":state", ":times", ":errors"):
                pipe.hgetall(self.key(suffix))
            meta, specs, states, times, errors = await pipe.execute()
        if not meta:
            raise ResultNotFound(f"no workflow run {self.run_id} (never started, or expired)")
        running = await self._running_nodes(states)
        nodes = tuple(
            _node_status(int(k), orjson.loads(v), states, times, errors, running)
            for k, v in sorted(specs.items(), key=lambda kv: int(kv[0]))
        )
        return WorkflowStatus(self.run_id, _text(meta[b"state"]) or "", nodes,
                              _int(meta.get(b"started_ms")), _int(meta.get(b"finished_ms")))

    async def _running_nodes(self, states: dict[bytes, bytes]) -> set[int]:
        queued = [int(k) for k, v in states.items() if v == b"queued"]
        if not queued:
            return set()
        async with self._client.redis.pipeline(transaction=False) as pipe:
            for node in queued:
                pipe.exists(self._client.keys.in_progress(f"{self.run_id}:{node}"))
            flags = await pipe.execute()
        return {node for node, flag in zip(queued, flags, strict=True) if flag}


def _int(value: bytes | None) -> int | None:
    return None if value is None else int(value)


def _node_status(node: int, spec: dict[str, Any], states: dict[bytes, bytes], times: dict[bytes, bytes],
                 errors: dict[bytes, bytes], running: set[int]) -> NodeStatus:
    key = str(node).encode()
    state = "running" if node in running else (_text(states.get(key)) or "waiting")
    started = finished = tries = None
    if key in times:
        started, finished, tries = (int(x) for x in times[key].split(b","))
    error = None
    if key in errors:
        data = orjson.loads(errors[key])
        error = f"{data.get('type', 'Error')}: {data.get('message', '')}" if isinstance(data, dict) else str(data)
    return NodeStatus(node, spec["task"], state, tuple(spec["p"]), started, finished, tries, error)


async def start_workflow(
    client: Client,
    workflow: CanvasElement | WorkflowGraph,
    *,
    run_id: str | None = None,
    queue_name: str | None = None,
    on_error: Signature | None = None,
    ttl: timedelta = DEFAULT_TTL,
) -> WorkflowRun:
    """Compile ``workflow``, store it in Redis and enqueue its roots; return the run handle.

    ``ttl`` is how long the run's state and results are kept after it ends (never before).
    """
    graph = workflow if isinstance(workflow, WorkflowGraph) else compile_workflow(workflow, on_error=on_error)
    run = WorkflowRun(run_id or uuid.uuid4().hex, client)
    queue = client.keys.queue(queue_name) if queue_name else client.default_queue
    now = int(time.time() * 1000)
    try:
        specs = [node_spec(node, client.keys, queue, client.job_serializer) for node in graph.nodes]
        handler = None if graph.on_error is None else errback_spec(graph.on_error, client.keys, queue,
                                                                   client.job_serializer)
    except TypeError as e:
        raise WorkflowError(f"cannot start workflow: {e}") from e
    meta = {"state": "running", "total": len(graph.nodes), "done": 0, "started_ms": now, "queue": queue,
            "ttl_ms": int(ttl.total_seconds() * 1000), "result_parts": dumps(template_parts(graph.result)),
            "on_error": dumps(handler)}
    async with client.redis.pipeline(transaction=True) as pipe:  # one MULTI: state and roots together
        _write_run(pipe, run, graph, specs, meta, now)
        for queue_key, argv in _root_batches(client, run, graph, specs, meta["ttl_ms"], now).items():
            await client.scripts.enqueue(args=argv, client=pipe)
        await pipe.execute()
    return run


def _root_batches(client: Client, run: WorkflowRun, graph: WorkflowGraph, specs: list[dict[str, Any]],
                  ttl_ms: int, now: int) -> dict[str, list[Any]]:
    """Return enqueue-script arguments per queue for the run's root nodes."""
    batches: dict[str, list[Any]] = {}
    for root in graph.roots:
        queue_key = specs[root]["q"]
        argv = batches.setdefault(queue_key, [client.keys.prefix, queue_key, now])
        argv += [f"{run.run_id}:{root}", root_payload(specs[root], now), now, ttl_ms]
    return batches


def _write_run(pipe: Any, run: WorkflowRun, graph: WorkflowGraph, specs: list[dict[str, Any]],
               meta: dict[str, Any], now: int) -> None:
    if not graph.nodes:  # nothing to run: the result is constant
        meta |= {"state": "complete", "finished_ms": now, "result": "".join(map(str, template_parts(graph.result)))}
    pipe.hset(run.key(), mapping=meta)
    if graph.nodes:
        pipe.hset(run.key(":spec"), mapping={str(n.id): dumps(s) for n, s in zip(graph.nodes, specs, strict=True)})
        pipe.hset(run.key(":state"), mapping={str(n.id): "queued" if not n.parents else "waiting"
                                              for n in graph.nodes})
        pending = {str(n.id): n.pending for n in graph.nodes if n.parents}
        if pending:
            pipe.hset(run.key(":pending"), mapping=pending)
    else:
        for suffix in SUFFIXES:
            pipe.pexpire(run.key(suffix), meta["ttl_ms"])
