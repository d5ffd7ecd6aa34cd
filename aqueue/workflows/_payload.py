"""Node job payloads as JSON fragments, so the Lua continuation script can splice inputs in.

A node's job envelope is arq's ``{"t", "f", "k", "a", "et"}`` plus ``"wf": 1`` (a workflow node)
and, for map/starmap nodes, ``"m"``. We pre-encode everything but the input and the enqueue time:
``payload = pre + input_json + post + str(now_ms) + "}"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from aqueue._redis.keys import Keys
from aqueue.workflows._graph import Node
from aqueue.workflows._options import TaskOptions
from aqueue.workflows._signature import Signature

Serializer = Callable[[Any], bytes]


def _head(task: str, kwargs: dict[str, Any], options: TaskOptions, extra: dict[str, Any]) -> dict[str, Any]:
    head: dict[str, Any] = {"t": None, "f": task, "k": kwargs, **extra}
    overrides = {k: v for k, v in (("timeout", options.timeout), ("max_tries", options.max_tries)) if v}
    if overrides:
        head["o"] = overrides
    return head


def fragments(
    serializer: Serializer, head: dict[str, Any], static_args: list[Any], takes_input: bool
) -> dict[str, str]:
    """Return ``pre`` and ``post`` around the input for an envelope with ``head`` and ``static_args``."""
    encoded = serializer(head)
    if not encoded.endswith(b"}"):
        raise TypeError("workflows need a JSON job serializer (the default); pickle cannot be spliced")
    pre = encoded[:-1] + (b',"a":[' if len(encoded) > 2 else b'"a":[')
    inner = serializer(static_args)[1:-1]
    post = (b"," + inner if takes_input and inner else inner) + b'],"et":'
    return {"pre": pre.decode(), "post": post.decode()}


def node_spec(node: Node, keys: Keys, default_queue: str, serializer: Serializer) -> dict[str, Any]:
    """Return the JSON spec the continuation script keeps for ``node``."""
    extra: dict[str, Any] = {"wf": 1} if node.kind == "task" else {"wf": 1, "m": node.kind}
    static = list(node.args)
    if node.items is not None:
        static = [[list(i) for i in node.items] if node.kind == "starmap" else list(node.items), *static]
    head = _head(node.task, dict(node.kwargs), node.options, extra)
    spec: dict[str, Any] = fragments(serializer, head, static, node.input is not None)
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
    head = _head(handler.task, dict(handler.kwargs), handler.options, {})
    spec: dict[str, Any] = fragments(serializer, head, list(handler.args), takes_input)
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
