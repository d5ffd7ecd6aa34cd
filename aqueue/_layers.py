"""The composition root: turns on, for every worker, the layers that ship with aqueue.

The core (client, worker, job execution, the core Lua) imports neither layer; this module, imported
by ``aqueue/__init__``, is the one place that plugs them in through the extension seam
(:mod:`aqueue.extensions`). Both are on for every worker (any worker may run a workflow node or a
scheduled job); cron schedules only on a worker whose options carry ``cron_jobs``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aqueue.extensions import WorkerExtension, register_default
from aqueue.scheduler._definition import CronJob
from aqueue.scheduler._extension import CronExtension
from aqueue.workflows._continuation import WorkflowContinuations


def _workflows(options: Mapping[str, Any]) -> WorkerExtension:
    return WorkflowContinuations()


def _cron(options: Mapping[str, Any]) -> WorkerExtension:
    jobs: list[CronJob] = list(options.get("cron_jobs") or [])
    return CronExtension(jobs)


register_default(_workflows)
register_default(_cron)
