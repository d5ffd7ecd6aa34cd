"""Global flow limits: a task's concurrency and rate limits, across all workers and per group.

Declared on the task (``@task(concurrency=5, rate_limit="100/s")``, see ``docs/limits.md``) and
enforced in Redis by the claim script, through the extension seam: :class:`LimitsExtension` is on in
every worker (any worker may end an attempt that holds a slot), and every client keeps jobs of
limited tasks from being handed straight to an idle worker (:func:`hand_off_lua`).
"""

from aqueue.limits._extension import LimitsExtension, hand_off_lua

__all__ = ["LimitsExtension", "hand_off_lua"]
