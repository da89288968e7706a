"""Plain functions that build test data through the services, so every row is made as the app makes it."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from core.models import User
from core.security.rbac import Actor, Role, system_actor
from core.services import patients as patient_service
from core.services import users as user_service
from core.services.auth import actor_for

DEFAULT_PASSWORD = "correct-Horse-battery-9"
_seq = itertools.count(1)


def make_user(session: Session, *, role: Role | str = Role.DOCTOR, username: str | None = None,
              full_name: str | None = None, password: str = DEFAULT_PASSWORD) -> User:
    role = Role(role)
    username = username or f"{role.value}{next(_seq)}"
    user_service.create_user(session=session, actor=system_actor("test"), data={
        "username": username, "full_name": full_name or f"Test {role.value.title()} {username}",
        "role": role.value, "password": password})
    return session.exec(select(User).where(User.username == username)).scalars().one()


def make_actor(session: Session, *, role: Role | str = Role.DOCTOR, **kwargs: Any) -> Actor:
    return actor_for(make_user(session, role=role, **kwargs))


def make_patient(session: Session, *, actor: Actor | None = None, **overrides: Any) -> patient_service.PatientPublic:
    actor = actor or make_actor(session, role=Role.RECEPTIONIST)
    n = next(_seq)
    data = {
        "full_name": f"Test Patient {n}",
        "date_of_birth": "1990-05-17",
        "sex": "female",
        "phone": f"+91 98{n:08d}"[:16] if "phone" not in overrides else overrides["phone"],
        "email": f"patient{n}@example.org",
    }
    data.update(overrides)
    return patient_service.register_patient(session=session, actor=actor, data=data)
