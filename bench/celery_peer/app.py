"""The Celery app and its one task, configured from ``BENCH_CELERY_URL`` (broker and result backend)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

URL = os.environ.get("BENCH_CELERY_URL", "redis://127.0.0.1:6379/1")
QUEUE = "bench-wf"

app = Celery("bench_celery_peer", broker=URL, backend=URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_default_queue=QUEUE,
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    worker_send_task_events=False,
    task_send_sent_event=False,
)


@app.task(name="noop")
def noop(*args: Any) -> None:
    """Do nothing (a chain step gets the previous result, a chord callback the list of results)."""
    return None
