"""The one engine, and units of work: one session, one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session

from core.config import ensure_data_dir, get_settings

_engine: Engine | None = None


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # Let SQLAlchemy, not pysqlite, emit BEGIN: https://docs.sqlalchemy.org/en/21/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            if ":memory:" not in url and "mode=memory" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin_immediate(conn):  # type: ignore[no-untyped-def]
            # Take the write lock at BEGIN so counters (MRN, invoice numbers) and the audit chain
            # are serialised instead of failing with SQLITE_BUSY on lock upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def get_engine() -> Engine:
    global _engine
    if _engine is None:
        settings = get_settings()
        if settings.is_sqlite:
            ensure_data_dir(settings)
        _engine = make_engine(settings.sqlalchemy_url)
    return _engine


def use_engine(engine: Engine | None) -> None:
    """Install the process's engine (tests, CLI); None rebuilds it from settings on next use."""
    global _engine
    if _engine is not None and _engine is not engine:
        _engine.dispose()
    _engine = engine


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One session and one transaction: committed when the block ends, rolled back if it raises.

    Audit rows of refusals and failures written in a transaction that then rolls back (a service records
    'denied' and raises PermissionDenied) are written again in a transaction of their own, so the audit
    log keeps them while nothing else of the failed unit of work remains."""
    from core.services.audit import PENDING_KEY, REPLAY_KEY, replay

    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            with session.begin():
                yield session
        except Exception:
            session.info.pop(PENDING_KEY, None)
            pending = session.info.pop(REPLAY_KEY, None)
            if pending:
                with session.begin():
                    replay(session, pending)
            raise
        session.info.pop(REPLAY_KEY, None)
