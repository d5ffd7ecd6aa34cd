"""What an error callback receives: a JSON-safe dict describing the failed node.

The runtime builds it with :func:`failure_info` and prepends it to the error callback's own
arguments (an immutable error callback receives nothing). ``node`` and ``task`` are ``None``
for a workflow-level failure that no single node caused (e.g. a cancellation).
"""

from __future__ import annotations

from typing import TypedDict


class FailureInfo(TypedDict):
    """The failure of one workflow run, as given to ``on_error`` callbacks."""

    run_id: str
    node: int | None
    task: str | None
    job_id: str | None
    exc_type: str
    message: str
    traceback: str


def failure_info(
    run_id: str,
    exc_type: str,
    message: str,
    *,
    node: int | None = None,
    task: str | None = None,
    job_id: str | None = None,
    traceback: str = "",
) -> FailureInfo:
    """Return the failure info dict for ``run_id``; every value is JSON-safe."""
    return FailureInfo(
        run_id=run_id,
        node=node,
        task=task,
        job_id=job_id,
        exc_type=exc_type,
        message=message,
        traceback=traceback,
    )
