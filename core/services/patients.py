"""The patient registry: registration, exact search through the blind index, lists that survive
undecryptable rows, and the audited patient view."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlmodel import Session

from core.config import get_settings
from core.errors import ValidationError
from core.models import Patient, User
from core.models.base import utcnow
from core.security.crypto import blind_index, is_undecryptable
from core.security.rbac import Actor, Permission, Role, require
from core.services import audit
from core.services.access import load_patient
from core.services.counters import next_value
from core.validation import (
    FieldProblem,
    check_past_date,
    clean_text,
    normalise_email,
    normalise_name,
    normalise_phone,
    parse_input,
)

Sex = Literal["female", "male", "intersex", "unknown"]
PAGE_SIZES = (25, 50, 100)
ENCRYPTED_FIELDS = ("full_name", "date_of_birth", "phone", "email", "address", "emergency_contact")


class PatientCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    full_name: str = Field(max_length=200)
    date_of_birth: dt.date | None = None
    age_years: int | None = None
    sex: Sex = "unknown"
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    address: str | None = Field(default=None, max_length=500)
    preferred_language: str | None = Field(default=None, max_length=20)
    assigned_doctor_id: uuid.UUID | None = None
    consent_recording: bool = False
    consent_date: dt.date | None = None


class PatientPublic(BaseModel):
    """What a page receives: decrypted values, or a marker text and the field in `unreadable`."""

    id: uuid.UUID
    mrn: str
    full_name: str
    date_of_birth: dt.date | None
    dob_is_estimate: bool
    age: int | None
    sex: str
    phone: str | None
    email: str | None
    address: str | None
    preferred_language: str | None
    assigned_doctor_id: uuid.UUID | None
    assigned_doctor_name: str | None
    consent_recording: bool
    consent_date: dt.date | None
    created_at: dt.datetime
    last_visit_at: dt.datetime | None
    unreadable: list[str] = []


class PatientRow(BaseModel):
    id: uuid.UUID
    mrn: str
    full_name: str
    age: int | None
    sex: str
    assigned_doctor_name: str | None
    last_visit_at: dt.datetime | None
    unreadable: bool = False


class PatientPage(BaseModel):
    rows: list[PatientRow]
    total: int
    page: int
    page_size: int


def age_on(dob: dt.date | None, today: dt.date) -> int | None:
    if dob is None or is_undecryptable(dob):
        return None
    return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))


def _today() -> dt.date:
    return utcnow().astimezone(get_settings().zone).date()


def _name_dob_key(name: str, dob: dt.date | None) -> str | None:
    return blind_index("name_dob", f"{normalise_name(name)}|{dob.isoformat()}") if dob else None


def _validate(session: Session, data: PatientCreate) -> dict:
    errors: dict[str, str] = {}
    values: dict = {}
    today = _today()

    def check(field: str, fn):  # type: ignore[no-untyped-def]
        try:
            values[field] = fn()
        except FieldProblem as exc:
            errors[field] = str(exc)

    check("full_name", lambda: clean_text(data.full_name, field="full name", max_length=200))
    if "full_name" in values and values["full_name"] and len(normalise_name(values["full_name"])) < 2:
        errors["full_name"] = "Enter the patient's name (at least two letters)."
    if data.date_of_birth is not None and data.age_years is not None:
        errors["age_years"] = "Give either the date of birth or the age, not both."
    elif data.date_of_birth is not None:
        check("date_of_birth", lambda: check_past_date(data.date_of_birth, field="date of birth", today=today))
        values["dob_is_estimate"] = False
    elif data.age_years is not None:
        if not 0 <= data.age_years <= 120:
            errors["age_years"] = "Age must be between 0 and 120 years."
        else:
            values["date_of_birth"] = dt.date(today.year - data.age_years, 7, 1)
            values["dob_is_estimate"] = True
    else:
        values["date_of_birth"], values["dob_is_estimate"] = None, False
    region = "IN"
    check("phone", lambda: normalise_phone(data.phone, region) if data.phone else None)
    check("email", lambda: normalise_email(data.email) if data.email else None)
    check("address", lambda: clean_text(data.address, field="address", max_length=500, required=False, multiline=True))
    check("preferred_language", lambda: clean_text(data.preferred_language, field="language", max_length=20, required=False))
    if data.assigned_doctor_id is not None:
        doctor = session.get(User, data.assigned_doctor_id)
        if doctor is None or doctor.role != Role.DOCTOR.value or not doctor.is_active:
            errors["assigned_doctor_id"] = "Choose an active doctor."
    if data.consent_recording:
        check("consent_date", lambda: check_past_date(data.consent_date or today, field="consent date", today=today))
    if errors:
        raise ValidationError(errors)
    return values


def register_patient(*, session: Session, actor: Actor, data: object) -> PatientPublic:
    require(actor, Permission.PATIENT_REGISTER)
    payload = parse_input(PatientCreate, data)
    values = _validate(session, payload)
    number = next_value(session, "mrn")
    now = utcnow()
    patient = Patient(
        mrn=f"P-{number:06d}",
        full_name=values["full_name"],
        date_of_birth=values["date_of_birth"],
        dob_is_estimate=values["dob_is_estimate"],
        sex=payload.sex,
        phone=values["phone"],
        email=values["email"],
        address=values["address"],
        preferred_language=values["preferred_language"],
        phone_index=blind_index("phone", values["phone"]) if values["phone"] else None,
        email_index=blind_index("email", values["email"]) if values["email"] else None,
        name_dob_index=_name_dob_key(values["full_name"], values["date_of_birth"]),
        assigned_doctor_id=payload.assigned_doctor_id,
        consent_recording=payload.consent_recording,
        consent_date=values.get("consent_date") if payload.consent_recording else None,
        consent_recorded_by=actor.user_id if payload.consent_recording else None,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(patient)
    session.flush()
    audit.record(session, actor=actor, action="patient.create", entity="patient", entity_id=patient.id)
    return _to_public(session, patient)


def _doctor_names(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    return {r[0]: r[1] for r in session.exec(select(User.id, User.full_name).where(User.id.in_(ids))).all()}


def _unreadable(patient: Patient) -> list[str]:
    return [f for f in ENCRYPTED_FIELDS if is_undecryptable(getattr(patient, f))]


def _shown(value):  # type: ignore[no-untyped-def]
    return str(value) if is_undecryptable(value) else value


def _to_public(session: Session, patient: Patient) -> PatientPublic:
    names = _doctor_names(session, {patient.assigned_doctor_id} if patient.assigned_doctor_id else set())
    dob = patient.date_of_birth
    return PatientPublic(
        id=patient.id, mrn=patient.mrn, full_name=_shown(patient.full_name),
        date_of_birth=None if is_undecryptable(dob) else dob, dob_is_estimate=patient.dob_is_estimate,
        age=age_on(dob, _today()), sex=patient.sex, phone=_shown(patient.phone), email=_shown(patient.email),
        address=_shown(patient.address), preferred_language=patient.preferred_language,
        assigned_doctor_id=patient.assigned_doctor_id,
        assigned_doctor_name=names.get(patient.assigned_doctor_id) if patient.assigned_doctor_id else None,
        consent_recording=patient.consent_recording, consent_date=patient.consent_date,
        created_at=patient.created_at, last_visit_at=patient.last_visit_at, unreadable=_unreadable(patient),
    )


def _record_unreadable(session: Session, actor: Actor, patient: Patient, fields: list[str]) -> None:
    audit.record(session, actor=actor, action="patient.decrypt_error", entity="patient", entity_id=patient.id,
                 outcome="error", details={"fields": fields})


def get_patient(*, session: Session, actor: Actor, patient_id: object) -> PatientPublic:
    """Demographics; every view is one audit row."""
    require(actor, Permission.PATIENT_READ_DEMOGRAPHICS)
    patient = load_patient(session, patient_id)
    public = _to_public(session, patient)
    if public.unreadable:
        _record_unreadable(session, actor, patient, public.unreadable)
    audit.record(session, actor=actor, action="patient.view", entity="patient", entity_id=patient.id)
    return public


def _rows(session: Session, actor: Actor, patients: list[Patient]) -> list[PatientRow]:
    today = _today()
    names = _doctor_names(session, {p.assigned_doctor_id for p in patients if p.assigned_doctor_id})
    rows = []
    for p in patients:
        bad = _unreadable(p)
        if bad:
            _record_unreadable(session, actor, p, bad)
        rows.append(PatientRow(
            id=p.id, mrn=p.mrn, full_name=_shown(p.full_name), age=age_on(p.date_of_birth, today), sex=p.sex,
            assigned_doctor_name=names.get(p.assigned_doctor_id) if p.assigned_doctor_id else None,
            last_visit_at=p.last_visit_at or p.created_at, unreadable=bool(bad),
        ))
    return rows


def list_patients(*, session: Session, actor: Actor, page: int = 1, page_size: int = 25,
                  sort: Literal["last_visit", "mrn"] = "last_visit") -> PatientPage:
    """One page of patients; only the rows shown are decrypted, and a row that cannot be decrypted is
    marked (and audited) instead of failing the list."""
    require(actor, Permission.PATIENT_SEARCH)
    if page_size not in PAGE_SIZES:
        raise ValidationError({"page_size": "Show 25, 50 or 100 rows."})
    if not isinstance(page, int) or page < 1:
        raise ValidationError({"page": "Pages start at 1."})
    total = session.exec(select(func.count()).select_from(Patient)).scalar_one()
    order = (
        (func.coalesce(Patient.last_visit_at, Patient.created_at).desc(), Patient.mrn.desc())
        if sort == "last_visit" else (Patient.mrn.asc(),)
    )
    patients = list(session.exec(select(Patient).order_by(*order).limit(page_size).offset((page - 1) * page_size)).scalars())
    rows = _rows(session, actor, patients)
    audit.record(session, actor=actor, action="patient.list", entity="patient",
                 details={"page": page, "rows": len(rows)})
    return PatientPage(rows=rows, total=total, page=page, page_size=page_size)


def find_patients(*, session: Session, actor: Actor, query: object) -> list[PatientRow]:
    """Exact search by MRN, phone (any formatting) or email, through the blind index."""
    require(actor, Permission.PATIENT_SEARCH)
    text = query.strip() if isinstance(query, str) else ""
    if not text:
        raise ValidationError({"query": "Type an MRN, a phone number or an email address."})
    if len(text) > 254:
        raise ValidationError({"query": "That search is too long."})
    if text.upper().startswith("P-"):
        condition = Patient.mrn == text.upper()
        kind = "mrn"
    elif "@" in text:
        try:
            condition = Patient.email_index == blind_index("email", normalise_email(text))
        except FieldProblem as exc:
            raise ValidationError({"query": str(exc)}) from exc
        kind = "email"
    else:
        try:
            condition = Patient.phone_index == blind_index("phone", normalise_phone(text))
        except FieldProblem as exc:
            raise ValidationError({"query": "Type an MRN (P-000123), a phone number or an email address."}) from exc
        kind = "phone"
    patients = list(session.exec(select(Patient).where(condition).order_by(Patient.mrn).limit(50)).scalars())
    rows = _rows(session, actor, patients)
    audit.record(session, actor=actor, action="patient.search", entity="patient",
                 details={"by": kind, "results": len(rows)})
    return rows
