"""Shared by the benchmarks: timing, an isolated app environment, a throwaway PostgreSQL database, the CLI."""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

    from core.security.rbac import Actor

REPO_ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "SYNAPSE_BENCH_POSTGRES_URL",
    os.environ.get("SYNAPSE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
)
_ENV_VARS = (
    "SYNAPSE_ENV", "SYNAPSE_DATA_DIR", "SYNAPSE_DATABASE_URL", "SYNAPSE_ENCRYPTION_KEYS", "SYNAPSE_INDEX_KEY",
)


def timed(fn: Callable[..., object], *args: object) -> tuple[float, object]:
    """Seconds one call fn(*args) takes, and what it returned."""
    start = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - start, value


def median(samples: list[float]) -> float:
    if not samples:
        raise ValueError("no samples")
    return statistics.median(samples)


def ratio(measured: float, baseline: float) -> float:
    if not (math.isfinite(measured) and math.isfinite(baseline)) or baseline <= 0:
        raise ValueError(f"cannot form a ratio of {measured!r} to {baseline!r}")
    return measured / baseline


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


@contextmanager
def app_environment() -> Iterator[Path]:
    """A temporary data dir and generated keys, in the environment and installed as the process keyring;
    the previous environment, settings, engine and keyring are restored afterwards."""
    from core import db as core_db
    from core.config import reset_settings
    from core.security.crypto import Keyring, generate_index_key, use_keyring

    saved = {name: os.environ.get(name) for name in _ENV_VARS}
    with tempfile.TemporaryDirectory(prefix="synapse-bench-") as tmp:
        encryption_key, index_key = Fernet.generate_key().decode(), generate_index_key()
        os.environ.update({
            "SYNAPSE_ENV": "development", "SYNAPSE_DATA_DIR": str(Path(tmp) / "var"),
            "SYNAPSE_ENCRYPTION_KEYS": encryption_key, "SYNAPSE_INDEX_KEY": index_key,
        })
        os.environ.pop("SYNAPSE_DATABASE_URL", None)
        reset_settings()
        use_keyring(Keyring.from_strings(encryption_key, index_key))
        try:
            yield Path(tmp)
        finally:
            core_db.use_engine(None)
            use_keyring(None)
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            reset_settings()


def postgres_reachable(admin_url: str = PG_ADMIN_URL) -> bool:
    engine = create_engine(admin_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable" here
        return False
    finally:
        engine.dispose()


@contextmanager
def throwaway_postgres(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """CREATE DATABASE synapse_bench_<random>; yields its URL; dropped at the end, also on error."""
    name = f"synapse_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin_url.rsplit("/", 1)[0] + f"/{name}"
        finally:
            from core import db as core_db

            core_db.use_engine(None)  # closes the pooled connections the benchmark left open
            with admin.connect() as conn:
                kill = text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n")
                conn.execute(kill, {"n": name})
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()


def cli(run: Callable[..., dict], default_size: int, size_help: str) -> None:
    parser = argparse.ArgumentParser(description=sys.modules[run.__module__].__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=default_size,
                        help=f"{size_help} (default: {default_size})")
    args = parser.parse_args()
    if args.size < 1:
        parser.error("--size must be at least 1")
    run(size=args.size)


# --- Users, sign-in and the signed-in app (added for the reception benchmarks) ----------------------------

BENCH_PASSWORD = "bench-Synapse-pass-7"


def make_bench_user(role: str, username: str, full_name: str, password: str = BENCH_PASSWORD) -> Actor:
    """Create an active user through core.services.users (real password hash, audited); returns its Actor."""
    from sqlalchemy import select

    from core.db import unit_of_work
    from core.models import User
    from core.security.rbac import system_actor
    from core.services import users
    from core.services.auth import actor_for

    with unit_of_work() as session:
        users.create_user(session=session, actor=system_actor("bench"), data={
            "username": username, "full_name": full_name, "role": role, "password": password})
        return actor_for(session.exec(select(User).where(User.username == username)).scalars().one())


def session_token(username: str, password: str = BENCH_PASSWORD) -> str:
    """Sign in through core.services.auth.login; the session token a signed-in page keeps in session state."""
    from core.db import unit_of_work
    from core.services import auth

    with unit_of_work() as session:
        result = auth.login(session=session, username=username, password=password, client="bench")
    if not result.ok or not result.token:
        raise AssertionError(f"sign-in of {username!r} failed: {result.error}")
    return result.token


def signed_in_app(token: str, timeout: float = 120) -> AppTest:
    """AppTest of Home.py with a valid session token in session state (not yet run)."""
    from streamlit.testing.v1 import AppTest

    from core.ui.auth import TOKEN_KEY

    at = AppTest.from_file(str(REPO_ROOT / "Home.py"), default_timeout=timeout)
    at.session_state[TOKEN_KEY] = token
    return at
