"""Every error aqueue raises, under one root.

::

    AqueueError
    ├── ConfigurationError          bad settings, bad settings path, bad option
    │   └── CronExpressionError     a cron expression croniter cannot read (also a ValueError)
    ├── RedisFailure                a call to Redis did not go through (base of the ones below)
    │   ├── RedisUnavailableError   Redis cannot be reached, or the connection dropped or went silent
    │   ├── RedisRefusedError       Redis answered with an error reply: OOM, READONLY, BUSY, LOADING, …
    │   │   └── RedisAuthError      the password or user was wrong or missing (NOAUTH, WRONGPASS)
    │   └── ReplicationError        a job was written, but fewer than min_replicas replicas confirmed it
    ├── SerializationError          an argument or result cannot be encoded (also a TypeError, and arq's)
    │   └── DeserializationError    stored bytes cannot be decoded (corrupt, or a class not rebuilt here)
    ├── CronJobNotFound             no worker registered a cron job of that name (also a LookupError)
    ├── JobError                    base of errors about one job's outcome
    │   ├── TaskError               a task failed and its exception class cannot be rebuilt here
    │   │   └── ProcessCrashed      the child process running a process task died (a crash, a signal)
    │   ├── UnknownTaskError        no worker knows the task name
    │   ├── MaxTriesExceeded        the job used up its tries
    │   ├── JobAborted              the job was aborted
    │   ├── ResultNotFound          no result and no such job (expired, or never kept)
    │   └── JobTimeout              waiting for a result took longer than asked (also a TimeoutError)
    └── WorkflowError               a workflow is malformed or failed
        └── WorkflowCancelled       the workflow was cancelled

Every public call raises these, never redis-py's exceptions: they are translated at one seam,
:mod:`aqueue._redis.errors`. ``JobTimeout`` is never taken for a Redis failure. See ``docs/errors.md``.

One warning: :class:`SettingsWarning` (a ``UserWarning``), for settings attributes that are no option.
"""

from __future__ import annotations

import arq.jobs


class AqueueError(Exception):
    """Root of every error aqueue raises on purpose."""


class SettingsWarning(UserWarning):
    """Warned when a worker settings class has attributes that are not worker options (typos)."""


class ConfigurationError(AqueueError):
    """Raised when settings, a settings path or an option is invalid."""


class CronExpressionError(ConfigurationError, ValueError):
    """Raised when a cron expression cannot be parsed; the message quotes the expression."""


class RedisFailure(AqueueError):
    """Base of the errors that say a call to Redis did not go through; the message names the address."""


class RedisUnavailableError(RedisFailure):
    """Raised when Redis cannot be reached, or the connection dropped or went silent during a call.

    A call cut short this way may or may not have been carried out by Redis.
    """


class RedisRefusedError(RedisFailure):
    """Raised when Redis answered a call with an error reply: it refused the command, and said why.

    ``code`` is the reply's first word (``OOM``, ``READONLY``, ``BUSY``, ``LOADING``, ``NOSCRIPT``,
    ``NOPERM``, ``ERR``, …), ``reply`` its text. On OOM, READONLY, BUSY, LOADING and NOSCRIPT nothing
    was written: Redis refuses those before a command, or one of aqueue's scripts, writes anything.
    """

    def __init__(self, message: str, *, code: str = "ERR", reply: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reply = reply


class RedisAuthError(RedisRefusedError):
    """Raised when Redis (or a Sentinel) refused the credentials: a wrong or missing password or user.

    Raised at once when connecting, never retried: ``code`` is ``NOAUTH`` (a password is needed) or
    ``WRONGPASS`` (the user name or password is wrong).
    """


class ReplicationError(RedisFailure):
    """Raised by an enqueue with ``min_replicas`` when too few replicas confirmed the job in time.

    The job was written to the primary and will run unless a failover loses it: ``job_id`` names it,
    ``acknowledged`` is how many replicas confirmed it, ``wanted`` how many were asked for.
    """

    def __init__(self, message: str, *, job_id: str = "", acknowledged: int = 0, wanted: int = 0) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.acknowledged = acknowledged
        self.wanted = wanted


class SerializationError(AqueueError, TypeError, arq.jobs.SerializationError):
    """Raised when a value cannot be encoded by the job serializer; nothing is written.

    Also arq's ``SerializationError``, so that arq users' ``except arq.jobs.SerializationError`` still
    catches it.
    """


class DeserializationError(SerializationError, arq.jobs.DeserializationError):
    """Raised when stored bytes cannot be decoded: corrupt, foreign, or naming a class not rebuilt here.

    A class the payload names that this process cannot import or rebuild is named in the message,
    with why. Also arq's ``DeserializationError``.
    """


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


class ProcessCrashed(TaskError):
    """Raised (as a job's failure) when the child process running a process task died during the call.

    The message names the task, the child's pid and how it ended (``died with SIGSEGV``, ``exited with
    code 3``). List it in ``retry_on`` to run such attempts again.
    """

    def __init__(self, message: str) -> None:
        super().__init__(type(self).__name__, message)
        self.args = (message,)

    def __str__(self) -> str:
        return self.message


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
