"""The patient registry: registration and edits, duplicate warnings, exact search through the blind index,
name search by word prefix, lists that sort by last visit or name while decrypting only the rows shown
and that survive undecryptable rows, and the audited patient view."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import load_only
from sqlmodel import Session

from core.config import get_settings
from core.errors import Conflict, ValidationError
from core.models import Patient, PatientNameToken, User
from core.models.base import utcnow
from core.security.crypto import blind_index, is_undecryptable
from core.security.rbac import Actor, Permission, Role, require
from core.services import audit
from core.services.access import load_patient
from core.services.counters import next_value
from core.services.name_index import assign_rank, query_tokens, store_tokens
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
SortOrder = Literal["last_visit", "name", "mrn"]
PAGE_SIZES = (25, 50, 100)
MAX_PAGE = 100_000
LANGUAGES = ("English", "Hindi", "Marathi", "Gujarati", "Tamil", "Telugu", "Kannada", "Bengali", "Malayalam",
             "Punjabi", "Urdu", "Other")
ENCRYPTED_FIELDS = ("full_name", "date_of_birth", "phone", "email", "address", "emergency_contact")
MRN_RE = re.compile(r"^P-?\d{1,6}$", re.IGNORECASE)
LIST_COLUMNS = (Patient.id, Patient.mrn, Patient.full_name, Patient.date_of_birth, Patient.sex,
                Patient.assigned_doctor_id, Patient.last_visit_at)


class EmergencyContact(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    name: str | None = Field(default=None, max_length=200)
    relationship: str | None = Field(default=None, max_length=60)
    phone: str | None = Field(default=None, max_length=40)


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
    emergency_contact: EmergencyContact | None = None
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
    emergency_contact: dict | None
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
    matched_by: str | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


class DuplicatePatient(Conflict):
    """A likely duplicate exists; the page shows it and may register anyway after confirmation."""

    def __init__(self, matches: list[PatientRow]):
        super().__init__("This may be a patient who is already registered: "
                         + ", ".join(f"{m.mrn} ({m.full_name})" for m in matches) + ".")
        self.matches = matches


def age_on(dob: dt.date | None, today: dt.date) -> int | None:
    if dob is None or is_undecryptable(dob):
        return None
    return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))


def today_in_clinic() -> dt.date:
    return utcnow().astimezone(get_settings().zone).date()


def _name_dob_key(name: str, dob: dt.date | None) -> str | None:
    return blind_index("name_dob", f"{normalise_name(name)}|{dob.isoformat()}") if dob else None


def validate_patient(session: Session, data: PatientCreate) -> dict:
    """Every field checked at once; raises ValidationError naming each bad field."""
    errors: dict[str, str] = {}
    values: dict = {}
    today = today_in_clinic()
    region = get_settings().phone_region

    def check(field: str, fn):  # type: ignore[no-untyped-def]
        try:
            values[field] = fn()
        except FieldProblem as exc:
            errors[field] = str(exc)

    check("full_name", lambda: clean_text(data.full_name, field="full name", max_length=200))
    if values.get("full_name") and len(normalise_name(values["full_name"]).replace(" ", "")) < 2:
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
            values["date_of_birth"], values["dob_is_estimate"] = dt.date(today.year - data.age_years, 1, 1), True
    else:
        errors["date_of_birth"] = "Enter the date of birth, or the age if the date is not known."
    check("phone", lambda: normalise_phone(data.phone, region) if data.phone else None)
    check("email", lambda: normalise_email(data.email) if data.email else None)
    check("address", lambda: clean_text(data.address, field="address", max_length=500, required=False, multiline=True))
    if data.preferred_language and data.preferred_language not in LANGUAGES:
        errors["preferred_language"] = "Choose a language from the list (or Other)."
    values["preferred_language"] = data.preferred_language or None
    contact = data.emergency_contact
    if contact and any((contact.name, contact.phone, contact.relationship)):
        ec: dict = {}
        try:
            ec["name"] = clean_text(contact.name, field="emergency contact's name", max_length=200)
            ec["relationship"] = clean_text(contact.relationship, field="relationship", max_length=60, required=False)
            ec["phone"] = normalise_phone(contact.phone, region)
            values["emergency_contact"] = ec
        except FieldProblem as exc:
            errors["emergency_contact"] = str(exc)
    else:
        values["emergency_contact"] = None
    if data.assigned_doctor_id is not None:
        doctor = session.get(User, data.assigned_doctor_id)
        if doctor is None or doctor.role != Role.DOCTOR.value or not doctor.is_active:
            errors["assigned_doctor_id"] = "Choose an active doctor."
    if data.consent_recording:
        check("consent_date", lambda: check_past_date(data.consent_date or today, field="consent date", today=today))
    if errors:
        raise ValidationError(errors)
    return values


def _matches(session: Session, values: dict, exclude: uuid.UUID | None = None) -> list[Patient]:
    conditions = []
    if values.get("phone"):
        conditions.append(Patient.phone_index == blind_index("phone", values["phone"]))
    key = _name_dob_key(values["full_name"], values.get("date_of_birth")) if not values.get("dob_is_estimate") else None
    if key:
        conditions.append(Patient.name_dob_index == key)
    if not conditions:
        return []
    query = select(Patient).where(or_(*conditions)).order_by(Patient.mrn).limit(10)
    if exclude:
        query = query.where(Patient.id != exclude)
    return list(session.exec(query).scalars())


def find_duplicates(*, session: Session, actor: Actor, data: object) -> list[PatientRow]:
    """Likely duplicates of a form being filled in: same phone, or same name and date of birth."""
    require(actor, Permission.PATIENT_REGISTER)
    values = validate_patient(session, parse_input(PatientCreate, data))
    return _rows(session, actor, _matches(session, values))


def _apply(session: Session, patient: Patient, values: dict, data: PatientCreate, actor: Actor) -> None:
    patient.full_name = values["full_name"]
    patient.date_of_birth = values["date_of_birth"]
    patient.dob_is_estimate = values["dob_is_estimate"]
    patient.sex = data.sex
    patient.phone, patient.email, patient.address = values["phone"], values["email"], values["address"]
    patient.preferred_language = values["preferred_language"]
    patient.emergency_contact = values["emergency_contact"]
    patient.phone_index = blind_index("phone", values["phone"]) if values["phone"] else None
    patient.email_index = blind_index("email", values["email"]) if values["email"] else None
    patient.name_dob_index = _name_dob_key(values["full_name"], values["date_of_birth"])
    patient.assigned_doctor_id = data.assigned_doctor_id
    if data.consent_recording and not patient.consent_recording:
        patient.consent_recorded_by = actor.user_id
    patient.consent_recording = data.consent_recording
    patient.consent_date = values.get("consent_date") if data.consent_recording else None
    if not data.consent_recording:
        patient.consent_recorded_by = None
    patient.updated_at = utcnow()


def create_patient_row(session: Session, actor: Actor, data: PatientCreate, values: dict) -> Patient:
    """Insert a validated patient with its MRN, blind indexes, name tokens and rank (no permission check:
    callers are register_patient, intake and import, which check their own)."""
    now = utcnow()
    patient = Patient(mrn=f"P-{next_value(session, 'mrn'):06d}", full_name=values["full_name"],
                      created_by=actor.user_id, created_at=now, updated_at=now, last_visit_at=now)
    _apply(session, patient, values, data, actor)
    session.add(patient)
    session.flush()
    store_tokens(session, patient, values["full_name"])
    assign_rank(session, patient, values["full_name"])
    audit.record(session, actor=actor, action="patient.create", entity="patient", entity_id=patient.id)
    return patient


def register_patient(*, session: Session, actor: Actor, data: object, allow_duplicate: bool = False) -> PatientPublic:
    require(actor, Permission.PATIENT_REGISTER)
    payload = parse_input(PatientCreate, data)
    values = validate_patient(session, payload)
    if not allow_duplicate:
        matches = _matches(session, values)
        if matches:
            raise DuplicatePatient(_rows(session, actor, matches))
    return _to_public(session, create_patient_row(session, actor, payload, values))


def update_patient(*, session: Session, actor: Actor, patient_id: object, data: object,
                   allow_duplicate: bool = False) -> PatientPublic:
    require(actor, Permission.PATIENT_EDIT)
    patient = load_patient(session, patient_id)
    if _unreadable(patient):
        raise Conflict("This record cannot be decrypted with the configured keys; it cannot be edited until they are restored.")
    payload = parse_input(PatientCreate, data)
    values = validate_patient(session, payload)
    if not allow_duplicate:
        matches = _matches(session, values, exclude=patient.id)
        if matches:
            raise DuplicatePatient(_rows(session, actor, matches))
    before = {f: getattr(patient, f) for f in (*ENCRYPTED_FIELDS, "sex", "preferred_language", "assigned_doctor_id",
                                                  "consent_recording", "consent_date")}
    name_changed = normalise_name(patient.full_name) != normalise_name(values["full_name"])
    _apply(session, patient, values, payload, actor)
    changed = sorted(f for f, old in before.items() if getattr(patient, f) != old)
    session.add(patient)
    if name_changed:
        store_tokens(session, patient, values["full_name"])
        assign_rank(session, patient, values["full_name"])
    audit.record(session, actor=actor, action="patient.update", entity="patient", entity_id=patient.id,
                 details={"fields": changed})
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
    contact = patient.emergency_contact
    return PatientPublic(
        id=patient.id, mrn=patient.mrn, full_name=_shown(patient.full_name),
        date_of_birth=None if is_undecryptable(dob) else dob, dob_is_estimate=patient.dob_is_estimate,
        age=age_on(dob, today_in_clinic()), sex=patient.sex, phone=_shown(patient.phone), email=_shown(patient.email),
        address=_shown(patient.address), preferred_language=patient.preferred_language,
        emergency_contact=None if is_undecryptable(contact) else contact,
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
    today = today_in_clinic()
    names = _doctor_names(session, {p.assigned_doctor_id for p in patients if p.assigned_doctor_id})
    rows = []
    for p in patients:
        bad = [f for f in ("full_name", "date_of_birth") if is_undecryptable(getattr(p, f))]
        if bad:
            _record_unreadable(session, actor, p, bad)
        rows.append(PatientRow(
            id=p.id, mrn=p.mrn, full_name=_shown(p.full_name), age=age_on(p.date_of_birth, today), sex=p.sex,
            assigned_doctor_name=names.get(p.assigned_doctor_id) if p.assigned_doctor_id else None,
            last_visit_at=p.last_visit_at, unreadable=bool(bad),
        ))
    return rows


def _search_condition(query: str):  # type: ignore[no-untyped-def]
    """(how it matched, SQL condition) for an MRN, an email, a phone number, or name-word prefixes."""
    text = query.strip()
    if MRN_RE.fullmatch(text):
        digits = re.sub(r"\D", "", text)
        return "mrn", Patient.mrn == f"P-{int(digits):06d}"
    if "@" in text:
        try:
            return "email", Patient.email_index == blind_index("email", normalise_email(text))
        except FieldProblem as exc:
            raise ValidationError({"query": str(exc)}) from exc
    if sum(ch.isdigit() for ch in text) >= 6 and not any(ch.isalpha() for ch in text):
        try:
            return "phone", Patient.phone_index == blind_index("phone", normalise_phone(text, get_settings().phone_region))
        except FieldProblem as exc:
            raise ValidationError({"query": str(exc)}) from exc
    tokens = query_tokens(text)
    if not tokens:
        raise ValidationError({"query": "Type an MRN (P-000123), a phone number, an email address, "
                                        "or at least two letters of a name."})
    conditions = [
        Patient.id.in_(select(PatientNameToken.patient_id).where(PatientNameToken.token == token))
        for token in tokens
    ]
    return "name", and_(*conditions)


def _check_query(query: object) -> str:
    text = query.strip() if isinstance(query, str) else ""
    if not text:
        raise ValidationError({"query": "Type an MRN, a phone number, an email address or a name."})
    if len(text) > 254:
        raise ValidationError({"query": "That search is too long."})
    return text


def list_patients(*, session: Session, actor: Actor, query: object = None, page: int = 1, page_size: int = 25,
                  sort: SortOrder = "last_visit") -> PatientPage:
    """One page of patients, optionally filtered (MRN, phone, email, name prefixes). Only the rows shown
    are decrypted; a row that cannot be decrypted is marked (and audited) instead of failing the list."""
    require(actor, Permission.PATIENT_SEARCH)
    if type(page_size) is not int or page_size not in PAGE_SIZES:
        raise ValidationError({"page_size": "Show 25, 50 or 100 rows."})
    if not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= MAX_PAGE:
        raise ValidationError({"page": f"Choose a page from 1 to {MAX_PAGE}."})
    if sort not in ("last_visit", "name", "mrn"):
        raise ValidationError({"sort": "Sort by last visit, name or MRN."})
    matched_by, condition = (None, None)
    if query is not None and (not isinstance(query, str) or query.strip()):
        matched_by, condition = _search_condition(_check_query(query))
    count = select(func.count()).select_from(Patient)
    rows_query = select(Patient)
    if condition is not None:
        count, rows_query = count.where(condition), rows_query.where(condition)
    order = {
        "last_visit": (Patient.last_visit_at.desc(), Patient.mrn.desc()),
        "name": (Patient.name_rank.asc(), Patient.mrn.asc()),
        "mrn": (Patient.mrn.asc(),),
    }[sort]
    # Only what a row shows is loaded, so only those fields are decrypted.
    rows_query = rows_query.options(load_only(*LIST_COLUMNS))
    patients = list(session.exec(rows_query.order_by(*order).limit(page_size).offset((page - 1) * page_size)).scalars())
    if page == 1 and len(patients) < page_size:
        total = len(patients)  # the whole result is on this page: no count needed
    else:
        total = session.exec(count).scalar_one()
    rows = _rows(session, actor, patients)
    audit.record(session, actor=actor, action="patient.search" if matched_by else "patient.list", entity="patient",
                 details={"by": matched_by, "page": page, "rows": len(rows)})
    return PatientPage(rows=rows, total=total, page=page, page_size=page_size, matched_by=matched_by)


def find_patients(*, session: Session, actor: Actor, query: object) -> list[PatientRow]:
    """Exact search by MRN, phone (any formatting) or email, through the blind index."""
    require(actor, Permission.PATIENT_SEARCH)
    kind, condition = _search_condition(_check_query(query))
    if kind == "name":
        raise ValidationError({"query": "Type an MRN (P-000123), a phone number or an email address."})
    patients = list(session.exec(select(Patient).options(load_only(*LIST_COLUMNS)).where(condition)
                                 .order_by(Patient.mrn).limit(50)).scalars())
    rows = _rows(session, actor, patients)
    audit.record(session, actor=actor, action="patient.search", entity="patient", details={"by": kind, "results": len(rows)})
    return rows
