"""The worker's side of unique keys: a job that ends releases its key, atomically with its end.

A producer's ``enqueue(..., _unique="key")`` takes the key (``enqueue_unique.lua``); this extension
hooks ``unique_lib.lua`` into the core scripts, so the finish that records a final outcome (success,
failure, an abort while running, an expired job) and the claim that dead-letters a job release the
key, or hold it for ``_unique_for`` (throttle), in the same script. A retry keeps it. The abort of a
waiting job and a dead-letter requeue do the same in their own scripts. A worker without this
extension (``default_extensions=False``) leaves keys to the safety net: a key whose job is gone counts
as free at the next enqueue, but ``_unique_for`` then holds nothing after the job ended.
"""

from __future__ import annotations

from aqueue._redis.scripts import source
from aqueue.extensions import LuaHooks, WorkerExtension

__all__ = ["UniqueKeys"]


class UniqueKeys(WorkerExtension):
    """Release the unique keys of jobs that end (or hold them for their ``_unique_for``)."""

    def lua(self) -> LuaHooks:
        """Return ``unique_lib.lua`` with its on_finish and on_dead hooks."""
        return LuaHooks(
            library=source("unique_lib"), on_finish="aq_unique_finished", on_dead="aq_unique_dead"
        )
