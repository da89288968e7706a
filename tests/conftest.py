"""Shared test set-up: real databases (SQLite file and a throwaway PostgreSQL database), both migrated
with Alembic, and generated keys. Outside CI a missing PostgreSQL or Chromium is a reported skip; with
CI=true it is a failure."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

STRICT = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("SYNAPSE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CHROMIUM = os.environ.get("SYNAPSE_TEST_CHROMIUM", "/usr/bin/chromium")


def unavailable(reason: str) -> None:
    """Skip outside CI; fail in CI, where every part must be present."""
    if STRICT:
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


# Settings and keys are process-wide: every test process gets its own data dir and keys.
_SESSION_DIR = Path(os.environ.get("SYNAPSE_TEST_TMP", "/tmp")) / f"synapse-test-{uuid.uuid4().hex[:8]}"
os.environ["SYNAPSE_ENV"] = "test"
os.environ["SYNAPSE_DATA_DIR"] = str(_SESSION_DIR / "var")
os.environ.pop("SYNAPSE_DATABASE_URL", None)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from cryptography.fernet import Fernet  # noqa: E402

from core import db as core_db  # noqa: E402
from core.config import reset_settings  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.security.crypto import Keyring, generate_index_key, use_keyring  # noqa: E402

TEST_ENCRYPTION_KEY = Fernet.generate_key().decode()
TEST_INDEX_KEY = generate_index_key()
os.environ["SYNAPSE_ENCRYPTION_KEYS"] = TEST_ENCRYPTION_KEY
os.environ["SYNAPSE_INDEX_KEY"] = TEST_INDEX_KEY


def default_keyring() -> Keyring:
    return Keyring.from_strings(TEST_ENCRYPTION_KEY, TEST_INDEX_KEY)


@dataclass
class Database:
    kind: str
    url: str
    engine: Engine


def _pg_admin_engine() -> Engine | None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return engine
    except Exception:  # noqa: BLE001
        engine.dispose()
        return None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = core_db.make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    admin = _pg_admin_engine()
    if admin is None:
        yield None
        return
    name = f"synapse_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = core_db.make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _reset_postgres(engine: Engine) -> None:
    # Reference data loaded by migrations stays; everything else is emptied.
    tables = [t for t in inspect(engine).get_table_names() if t not in ("alembic_version", "master_symptoms", "price_items")]
    with engine.begin() as conn:
        # Test isolation only: the append-only triggers would refuse TRUNCATE of audit_log.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
        conn.execute(text("INSERT INTO counters (name, value) VALUES ('mrn', 0)"))
        conn.execute(text("INSERT INTO audit_head (id, seq, hash, updated_at) VALUES (1, 0, :h, now())"), {"h": "0" * 64})


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, sqlite_template, postgres_database, tmp_path) -> Iterator[Database]:
    """A freshly migrated, empty database of each kind, installed as the process's engine."""
    use_keyring(default_keyring())
    reset_settings()
    if request.param == "sqlite":
        path = tmp_path / "synapse.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
        engine = core_db.make_engine(url)
    else:
        if postgres_database is None:
            unavailable(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
        url = postgres_database
        engine = core_db.make_engine(url)
        _reset_postgres(engine)
    core_db.use_engine(engine)
    yield Database(request.param, url, engine)
    core_db.use_engine(None)
    use_keyring(None)


@pytest.fixture
def sqlite_database(sqlite_template, tmp_path) -> Iterator[Database]:
    """SQLite only, for tests about the app rather than the database (UI, CLI)."""
    use_keyring(default_keyring())
    reset_settings()
    path = tmp_path / "synapse.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = core_db.make_engine(url)
    core_db.use_engine(engine)
    yield Database("sqlite", url, engine)
    core_db.use_engine(None)
    use_keyring(None)


def pytest_sessionfinish(session, exitstatus) -> None:  # noqa: ARG001
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)
