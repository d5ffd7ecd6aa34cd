"""The ``aqueue`` command: the core commands, with each layer's command group mounted on them."""

from aqueue.cli._commands import main
from aqueue.cli._dashboard import dashboard
from aqueue.cli._events import events
from aqueue.cli._job import job
from aqueue.cli._jobs import jobs
from aqueue.cli._queue import queue
from aqueue.scheduler._cli import cron
from aqueue.workflows._cli import workflow

main.add_command(job)
main.add_command(events)
main.add_command(cron)
main.add_command(workflow)
main.add_command(queue)
main.add_command(jobs)
main.add_command(dashboard)

__all__ = ["main"]
