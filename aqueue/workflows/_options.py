"""Per-signature execution options: which queue, how long, how many tries.

There is deliberately no ``job_id`` option: inside a workflow the runtime derives each node's
job id from the run id and the node id, so that a duplicated enqueue of the same node is
deduplicated by arq instead of running twice.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from aqueue.errors import WorkflowError

OPTION_NAMES = ("queue", "timeout", "max_tries")


@dataclass(frozen=True)
class TaskOptions:
    """Options for the job that runs one signature; ``None`` means "the worker's default"."""

    queue: str | None = None
    timeout: float | None = None
    max_tries: int | None = None

    def __post_init__(self) -> None:
        _check_queue(self.queue)
        _check_timeout(self.timeout)
        _check_max_tries(self.max_tries)

    def merged(self, **changes: Any) -> TaskOptions:
        """Return a copy with ``changes`` applied; an unknown option name is a WorkflowError."""
        unknown = sorted(set(changes) - set(OPTION_NAMES))
        if unknown:
            raise WorkflowError(f"unknown signature option(s) {unknown}; known: {list(OPTION_NAMES)}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the options that are set, as a JSON-safe dict."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskOptions:
        """Rebuild options from :meth:`to_dict` output."""
        return cls().merged(**data)


def _check_queue(queue: object) -> None:
    if queue is not None and (not isinstance(queue, str) or not queue):
        raise WorkflowError(f"option queue must be a non-empty string, not {queue!r}")


def _check_timeout(timeout: object) -> None:
    valid = isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0
    if timeout is not None and not valid:
        raise WorkflowError(f"option timeout must be a positive number of seconds, not {timeout!r}")


def _check_max_tries(max_tries: object) -> None:
    valid = isinstance(max_tries, int) and not isinstance(max_tries, bool) and max_tries >= 1
    if max_tries is not None and not valid:
        raise WorkflowError(f"option max_tries must be an integer >= 1, not {max_tries!r}")
