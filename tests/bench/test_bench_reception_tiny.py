"""Tiny runs of the reception benchmarks (patient list and search, Patients page rerun, symptom search), so
they never rot. Not timed: only that the results are well-formed and the right rows came back."""

from __future__ import annotations

import itertools
import math

from bench import common, patient_list, symptom_search
from tests.bench.test_bench_tiny import assert_environment_restored, assert_measured
from tests.conftest import unavailable


def needs_postgres() -> None:
    if not common.postgres_reachable():
        unavailable(f"PostgreSQL not reachable at {common.PG_ADMIN_URL}")


def test_name_ranks_follow_normalised_alphabetical_order():
    names = ["zoya Khan", "Aarav Shah", "aarav shah", "Ánanya Iyer", "D'Souza Farah", "Aarav  Bhat"]
    ranks = patient_list.name_ranks(names)
    by_rank = [names[k] for k in sorted(range(len(names)), key=ranks.__getitem__)]
    # normalised (case-folded, punctuation dropped), equal names in registration order
    assert by_rank == ["Aarav  Bhat", "Aarav Shah", "aarav shah", "D'Souza Farah", "zoya Khan", "Ánanya Iyer"]
    steps = sorted(ranks)
    assert all(b - a == patient_list.name_index.STEP for a, b in itertools.pairwise(steps))
    assert patient_list.name_index.MIN_RANK < steps[0] and steps[-1] < patient_list.name_index.MAX_RANK


def test_patient_list_tiny(capsys):
    needs_postgres()
    result = patient_list.run(size=120, rounds=3, rerun_rounds=2)
    assert_measured(
        result,
        "load_seconds",
        "list_last_visit_ms",
        "list_last_visit_raw_ms",
        "list_name_ms",
        "list_name_raw_ms",
        "exact_ms",
        "exact_raw_ms",
        "prefix_ms",
        "prefix_raw_ms",
        "empty_rerun_ms",
        "page_rerun_ms",
        "page_service_ms",
        "home_rerun_ms",
    )
    assert result["list_last_visit_ratio"] == result["list_last_visit_ms"] / result["list_last_visit_raw_ms"]
    assert result["list_name_ratio"] == result["list_name_ms"] / result["list_name_raw_ms"]
    assert result["exact_ratio"] == result["exact_ms"] / result["exact_raw_ms"]
    assert result["prefix_ratio"] == result["prefix_ms"] / result["prefix_raw_ms"]
    assert result["rerun_ratio"] == result["page_rerun_ms"] / (
        result["empty_rerun_ms"] + result["page_service_ms"]
    )
    # Every page, phone search and name search returned exactly the expected rows (compared with raw SQL,
    # with the generated names' alphabetical order, and with the name-prefix rule), and the page showed
    # the service's rows:
    assert result["problems"] == []
    assert result["rows_shown"] in (25, patient_list.PAGE_SIZE)
    assert result["prefix_mean_matches"] >= 1
    printed = capsys.readouterr().out
    for key in ("list_name_ms", "list_last_visit_ms", "prefix_ms", "page_rerun_ms"):
        assert f"{result[key]:.2f} ms" in printed
    assert f"{result['exact_ratio']:.2f}x" in printed and f"{result['rerun_ratio']:.2f}x" in printed
    assert_environment_restored()


def test_symptom_search_tiny(capsys):
    needs_postgres()
    result = symptom_search.run(size=300, rounds=3)
    assert_measured(result, "service_ms", "sql_ms", "load_seconds")
    assert result["ratio"] == result["service_ms"] / result["sql_ms"]
    assert result["catalogue"] > 200  # the ICD-11 catalogue migration 0002 loads
    assert list(result["queries"]) == [q for q, _, _ in symptom_search.QUERIES]
    for query, q in result["queries"].items():
        assert all(
            isinstance(q[k], float) and math.isfinite(q[k]) and q[k] > 0 for k in ("service_ms", "sql_ms")
        )
        assert q["ratio"] == q["service_ms"] / q["sql_ms"]
        assert 1 <= q["hits"] <= symptom_search.LIMIT, query
    # Each query reached its tier with the expected entry, tiers in order, only the doctor's own customs:
    assert result["problems"] == []
    assert result["queries"]["MB24.5"]["first"] == ("code", "Depressed mood")
    assert result["queries"]["anxeity"]["sql_rows"] == 0  # the baseline has no typo tolerance
    printed = capsys.readouterr().out
    assert f"{result['service_ms']:.2f} ms" in printed and f"{result['ratio']:.2f}x" in printed
    assert_environment_restored()
