"""Shared by the front-desk tests: a settable clock for the scheduling and billing services, and a small clinic."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from core.db import unit_of_work
from core.security.rbac import Actor, Role
from core.services import billing, scheduling, users
from tests.factories import DEFAULT_PASSWORD, make_actor, make_patient, set_hours

IST = ZoneInfo("Asia/Kolkata")
UTC = dt.UTC
# A Monday, 08:00 in the clinic: the clock every front-desk test starts from.
MONDAY = dt.date(2030, 1, 7)
START = dt.datetime(2030, 1, 7, 8, 0, tzinfo=IST)


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now.astimezone(UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, when: dt.datetime) -> None:
        self.now = when.astimezone(UTC)


@pytest.fixture(name="clock")
def clock_fixture(monkeypatch) -> Clock:  # type: ignore[no-untyped-def]
    """What the scheduling and billing services take as 'now' (audit rows keep the real time)."""
    c = Clock(START)
    monkeypatch.setattr(scheduling, "utcnow", c)
    monkeypatch.setattr(billing, "utcnow", c)
    return c


@dataclass
class Clinic:
    doctor: Actor
    other_doctor: Actor
    desk: Actor
    patient_id: object
    patient_mrn: str
    patient_name: str
    other_patient_id: object
    _extra: dict | None = None

    def _role(self, role: Role) -> Actor:
        # Made on first use: each account costs an argon2 hash, and most tests need neither.
        self._extra = self._extra or {}
        if role not in self._extra:
            with _one_hash_per_password(), unit_of_work() as session:
                self._extra[role] = make_actor(session, role=role)
        return self._extra[role]

    @property
    def manager(self) -> Actor:
        return self._role(Role.MANAGER)

    @property
    def admin(self) -> Actor:
        return self._role(Role.ADMIN)


_HASHES: dict[str, str] = {}


@contextmanager
def _one_hash_per_password() -> Iterator[None]:
    """Staff accounts through the users service, with the argon2 hash of the test password computed once per
    process instead of once per account (the front-desk tests are not about passwords)."""
    original = users.hash_password

    def cached(password: str) -> str:
        if password != DEFAULT_PASSWORD:
            return original(password)
        if password not in _HASHES:
            _HASHES[password] = original(password)
        return _HASHES[password]

    users.hash_password = cached
    try:
        yield
    finally:
        users.hash_password = original


def clinic(consent: bool = True) -> Clinic:
    with _one_hash_per_password(), unit_of_work() as session:
        doctor = make_actor(session, role=Role.DOCTOR, full_name="Dr. Meera Rao")
        other = make_actor(session, role=Role.DOCTOR, full_name="Dr. Vikram Shah")
        desk = make_actor(session, role=Role.RECEPTIONIST)
        patient = make_patient(session, actor=desk, full_name="Sunita Patil", assigned_doctor_id=doctor.user_id,
                               consent_recording=consent)
        second = make_patient(session, actor=desk, full_name="Rohan Iyer", assigned_doctor_id=doctor.user_id)
        set_hours(session, actor=desk, doctor_id=doctor.user_id)
        set_hours(session, actor=desk, doctor_id=other.user_id)
    return Clinic(doctor, other, desk, patient.id, patient.mrn, patient.full_name, second.id)


def count(model) -> int:  # type: ignore[no-untyped-def]
    with unit_of_work() as session:
        return session.exec(select(func.count()).select_from(model)).scalar_one()
