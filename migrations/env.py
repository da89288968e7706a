"""Alembic environment: the database comes from core.config (or a connection handed in by core.migrate)."""

from __future__ import annotations

from alembic import context

import core.models  # noqa: F401  (registers every table)
from core.models import metadata

config = context.config


def run_migrations_offline() -> None:
    from core.config import get_settings

    context.configure(
        url=get_settings().sqlalchemy_url,
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from core.db import get_engine

    with get_engine().connect() as connection:
        _run(connection)
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
