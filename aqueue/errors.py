"""Every error aqueue raises, under one root.

::

    AqueueError
    ├── ConfigurationError          bad settings, bad settings path, bad option
    │   └── CronExpressionError     a cron expression croniter cannot read (also a ValueError)
    ├── RedisUnavailableError       Redis cannot be reached (after bounded retries)
    ├── SerializationError          an argument or result cannot be encoded (also a TypeError)
    │   └── DeserializationError    stored bytes cannot be decoded (corrupt payload)
    ├── CronJobNotFound             no worker registered a cron job of that name (also a LookupError)
    ├── JobError                    base of errors about one job's outcome
    │   ├── TaskError               a task failed and its exception class cannot be rebuilt here
    │   ├── UnknownTaskError        no worker knows the task name
    │   ├── MaxTriesExceeded        the job used up its tries
    │   ├── JobAborted              the job was aborted
    │   ├── ResultNotFound          no result and no such job (expired, or never kept)
    │   └── JobTimeout              waiting for a result took longer than asked (also a TimeoutError)
    └── WorkflowError               a workflow is malformed or failed
        └── WorkflowCancelled       the workflow was cancelled

Redis and arq exceptions are translated to these at one seam, :mod:`aqueue._redis.connection`.
"""

from __future__ import annotations


class AqueueError(Exception):
    """Root of every error aqueue raises on purpose."""


class ConfigurationError(AqueueError):
    """Raised when settings, a settings path or an option is invalid."""


class CronExpressionError(ConfigurationError, ValueError):
    """Raised when a cron expression cannot be parsed; the message quotes the expression."""


class RedisUnavailableError(AqueueError):
    """Raised when Redis cannot be reached; the message names the address tried."""


class SerializationError(AqueueError, TypeError):
    """Raised when a value cannot be encoded by the job serializer; nothing is written."""


class DeserializationError(SerializationError):
    """Raised when stored bytes cannot be decoded (a corrupt or foreign payload)."""


class CronJobNotFound(AqueueError, LookupError):
    """Raised when no live worker registered a cron job of the given name."""


class JobError(AqueueError):
    """Base of errors that describe how one job ended."""


class TaskError(JobError):
    """A task raised an exception whose class cannot be rebuilt in this process.

    Carries the remote exception's type name, message and traceback text.
    """

    def __init__(self, type_name: str, message: str, traceback: str = "") -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message
        self.traceback = traceback


class UnknownTaskError(JobError):
    """Raised (as a job's failure) when no worker has a task of the job's name."""


class MaxTriesExceeded(JobError):
    """Raised (as a job's failure) when a job has used up all its tries."""


class JobAborted(JobError):
    """Raised (as a job's failure) when a job was aborted before or while it ran."""


class ResultNotFound(JobError):
    """Raised when a job has no stored result and is not queued or running."""


class JobTimeout(JobError, TimeoutError):
    """Raised when waiting for a job's or workflow's result exceeds the timeout."""


class WorkflowError(AqueueError):
    """Raised when a workflow is malformed or when it failed."""


class WorkflowCancelled(WorkflowError):
    """Raised when waiting on a workflow that was cancelled."""
