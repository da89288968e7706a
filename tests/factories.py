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


# --- added for the reception and records tests -------------------------------------------------------

IMPORT_COLUMNS = ("full_name", "date_of_birth", "sex", "phone", "email", "address")
_SYLLABLES_A = ("Quor", "Vesh", "Tindel", "Zarov", "Mirth", "Kolvan", "Brask", "Yeltor", "Pharn", "Wodrim")
_SYLLABLES_B = ("anth", "ulix", "omber", "ivrak", "estol", "uzman", "orvil", "athry", "ionek", "umbra")
_SYLLABLES_C = ("elia", "odan", "imsky", "urath", "ovich", "anteq", "erwyn", "olund", "issar", "ywood")


def distinctive_word(n: int, offset: int = 0) -> str:
    """A made-up name word of at least 11 letters, unique for n in 0..999 (so it cannot occur by chance
    in ciphertext, hex digests or the catalogue)."""
    n = (n + offset) % 1000
    return _SYLLABLES_A[n // 100] + _SYLLABLES_B[(n // 10) % 10] + _SYLLABLES_C[n % 10]


def generated_people(count: int) -> list[dict[str, str]]:
    """`count` (≤ 1000) distinct people for imports: distinctive names, valid Indian mobiles, emails.
    Rows come in a shuffled (but fixed) order so name ranks are not assigned in alphabetical order."""
    assert count <= 1000
    people = []
    for i in range(count):
        first, last = distinctive_word(i * 7 % 1000), distinctive_word(i * 13 % 1000, offset=500)
        national = f"9{(i * 7919 + 123457) % 10**9:09d}"  # 10 digits, starts with 9: a valid mobile
        people.append({
            "full_name": f"{first} {last}",
            "date_of_birth": f"{1940 + i % 60}-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "sex": ("female", "male", "intersex", "unknown")[i % 4],
            "phone": f"+91 {national[:5]} {national[5:]}",
            "email": f"{first.lower()}.{last.lower()}{i}@Example.org",
            "address": f"{i} {last} Road, Pune",
        })
    return people


def patient_csv(rows: list[dict[str, str]], columns: tuple[str, ...] = IMPORT_COLUMNS) -> bytes:
    """A patient-import CSV (UTF-8) with a header row; missing values are empty cells."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue().encode("utf-8")


def make_doctor_with_patient(session: Session, **patient_overrides: Any) -> tuple[Actor, Actor, patient_service.PatientPublic]:
    """(doctor, receptionist, patient assigned to that doctor)."""
    doctor = make_actor(session, role=Role.DOCTOR)
    desk = make_actor(session, role=Role.RECEPTIONIST)
    patient = make_patient(session, actor=desk, assigned_doctor_id=doctor.user_id, **patient_overrides)
    return doctor, desk, patient


# --- added for the front desk tests (appointments and billing) ---------------------------------------

WORKDAY_HOURS = {d: {"hours": "09:00-18:00", "breaks": "13:00-14:00"} for d in range(6)}


def set_hours(session: Session, *, actor: Actor, doctor_id: Any, days: dict | None = None) -> None:
    """Working hours of a doctor through the service (default: Monday–Saturday 09–18, lunch 13–14)."""
    from core.services import scheduling

    scheduling.set_working_week(session=session, actor=actor, doctor_id=doctor_id, days=days or WORKDAY_HOURS)


def make_appointment(session: Session, *, actor: Actor, patient_id: Any, doctor_id: Any, date: Any,
                     time: str = "10:00", **data: Any):  # type: ignore[no-untyped-def]
    from core.services import scheduling

    return scheduling.book_appointment(session=session, actor=actor, data={
        "patient_id": patient_id, "doctor_id": doctor_id, "date": date, "time": time, **data})


def price_item_id(session: Session, code: str):  # type: ignore[no-untyped-def]
    from core.models import PriceItem

    return session.exec(select(PriceItem.id).where(PriceItem.code == code)).scalars().one()


def make_bill(session: Session, *, actor: Actor, patient_id: Any, items: list[dict] | None = None,
              issue: bool = False, **data: Any):  # type: ignore[no-untyped-def]
    """A draft bill (default: one follow-up consultation from the seeded price list), issued if asked."""
    from core.services import billing

    lines = items if items is not None else [{"price_item_id": price_item_id(session, "CONS-FU")}]
    bill = billing.create_bill(session=session, actor=actor, data={"patient_id": patient_id, "items": lines, **data})
    return billing.issue_bill(session=session, actor=actor, bill_id=bill.id) if issue else bill
