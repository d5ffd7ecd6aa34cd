"""arq's envelopes, built in one place.

A job: ``{"t": try, "f": name, "a": args, "k": kwargs, "et": enqueue ms}``; its result adds
``{"s": success, "r": value or exception, "st": start ms, "ft": finish ms, "q": queue, "id": job id}``.

Extra keys ride along (plain arq ignores them): ``wf`` (workflow run and node), ``m`` (map mode),
``cron`` (cron job name and slot).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from aqueue.errors import SerializationError
from aqueue.serialization import job_serializer, plain_call


def encode_job(
    serializer: Callable[[Any], bytes],
    name: str,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    *,
    job_try: int | None,
    enqueue_ms: int,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """Encode a job envelope; raise SerializationError naming the task if an argument can't be encoded."""
    envelope = {"t": job_try, "f": name, "a": list(args), "k": kwargs, "et": enqueue_ms}
    if extra:
        envelope.update(extra)
    elif serializer is job_serializer and plain_call(args, kwargs):
        return orjson.dumps(envelope)  # the same bytes job_serializer writes, without its walk
    try:
        return serializer(envelope)
    except SerializationError as e:
        raise SerializationError(f"cannot enqueue {name!r}: {e}") from e
    except Exception as e:
        raise SerializationError(f"cannot enqueue {name!r}: {type(e).__name__}: {e}") from e


def result_envelope(
    *,
    job_id: str,
    name: str,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    job_try: int,
    enqueue_ms: int,
    success: bool,
    value: Any,
    start_ms: int,
    finish_ms: int,
    queue: str,
) -> dict[str, Any]:
    """Return arq's result envelope (encode it with the job serializer)."""
    return {
        "t": job_try,
        "f": name,
        "a": list(args),
        "k": kwargs,
        "et": enqueue_ms,
        "s": success,
        "r": value,
        "st": start_ms,
        "ft": finish_ms,
        "q": queue,
        "id": job_id,
    }
