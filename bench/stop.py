"""Stop benchmark child processes: SIGTERM, a grace period, then SIGKILL.

Standard library only: ``bench.celery_peer`` imports it inside Celery's own venv, where aqueue is not
installed.
"""

from __future__ import annotations

import signal
import subprocess


def stop_processes(*procs: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM every process still running, then wait up to ``grace_s`` for each; SIGKILL the rest."""
    running = [p for p in procs if p.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    for proc in running:
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
