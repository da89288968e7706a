"""A tiny run of each benchmark, so they never rot. Not timed: only that the results are well-formed."""

from __future__ import annotations

import math
import os

from bench import common, crypto_lookup, login_rerun
from tests.conftest import TEST_ENCRYPTION_KEY, unavailable


def assert_measured(result: dict, *keys: str) -> None:
    for key in keys:
        value = result[key]
        assert isinstance(value, float) and math.isfinite(value) and value > 0, (key, value)


def assert_environment_restored() -> None:
    assert os.environ["SYNAPSE_ENCRYPTION_KEYS"] == TEST_ENCRYPTION_KEY
    assert os.environ["SYNAPSE_ENV"] == "test"


def test_crypto_lookup_tiny(capsys):
    if not common.postgres_reachable():
        unavailable(f"PostgreSQL not reachable at {common.PG_ADMIN_URL}")
    result = crypto_lookup.run(size=300, lookup_count=5, crypto_rounds=20)
    assert_measured(result, "row_crypto_us", "service_ms", "raw_ms", "index_ms", "load_seconds")
    assert result["index_ratio"] == result["index_ms"] / result["raw_ms"]
    assert result["ratio"] == result["service_ms"] / result["raw_ms"]
    assert result["lookups"] == 5 and result["problems"] == []  # every lookup found exactly the right row
    printed = capsys.readouterr().out
    assert f"{result['service_ms']:.3f} ms" in printed and f"{result['ratio']:.2f}x" in printed
    assert_environment_restored()


def test_crypto_lookup_drops_its_database():
    if not common.postgres_reachable():
        unavailable(f"PostgreSQL not reachable at {common.PG_ADMIN_URL}")
    from sqlalchemy import create_engine, text

    admin = create_engine(common.PG_ADMIN_URL)
    query = text("SELECT count(*) FROM pg_database WHERE datname = :n")
    try:
        with common.throwaway_postgres() as url:
            name = url.rsplit("/", 1)[1]
            with admin.connect() as conn:
                assert conn.execute(query, {"n": name}).scalar_one() == 1
            raise RuntimeError("benchmark failed")
    except RuntimeError:
        pass
    with admin.connect() as conn:
        assert conn.execute(query, {"n": name}).scalar_one() == 0
    admin.dispose()


def test_login_rerun_tiny(capsys):
    result = login_rerun.run(size=3)
    assert_measured(result, "verify_ms", "login_ms", "empty_rerun_ms", "home_rerun_ms")
    assert result["login_ratio"] == result["login_ms"] / result["verify_ms"]
    assert result["rerun_ratio"] == result["home_rerun_ms"] / result["empty_rerun_ms"]
    # A signed-in rerun, not the login page:
    assert result["home_title"] == f"Welcome, {login_rerun.FULL_NAME}"
    printed = capsys.readouterr().out
    assert f"{result['rerun_ratio']:.2f}x" in printed and "Welcome, Bench Doctor" in printed
    assert_environment_restored()
