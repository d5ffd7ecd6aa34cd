"""Real time, real processes: three workers carry one every-second cron job for about 5 seconds."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.conftest import aqueue_cli

WORKERS = 3
RUN_S = 5.0
SETTINGS = "tests.scheduler.cron_proc.Settings"


def _wait_for_workers(sync_r, procs: list[subprocess.Popen[str]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(sync_r.keys("arq:worker:*")) < WORKERS or not sync_r.exists("arq:cron:job:tick"):
        for proc in procs:
            assert proc.poll() is None, "a worker exited early"
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.05)


def _stop(procs: list[subprocess.Popen[str]]) -> list[str]:
    """SIGTERM every worker; return their output (which also closes the pipes)."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    outputs = []
    for proc in procs:
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        outputs.append(out or "")
    return outputs


@pytest.mark.slow
def test_every_second_job_on_three_worker_processes_runs_each_slot_once(redis_url, sync_r) -> None:
    procs = [aqueue_cli("worker", SETTINGS, redis_url=redis_url) for _ in range(WORKERS)]
    try:
        _wait_for_workers(sync_r, procs)
        up_ms = int(time.time() * 1000)
        time.sleep(RUN_S)
        end_ms = int(time.time() * 1000)
    finally:
        outputs = _stop(procs)
    assert all("Traceback" not in out for out in outputs), outputs
    ticks = [tuple(map(int, t.decode().split(":"))) for t in sync_r.lrange("cronproc:ticks", 0, -1)]
    slots = [slot for slot, _, _ in ticks]
    assert len(slots) == len(set(slots)), "a slot ran twice"
    window = range((up_ms // 1000 + 1) * 1000, end_ms - 1000, 1000)  # all three runners were up
    assert len(window) >= RUN_S - 2
    assert [s for s in window if s not in set(slots)] == [], "a slot was missed"
    owners = {sync_r.get(f"arq:cron:slot:tick:{s}") for s in window}
    lateness = sorted(start - slot for slot, start, _ in ticks if slot in window)
    print(
        f"\n{len(window)} slots in the window, {len(ticks)} runs in all; "
        f"claims won by {len(owners)} workers, "
        f"run by {len({pid for *_, pid in ticks})} processes; start lateness ms: min {lateness[0]}, "
        f"median {lateness[len(lateness) // 2]}, max {lateness[-1]}"
    )
    assert lateness[-1] < 1000, "runs should start well within a second of their slot"
