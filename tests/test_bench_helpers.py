"""The benchmark's pure helpers: INFO cpu parsing, per-job figures, A/B ratios and verdicts, ref unpacking.

No timing is asserted anywhere: the benchmark's numbers are noisy by nature; these tests prove the
arithmetic and the plumbing that the numbers go through.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import redis as sync_redis

from bench import ab, ref
from bench.meter import parse_info, per_job_us, redis_cpu_s
from bench.procs import check_origin
from bench.report import Row
from bench.stats import median, paired_ratios, ratio, verdict

RAW_INFO = "# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:2.500000\r\nused_cpu_sys_children:9.0\r\n\r\n"


def test_parse_info_reads_fields_and_skips_section_lines() -> None:
    fields = parse_info(RAW_INFO)
    assert fields == {"used_cpu_sys": "1.250000", "used_cpu_user": "2.500000", "used_cpu_sys_children": "9.0"}


def test_redis_cpu_sums_user_and_sys_of_the_server_only() -> None:
    assert redis_cpu_s(RAW_INFO) == pytest.approx(3.75)
    assert redis_cpu_s({"used_cpu_user": 0.5, "used_cpu_sys": "0.25"}) == pytest.approx(0.75)


def test_redis_cpu_refuses_a_reply_without_the_fields() -> None:
    with pytest.raises(ValueError, match="used_cpu_sys"):
        redis_cpu_s({"used_cpu_user": 1.0})
    with pytest.raises(ValueError, match="used_cpu_user"):
        redis_cpu_s("# Server\r\nredis_version:7.0.0\r\n")


def test_redis_cpu_reads_a_real_server_and_never_goes_back(sync_r: sync_redis.Redis) -> None:
    before = redis_cpu_s(sync_r.info("cpu"))
    for i in range(2000):
        sync_r.set(f"k{i}", "v")
    after = redis_cpu_s(sync_r.info("cpu"))
    assert 0 < before <= after


def test_per_job_us() -> None:
    assert per_job_us(0.5, 10_000) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="positive"):
        per_job_us(1.0, 0)


def test_ratio_and_paired_ratios() -> None:
    assert ratio(3.0, 2.0) == pytest.approx(1.5)
    assert ratio(None, 2.0) is None
    assert ratio(1.0, 0.0) is None
    assert paired_ratios([2.0, 3.0, 4.0], [1.0, 0.0, 8.0]) == [2.0, 0.5]
    with pytest.raises(ValueError, match="rounds differ"):
        paired_ratios([1.0], [1.0, 2.0])
    assert median([3.0, 1.0, 2.0]) == 2.0


def test_verdict_reads_the_rounds_in_the_metric_direction() -> None:
    assert verdict([10.0, 12.0], [11.0, 11.0], "higher") == "within noise"
    assert verdict([12.0, 13.0], [10.0, 10.0], "higher") == "A better in every round (median 25.0%)"
    assert verdict([12.0, 13.0], [10.0, 10.0], "lower") == "A worse in every round (median 25.0%)"
    assert verdict([8.0, 9.0], [10.0, 10.0], "lower") == "A better in every round (median 15.0%)"
    assert verdict([8.0], [10.0], "lower") == "one round: no spread"


def test_rounds_alternate_the_order_of_the_sides() -> None:
    a = ab.Side("A", "working tree", Path("/a"), "a")
    b = ab.Side("B", "main", Path("/b"), "b")
    assert [[s.key for s in ab.order((a, b), i)] for i in range(4)] == [["A", "B"], ["B", "A"]] * 2


def test_summarize_gives_medians_ratio_and_rounds_for_measured_metrics_only() -> None:
    values = {
        "A": {"drain_rate": [100.0, 300.0, 200.0], "drain_redis_us": [10.0, 12.0, 11.0]},
        "B": {"drain_rate": [100.0, 100.0, 100.0], "drain_redis_us": [20.0, 20.0, 20.0]},
        "arq": {"drain_redis_us": [40.0, 48.0, 44.0]},
    }
    rows = {r["metric"]: r for r in ab.summarize(values)}
    assert set(rows) == {"drain_rate", "drain_redis_us"}
    drain = rows["drain_rate"]
    assert drain["A"] == {"median": 200.0, "rounds": [100.0, 300.0, 200.0]}
    assert drain["ratio"] == pytest.approx(2.0)
    assert drain["per_round_ratios"] == [1.0, 3.0, 2.0]
    assert drain["verdict"] == "within noise"
    assert rows["drain_redis_us"]["verdict"] == "A better in every round (median 45.0%)"

    versus = {r["side"]: r for r in ab.versus_arq(values)}
    assert versus["A"]["ratio"] == pytest.approx(0.25)
    assert versus["B"]["redis_us"] == 20.0
    assert versus["B"]["rounds"] == pytest.approx([0.5, 20 / 48, 20 / 44])
    assert versus["arq"]["redis_us"] == 44.0


def test_report_rows_carry_their_ratios_into_the_json() -> None:
    row = Row("2", "drain: Redis CPU", "µs/job", "lower", {"aqueue": 20.0, "arq": 80.0, "arq10": None})
    assert row.as_json()["ratios"] == {"arq": 0.25, "arq10": None}
    assert row.ratio("arq") == "0.25×"


def test_a_child_that_imported_other_code_is_refused(tmp_path: Path) -> None:
    check_origin(str(tmp_path / "aqueue" / "__init__.py"), str(tmp_path))
    check_origin("/anywhere/aqueue/__init__.py", None)
    with pytest.raises(RuntimeError, match="not the aqueue under"):
        check_origin("/elsewhere/aqueue/__init__.py", str(tmp_path))


def _in_git_checkout() -> bool:
    run = subprocess.run(["git", "-C", str(ref.ROOT), "rev-parse", "HEAD"], capture_output=True, check=False)
    return run.returncode == 0


needs_git = pytest.mark.skipif(not _in_git_checkout(), reason="not a git checkout")


@needs_git
def test_unpack_extracts_aqueue_at_the_commit(tmp_path: Path) -> None:
    commit, subject = ref.resolve("HEAD")
    assert len(commit) == 40 and subject
    ref.unpack(commit, tmp_path)
    shown = subprocess.run(
        ["git", "-C", str(ref.ROOT), "show", f"{commit}:aqueue/__init__.py"], capture_output=True, check=True
    ).stdout
    assert (tmp_path / "aqueue" / "__init__.py").read_bytes() == shown


@needs_git
def test_a_ref_that_is_no_commit_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="'no-such-ref-for-the-bench' is not a commit"):
        ref.resolve("no-such-ref-for-the-bench")
