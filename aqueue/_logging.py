"""Logging set-up for the CLI: text (the default) or one JSON object per line, with job fields.

While a job runs, :data:`current_job` holds its ``job_id``, ``task``, ``queue`` and ``try`` (each job
runs in its own asyncio task, so the value is the job's own); the JSON format adds them to every record
logged meanwhile, whoever logs it (the worker, a task, a library).
"""

from __future__ import annotations

import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

__all__ = ["LOG_FORMATS", "JsonFormatter", "LogFormat", "current_job", "setup_logging", "wanted"]

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

#: The job being run in this task: {"job_id", "task", "queue", "try"}, or None outside jobs.
current_job: ContextVar[dict[str, Any] | None] = ContextVar("aqueue_current_job", default=None)


class _Wanted:
    """Whether a formatter reads :data:`current_job` (the worker sets it only then: no cost otherwise)."""

    job_fields = False


wanted = _Wanted()


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (ISO-8601 UTC), level, logger, message, job fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """Return ``record`` as one line of JSON."""
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        job = current_job.get()
        if job is not None:
            data.update(job)
        if record.exc_info and record.exc_info[0] is not None:
            data["exc_type"] = record.exc_info[0].__name__
            data["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return orjson.dumps(data, default=str).decode()


def setup_logging(verbose: bool, log_format: LogFormat = "text") -> None:
    """Log to stderr: INFO by default, DEBUG with ``verbose``; as text or as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    wanted.job_fields = log_format == "json"
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)
