"""The benchmark's pure helpers: INFO cpu parsing, per-job figures, ratios and verdicts.

No timing is asserted anywhere: the benchmark's numbers are noisy by nature; these tests prove the
arithmetic that the numbers go through.
"""

from __future__ import annotations

import pytest
import redis as sync_redis

from bench.meter import parse_info, per_job_us, redis_cpu_s
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
    assert verdict([12.0, 13.0], [10.0, 10.0], "higher") == "A better by 25.0%"
    assert verdict([12.0, 13.0], [10.0, 10.0], "lower") == "A worse by 25.0%"
    assert verdict([8.0, 9.0], [10.0, 10.0], "lower") == "A better by 15.0%"
    assert verdict([8.0], [10.0], "lower") == "one round: no spread"


def test_report_rows_carry_their_ratios_into_the_json() -> None:
    row = Row("2", "drain: Redis CPU", "µs/job", "lower", {"aqueue": 20.0, "arq": 80.0, "arq10": None})
    assert row.as_json()["ratios"] == {"arq": 0.25, "arq10": None}
    assert row.ratio("arq") == "0.25×"
