"""``make demo``: start an embedded Redis, a worker process and the producer; print results; exit.

Nothing needs to be installed beforehand but this package (``pip install 'aqueue-redis[embedded]'``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from aqueue.embedded import RedisServer

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    """Run the demo and return the producer's exit code."""
    with RedisServer() as server:
        print(f"embedded redis-server at {server.url}")
        env = {**os.environ, "AQUEUE_REDIS_URL": server.url}
        worker = subprocess.Popen(
            [sys.executable, "-m", "aqueue", "worker", "examples.tasks.WorkerSettings"], cwd=ROOT, env=env
        )
        try:
            scripts = ["examples/producer.py", "examples/workflows.py"]
            codes = [
                subprocess.run([sys.executable, s], cwd=ROOT, env=env, timeout=120).returncode
                for s in scripts
                if (ROOT / s).exists()
            ]
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        print(f"worker exited with {worker.returncode}")
        return max([*codes, worker.returncode])


if __name__ == "__main__":
    sys.exit(main())
