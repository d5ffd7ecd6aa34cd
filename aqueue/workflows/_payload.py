"""Node job payloads as JSON fragments, so the Lua continuation script can splice inputs in.

A node's job envelope is arq's ``{"t", "f", "a", "k", "et"}`` plus ``"wf": 1`` (a workflow node)
and, for map/starmap nodes, ``"m"``. It is built by the core's one envelope builder
(:func:`aqueue._envelope.encode_job_template`), with everything but the input and the enqueue time
pre-encoded: ``payload = pre + input_json + post + str(now_ms) + "}"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from aqueue._envelope import encode_job_template
from aqueue._redis.keys import Keys
from aqueue.workflows._graph import Node
from aqueue.workflows._options import TaskOptions
from aqueue.workflows._signature import Signature

Serializer = Callable[[Any], bytes]


def _extra(options: TaskOptions, extra: dict[str, Any]) -> dict[str, Any]:
    overrides = {k: v for k, v in (("timeout", options.timeout), ("max_tries", options.max_tries)) if v}
    return {**extra, "o": overrides} if overrides else extra


def fragments(
    serializer: Serializer,
    task: str,
    static_args: list[Any],
    kwargs: dict[str, Any],
    *,
    takes_input: bool,
    extra: dict[str, Any],
) -> dict[str, str]:
    """Return ``pre`` and ``post`` around the input of a node's job (the core's one envelope builder)."""
    pre, post = encode_job_template(
        serializer, task, static_args, kwargs, takes_input=takes_input, extra=extra
    )
    return {"pre": pre.decode(), "post": post.decode()}


def node_spec(node: Node, keys: Keys, default_queue: str, serializer: Serializer) -> dict[str, Any]:
    """Return the JSON spec the continuation script keeps for ``node``."""
    extra: dict[str, Any] = {"wf": 1} if node.kind == "task" else {"wf": 1, "m": node.kind}
    static = list(node.args)
    if node.items is not None:
        static = [[list(i) for i in node.items] if node.kind == "starmap" else list(node.items), *static]
    spec: dict[str, Any] = fragments(
        serializer,
        node.task,
        static,
        dict(node.kwargs),
        takes_input=node.input is not None,
        extra=_extra(node.options, extra),
    )
    spec |= {
        "q": _queue(keys, node.options.queue, default_queue),
        "in": node.input_parts(),
        "d": list(node.dependents),
        "p": list(node.parents),
        "task": node.task,
    }
    spec["e"] = (
        None if node.on_error is None else errback_spec(node.on_error, keys, default_queue, serializer)
    )
    return spec


def errback_spec(
    handler: Signature, keys: Keys, default_queue: str, serializer: Serializer
) -> dict[str, Any]:
    """Return the spec of an error callback: it receives the failure info first unless immutable."""
    takes_input = not handler.immutable
    spec: dict[str, Any] = fragments(
        serializer,
        handler.task,
        list(handler.args),
        dict(handler.kwargs),
        takes_input=takes_input,
        extra=_extra(handler.options, {}),
    )
    return spec | {"q": _queue(keys, handler.options.queue, default_queue), "i": takes_input}


def root_payload(spec: dict[str, Any], now_ms: int) -> bytes:
    """Return the payload of a root node: its input, if any, is constant (e.g. an empty group's ``[]``)."""
    constant = "".join(str(part) for part in spec["in"] or ())
    return f"{spec['pre']}{constant}{spec['post']}{now_ms}}}".encode()


def _queue(keys: Keys, name: str | None, default_queue: str) -> str:
    return keys.queue(name) if name else default_queue


def dumps(value: Any) -> str:
    """Encode JSON-native data (specs, parts) for storage."""
    return orjson.dumps(value).decode()
