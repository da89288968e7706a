"""Gapless counters: the next value is taken under the row's lock inside the caller's transaction, so a
rolled-back unit of work gives its number back and no two transactions get the same one."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from core.models import Counter


def next_value(session: Session, name: str) -> int:
    for _ in range(3):
        result = session.exec(
            update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
        )
        value = result.scalar_one_or_none()
        if value is not None:
            return int(value)
        try:
            with session.begin_nested():
                session.exec(insert(Counter).values(name=name, value=0))
        except IntegrityError:
            pass  # another transaction created it first; take the lock on the next pass
    raise RuntimeError(f"counter {name!r} could not be incremented")


def current_value(session: Session, name: str) -> int:
    value = session.exec(select(Counter.value).where(Counter.name == name)).scalar_one_or_none()
    return int(value or 0)
