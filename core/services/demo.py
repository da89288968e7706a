"""The demo clinic: one account per role and a few fictitious patients. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from core.models import Patient, User
from core.security.passwords import generate_password
from core.security.rbac import Actor, Permission, Role, require
from core.services import audit
from core.services.intake import register_intake
from core.services.users import UserCreate, _create, update_profile
from core.services.auth import actor_for

DEMO_USERS = (
    ("admin", "Asha Admin", Role.ADMIN),
    ("dr.rao", "Dr. Meera Rao", Role.DOCTOR),
    ("reception", "Ravi Frontdesk", Role.RECEPTIONIST),
    ("manager", "Nisha Manager", Role.MANAGER),
)

# Fictitious people; phone numbers from India's documentation range are not used by anyone real.
DEMO_PATIENTS = (
    ("Arjun Mehta", "1988-04-12", "male", "+91 98200 00001", "arjun.mehta@example.com",
     "Low mood and poor sleep since losing his job", ["icd:MB24.5", "icd:7A00"], "GP referral"),
    ("Priya Nair", "1995-11-03", "female", "+91 98200 00002", "priya.nair@example.com",
     "Constant worry, racing heart before exams", ["icd:MB24.3"], "Self"),
    ("Kabir Singh", "1972-01-27", "male", "+91 98200 00003", None,
     "Hearing voices for two weeks, brought by brother", [], "Emergency department"),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    password: str


def create_demo_clinic(*, session: Session, actor: Actor) -> list[DemoLogin]:
    """Creates what is missing; passwords of new accounts are returned once and never stored in clear."""
    require(actor, Permission.USER_MANAGE)
    created: list[DemoLogin] = []
    for username, full_name, role in DEMO_USERS:
        if session.exec(select(User.id).where(User.username == username)).first():
            continue
        password = generate_password()
        _create(session, actor, UserCreate(username=username, full_name=full_name, role=role, password=password))
        created.append(DemoLogin(username, role.value, password))
    doctor = session.exec(select(User).where(User.username == "dr.rao")).scalars().one()
    if created and doctor.role == Role.DOCTOR.value:
        update_profile(session=session, actor=actor, user_id=doctor.id, data={
            "registration_number": "MMC-2011-04567", "qualification": "MBBS, MD (Psychiatry)",
            "specialty": "Adult psychiatry", "signature_line": "Dr. Meera Rao, MD (Psychiatry)"})
    if session.exec(select(Patient.id)).first() is None:
        reception = session.exec(select(User).where(User.username == "reception")).scalars().one()
        desk = actor_for(reception)
        for name, dob, sex, phone, email, complaint, symptoms, referral in DEMO_PATIENTS:
            register_intake(session=session, actor=desk, data={
                "patient": {"full_name": name, "date_of_birth": dob, "sex": sex, "phone": phone, "email": email,
                            "assigned_doctor_id": doctor.id, "consent_recording": True},
                "intake": {"presenting_complaints": complaint, "presenting_symptoms": symptoms,
                           "referral_source": referral, "illness_duration_value": 3, "illness_duration_unit": "months",
                           "informants": [{"relationship": "self", "reliability": "reliable"}]}})
    from core.services.front_desk_demo import create_demo_front_desk

    create_demo_front_desk(session=session, actor=actor)
    audit.record(session, actor=actor, action="demo.create", details={"accounts_created": len(created)})
    return created
