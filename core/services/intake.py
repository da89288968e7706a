"""Intake: what reception records when a patient first comes (or returns with a new episode): the patient's
demographics, informants, illness history, precipitating factors and presenting symptoms, in one unit of
work. Nothing is saved until every field is valid; a likely duplicate is shown before saving."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlmodel import Session

from core.errors import ValidationError
from core.models import Intake, User
from core.models.base import utcnow
from core.security.crypto import is_undecryptable
from core.security.rbac import Actor, Permission, Role, require
from core.services import audit
from core.services.access import clinical_access, load_patient, recording_user_id
from core.services.patients import (
    DuplicatePatient,
    PatientCreate,
    PatientPublic,
    _matches,
    _rows,
    _to_public,
    create_patient_row,
    validate_patient,
)
from core.services.symptoms import SymptomEntry, _validated_entry, add_symptom_row
from core.validation import FieldProblem, clean_tags, clean_text, parse_input

RELATIONSHIPS = ("self", "mother", "father", "spouse", "partner", "son", "daughter", "sibling", "relative",
                 "friend", "caregiver", "neighbour", "colleague", "other")
Reliability = Literal["reliable", "partly reliable", "unreliable"]
DurationUnit = Literal["days", "weeks", "months", "years"]


class Informant(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    relationship: str = Field(max_length=20)
    details: str | None = Field(default=None, max_length=500)
    reliability: Reliability = "reliable"


class IntakeDetails(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    informants: list[Informant] = []
    illness_duration_value: int | None = None
    illness_duration_unit: DurationUnit | None = None
    referral_source: str | None = Field(default=None, max_length=120)
    precipitating_factors: str | None = Field(default=None, max_length=4000)
    precipitating_tags: list[str] = []
    presenting_complaints: str | None = Field(default=None, max_length=4000)
    presenting_symptoms: list[str] = []


class IntakeCreate(BaseModel):
    patient: PatientCreate
    intake: IntakeDetails = IntakeDetails()


class IntakePublic(BaseModel):
    id: uuid.UUID
    recorded_at: dt.datetime
    recorded_by: str | None
    informants: list[dict]
    illness_duration_value: int | None
    illness_duration_unit: str | None
    referral_source: str | None
    precipitating_factors: str | None
    precipitating_tags: list[str]
    presenting_complaints: str | None
    unreadable: bool = False
    narrative_withheld: bool = False  # a doctor without care or emergency access


class IntakeResult(BaseModel):
    patient: PatientPublic
    intake_id: uuid.UUID


def _validate_details(session: Session, actor: Actor, details: IntakeDetails) -> tuple[dict, list]:
    errors: dict[str, str] = {}
    values: dict = {}
    informants = []
    for i, inf in enumerate(details.informants, start=1):
        if inf.relationship not in RELATIONSHIPS:
            errors[f"informant_{i}"] = f"Informant {i}: choose a relationship from the list."
            continue
        try:
            text = clean_text(inf.details, field="informant details", max_length=500, required=False, multiline=True)
        except FieldProblem as exc:
            errors[f"informant_{i}"] = f"Informant {i}: {exc}"
            continue
        informants.append({"relationship": inf.relationship, "details": text, "reliability": inf.reliability})
    if len(details.informants) > 10:
        errors["informants"] = "At most 10 informants."
    values["informants"] = informants
    v, u = details.illness_duration_value, details.illness_duration_unit
    if (v is None) != (u is None):
        errors["illness_duration_value"] = "Give the illness duration as a number and a unit, or leave both empty."
    elif v is not None and not 0 < v <= 1200:
        errors["illness_duration_value"] = "The duration must be between 1 and 1200."
    for field, limit, multiline in (("referral_source", 120, False), ("precipitating_factors", 4000, True),
                                    ("presenting_complaints", 4000, True)):
        try:
            values[field] = clean_text(getattr(details, field), field=field.replace("_", " "), max_length=limit,
                                       required=False, multiline=multiline)
        except FieldProblem as exc:
            errors[field] = str(exc)
    try:
        values["precipitating_tags"] = clean_tags(details.precipitating_tags, field="tag")
    except FieldProblem as exc:
        errors["precipitating_tags"] = str(exc)
    symptoms = []
    for ref in dict.fromkeys(details.presenting_symptoms):
        try:
            symptoms.append(_validated_entry(session, actor, {"ref": ref}))
        except ValidationError:
            errors["presenting_symptoms"] = "Choose presenting symptoms from the search results."
    if errors:
        raise ValidationError(errors)
    return values, symptoms


def _save_intake(session: Session, actor: Actor, patient_id: uuid.UUID, values: dict, symptoms: list, details: IntakeDetails) -> Intake:
    intake = Intake(
        patient_id=patient_id, informants=values["informants"] or None,
        illness_duration_value=details.illness_duration_value, illness_duration_unit=details.illness_duration_unit,
        referral_source=values["referral_source"], precipitating_factors=values["precipitating_factors"],
        precipitating_tags=values["precipitating_tags"] or None, presenting_complaints=values["presenting_complaints"],
        recorded_by=recording_user_id(session, actor))
    session.add(intake)
    session.flush()
    for entry, sym_values in symptoms:
        add_symptom_row(session, actor, patient_id, entry, sym_values, "presenting", intake.id)
    audit.record(session, actor=actor, action="intake.create", entity="patient", entity_id=patient_id,
                 details={"intake": str(intake.id), "symptoms": len(symptoms)})
    return intake


def register_intake(*, session: Session, actor: Actor, data: object, allow_duplicate: bool = False) -> IntakeResult:
    """Register a new patient with their first intake. Every field is validated before anything is
    written; a likely duplicate raises DuplicatePatient unless allow_duplicate."""
    require(actor, Permission.PATIENT_REGISTER)
    payload = parse_input(IntakeCreate, data)
    errors: dict[str, str] = {}
    patient_values = intake_values = None
    symptoms: list = []
    try:
        patient_values = validate_patient(session, payload.patient)
    except ValidationError as exc:
        errors.update(exc.fields)
    try:
        intake_values, symptoms = _validate_details(session, actor, payload.intake)
    except ValidationError as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationError(errors)
    if not allow_duplicate:
        matches = _matches(session, patient_values)  # type: ignore[arg-type]
        if matches:
            raise DuplicatePatient(_rows(session, actor, matches))
    patient = create_patient_row(session, actor, payload.patient, patient_values)  # type: ignore[arg-type]
    intake = _save_intake(session, actor, patient.id, intake_values, symptoms, payload.intake)  # type: ignore[arg-type]
    patient.last_visit_at = intake.recorded_at
    session.add(patient)
    return IntakeResult(patient=_to_public(session, patient), intake_id=intake.id)


def record_intake(*, session: Session, actor: Actor, patient_id: object, data: object) -> uuid.UUID:
    """A further intake for a registered patient (a new episode)."""
    require(actor, Permission.PATIENT_REGISTER)
    patient = load_patient(session, patient_id)
    details_in = parse_input(IntakeDetails, data)
    values, symptoms = _validate_details(session, actor, details_in)
    intake = _save_intake(session, actor, patient.id, values, symptoms, details_in)
    patient.last_visit_at = max(patient.last_visit_at or intake.recorded_at, intake.recorded_at)
    session.add(patient)
    return intake.id


def list_intakes(*, session: Session, actor: Actor, patient_id: object) -> list[IntakePublic]:
    require(actor, Permission.PATIENT_READ_DEMOGRAPHICS)
    patient = load_patient(session, patient_id)
    # Reception recorded the intake and sees it whole; a doctor sees the narrative (complaints, factors,
    # informants) only for a patient in their care or under emergency access.
    narrative = actor.role == Role.RECEPTIONIST or clinical_access(session, actor, patient) is not None
    rows = list(session.exec(select(Intake).where(Intake.patient_id == patient.id).order_by(Intake.recorded_at.desc())).scalars())
    names = {i: n for i, n in session.exec(select(User.id, User.full_name).where(
        User.id.in_({r.recorded_by for r in rows}))).all()} if rows else {}
    audit.record(session, actor=actor, action="intake.view", entity="patient", entity_id=patient.id,
                 details={"rows": len(rows), "narrative": narrative})
    out = []
    for r in rows:
        fields = (r.informants, r.precipitating_factors, r.precipitating_tags, r.presenting_complaints)
        bad = any(is_undecryptable(f) for f in fields)

        def shown(value):  # type: ignore[no-untyped-def]
            return str(value) if is_undecryptable(value) else value

        out.append(IntakePublic(
            id=r.id, recorded_at=r.recorded_at, recorded_by=names.get(r.recorded_by),
            informants=[] if not narrative or is_undecryptable(r.informants) else (r.informants or []),
            illness_duration_value=r.illness_duration_value, illness_duration_unit=r.illness_duration_unit,
            referral_source=r.referral_source,
            precipitating_factors=shown(r.precipitating_factors) if narrative else None,
            precipitating_tags=[] if not narrative or is_undecryptable(r.precipitating_tags) else (r.precipitating_tags or []),
            presenting_complaints=shown(r.presenting_complaints) if narrative else None,
            unreadable=bad and narrative, narrative_withheld=not narrative))
    return out
