"""arq's job envelope, built in one place: ``{"t": try, "f": name, "a": args, "k": kwargs, "et": ms}``.

Extra keys ride along (plain arq ignores them): ``wf`` (workflow run and node), ``m`` (map mode),
``cron`` (cron job name and slot).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aqueue.errors import SerializationError


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
    try:
        return serializer(envelope)
    except SerializationError as e:
        raise SerializationError(f"cannot enqueue {name!r}: {e}") from e
    except Exception as e:
        raise SerializationError(f"cannot enqueue {name!r}: {type(e).__name__}: {e}") from e
