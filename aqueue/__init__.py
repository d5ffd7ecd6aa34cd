"""aqueue: an asyncio-native task queue on Redis, built on arq.

Producers enqueue by name (``await aqueue.enqueue("resize", image_id)``); workers run
``aqueue worker settings.WorkerSettings``. See ``docs/architecture.md``.
"""

from arq.connections import RedisSettings

import aqueue._layers  # noqa: F401  (the composition root: plugs workflows and cron into every worker)
from aqueue._version import __version__
from aqueue.client import Client, close_default_client, default_client, enqueue
from aqueue.context import JobContext
from aqueue.errors import (
    AqueueError,
    ConfigurationError,
    CronExpressionError,
    DeserializationError,
    JobAborted,
    JobError,
    JobTimeout,
    MaxTriesExceeded,
    ProcessCrashed,
    RedisAuthError,
    RedisFailure,
    RedisRefusedError,
    RedisUnavailableError,
    ReplicationError,
    ResultNotFound,
    SerializationError,
    SettingsWarning,
    TaskError,
    UnknownTaskError,
    WorkflowCancelled,
    WorkflowError,
)
from aqueue.jobs import Job, JobResult, JobStatus
from aqueue.progress import Progress
from aqueue.scheduler import cron
from aqueue.serialization import PickleSerializer, job_deserializer, job_serializer
from aqueue.tasks import Backoff, Retry, Task, task
from aqueue.worker import Worker

__all__ = [
    "AqueueError",
    "Backoff",
    "Client",
    "ConfigurationError",
    "CronExpressionError",
    "DeserializationError",
    "Job",
    "JobAborted",
    "JobContext",
    "JobError",
    "JobResult",
    "JobStatus",
    "JobTimeout",
    "MaxTriesExceeded",
    "PickleSerializer",
    "ProcessCrashed",
    "Progress",
    "RedisAuthError",
    "RedisFailure",
    "RedisRefusedError",
    "RedisSettings",
    "RedisUnavailableError",
    "ReplicationError",
    "ResultNotFound",
    "Retry",
    "SerializationError",
    "SettingsWarning",
    "Task",
    "TaskError",
    "UnknownTaskError",
    "Worker",
    "WorkflowCancelled",
    "WorkflowError",
    "__version__",
    "close_default_client",
    "cron",
    "default_client",
    "enqueue",
    "job_deserializer",
    "job_serializer",
    "task",
]
