"""The composition root: plugs the layers that ship with aqueue into every worker.

The core (client, worker, job execution, the core Lua) imports neither layer. This module, imported
by ``aqueue/__init__``, is the one place that plugs them in: as worker extensions (the seam,
:mod:`aqueue.extensions`) and as what ``Task.s``/``Task.si`` build. Both extensions are on for
every worker (any worker may run a workflow node or a scheduled job); cron schedules only on a
worker whose options carry ``cron_jobs``. The release of unique keys (:mod:`aqueue._unique`) is on
for every worker too, and so are flow limits (:mod:`aqueue.limits`: every worker frees the slots
of the attempts it ends, every client keeps limited tasks' jobs from a handoff). The events layer
is on in every worker and client unless their ``events`` option is False.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aqueue._unique import UniqueKeys
from aqueue.contrib.events import EventsRecorder, WorkflowEvents, events_lua
from aqueue.errors import ConfigurationError
from aqueue.events import DEFAULT_EVENTS_MAXLEN
from aqueue.extensions import LuaHooks, WorkerExtension, register_client_hooks, register_default
from aqueue.limits import LimitsExtension, hand_off_lua
from aqueue.scheduler._definition import cron_definitions
from aqueue.scheduler._extension import CronExtension
from aqueue.tasks import as_task, use_signatures
from aqueue.workflows._continuation import WorkflowContinuations
from aqueue.workflows._signature import si, sig

try:  # the metrics extra: prometheus-client
    from aqueue.contrib.prometheus import PrometheusMetrics
except ImportError:  # pragma: no cover - exercised only without the extra
    PrometheusMetrics = None  # type: ignore[assignment,misc]


def _workflows(options: Mapping[str, Any]) -> WorkerExtension:
    return WorkflowContinuations()


def _unique(options: Mapping[str, Any]) -> WorkerExtension:
    return UniqueKeys()  # any worker may finish a job that holds a unique key


def _limits(options: Mapping[str, Any]) -> WorkerExtension:
    # on in every worker: any worker may end an attempt that holds a slot of a limited task
    return LimitsExtension([as_task(f) for f in options.get("functions") or ()])


def _client_limits(options: Mapping[str, Any]) -> LuaHooks:
    return hand_off_lua()


def _cron(options: Mapping[str, Any]) -> WorkerExtension:
    # arq's cron jobs become aqueue's, in the worker's ``timezone`` (arq's option)
    jobs = cron_definitions(options.get("cron_jobs") or [], tz=options.get("timezone"))
    return CronExtension(jobs)


def _metrics(options: Mapping[str, Any]) -> WorkerExtension | None:
    port = options.get("metrics_port")
    if not port:
        return None
    if PrometheusMetrics is None:
        raise ConfigurationError("metrics_port needs prometheus-client: pip install 'aqueue-redis[metrics]'")
    return PrometheusMetrics(port=int(port))


def _events(options: Mapping[str, Any]) -> WorkerExtension | None:
    if options.get("events") is False:
        return None
    return EventsRecorder(options.get("events_maxlen") or DEFAULT_EVENTS_MAXLEN)


def _workflow_events(options: Mapping[str, Any]) -> WorkerExtension | None:
    if options.get("events") is False:
        return None
    return WorkflowEvents(options.get("events_maxlen") or DEFAULT_EVENTS_MAXLEN)


def _client_events(options: Mapping[str, Any]) -> LuaHooks | None:
    if options.get("events") is False:
        return None
    return events_lua(options.get("events_maxlen") or DEFAULT_EVENTS_MAXLEN)


register_default(_workflows)
register_default(_unique)
register_default(_limits)
register_default(_cron)
register_default(_metrics)
register_default(_events)
register_default(_workflow_events)
register_client_hooks(_client_events)
register_client_hooks(_client_limits)
use_signatures(mutable=sig, immutable=si)
