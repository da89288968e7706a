"""A tiny run of bench/front_desk.py, so it never rots. Not timed: only that the results are well-formed (and
that the concurrently issued numbers came out without gaps)."""

from __future__ import annotations

from bench import common, front_desk
from tests.bench.test_bench_tiny import assert_environment_restored, assert_measured
from tests.conftest import unavailable


def test_front_desk_tiny(capsys):
    if not common.postgres_reachable():
        unavailable(f"PostgreSQL not reachable at {common.PG_ADMIN_URL}")
    result = front_desk.run(size=800, bills=40, writers=4, repeats=3)
    assert_measured(result, "issue_per_s", "insert_per_s", "issue_median_ms", "day_ms", "day_raw_ms", "load_seconds")
    assert result["numbers_ok"] and result["bills"] == 40 and result["writers"] == 4
    assert result["issue_ratio"] == result["insert_per_s"] / result["issue_per_s"]
    assert result["day_ratio"] == result["day_ms"] / result["day_raw_ms"]
    assert result["day_problems"] == [] and result["repeats"] == 3  # each view found exactly that day's rows
    printed = capsys.readouterr().out
    assert f"{result['issue_per_s']:.0f} bills/s" in printed and f"{result['day_ms']:.3f} ms" in printed
    assert_environment_restored()
