"""The ICD-11 symptom catalogue, doctors' custom symptoms, symptoms attached to patients (versioned,
soft-deleted), rating-scale results and safety flags."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, UniqueConstraint, Uuid
from sqlmodel import Field, SQLModel

from core.models.base import UTCDateTime, new_id, utcnow
from core.security.crypto import EncryptedJSON, EncryptedText


class MasterSymptom(SQLModel, table=True):
    """ICD-11 MMS codes and titles, verbatim (WHO, CC BY-ND 3.0 IGO); loaded by migration 0002."""

    __tablename__ = "master_symptoms"

    code: str = Field(sa_column=Column(String(16), primary_key=True))
    title: str = Field(sa_column=Column(String(300), nullable=False))
    kind: str = Field(sa_column=Column(String(10), nullable=False))
    chapter: str = Field(sa_column=Column(String(4), nullable=False))
    block: str = Field(sa_column=Column(String(200), nullable=False))


class CustomSymptom(SQLModel, table=True):
    """A doctor's own wording for a symptom; unique per doctor, case-insensitively."""

    __tablename__ = "custom_symptoms"
    __table_args__ = (
        UniqueConstraint("doctor_id", "name_key", name="uq_custom_symptoms_doctor_name"),
        CheckConstraint("kind IN ('symptom','disorder')", name="ck_custom_symptoms_kind"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    doctor_id: uuid.UUID = Field(sa_column=Column(ForeignKey("users.id"), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    name_key: str = Field(sa_column=Column(String(200), nullable=False))
    kind: str = Field(default="symptom", sa_column=Column(String(10), nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class PatientSymptom(SQLModel, table=True):
    """One version of a symptom on a patient. An edit writes a new version and closes the old one
    (superseded_at); a removal sets deleted_at. Nothing is ever deleted."""

    __tablename__ = "patient_symptoms"
    __table_args__ = (
        CheckConstraint("(symptom_code IS NULL) <> (custom_symptom_id IS NULL)", name="ck_patient_symptoms_one_source"),
        CheckConstraint("severity IS NULL OR severity IN ('mild','moderate','severe')", name="ck_patient_symptoms_severity"),
        CheckConstraint("frequency IS NULL OR frequency IN ('rarely','weekly','daily','constant')",
                        name="ck_patient_symptoms_frequency"),
        CheckConstraint("duration_unit IS NULL OR duration_unit IN ('days','weeks','months','years')",
                        name="ck_patient_symptoms_duration_unit"),
        CheckConstraint("source IN ('presenting','clinical')", name="ck_patient_symptoms_source"),
        Index("ix_patient_symptoms_patient", "patient_id"),
        Index("ix_patient_symptoms_lineage", "lineage_id"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    lineage_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    version: int = Field(default=1)
    patient_id: uuid.UUID = Field(sa_column=Column(ForeignKey("patients.id"), nullable=False))
    intake_id: uuid.UUID | None = Field(default=None, sa_column=Column(ForeignKey("intakes.id"), nullable=True))
    symptom_code: str | None = Field(default=None, sa_column=Column(ForeignKey("master_symptoms.code"), nullable=True))
    custom_symptom_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("custom_symptoms.id"), nullable=True)
    )
    source: str = Field(default="clinical", sa_column=Column(String(12), nullable=False))
    severity: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    frequency: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    duration_value: int | None = Field(default=None)
    duration_unit: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    onset: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    triggers: Any = Field(default=None, sa_column=Column(EncryptedJSON, nullable=True))
    notes: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    recorded_by: uuid.UUID = Field(sa_column=Column(ForeignKey("users.id"), nullable=False))
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    superseded_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    deleted_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    deleted_by: uuid.UUID | None = Field(default=None, sa_column=Column(ForeignKey("users.id"), nullable=True))
    delete_reason: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))


class ScaleResult(SQLModel, table=True):
    """One administration of PHQ-9, GAD-7 or PHQ-2. Answers are encrypted; the total and band are kept
    in clear for trends and de-identified analytics."""

    __tablename__ = "scale_results"
    __table_args__ = (
        CheckConstraint("scale_id IN ('PHQ-9','GAD-7','PHQ-2')", name="ck_scale_results_scale"),
        Index("ix_scale_results_patient", "patient_id", "administered_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    patient_id: uuid.UUID = Field(sa_column=Column(ForeignKey("patients.id"), nullable=False))
    scale_id: str = Field(sa_column=Column(String(8), nullable=False))
    answers: Any = Field(sa_column=Column(EncryptedJSON, nullable=False))
    total: int
    band: str = Field(sa_column=Column(String(40), nullable=False))
    administered_by: uuid.UUID = Field(sa_column=Column(ForeignKey("users.id"), nullable=False))
    administered_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class SafetyFlag(SQLModel, table=True):
    """A risk signal on a patient (e.g. PHQ-9 item 9 above 0) that a doctor must acknowledge."""

    __tablename__ = "safety_flags"
    __table_args__ = (Index("ix_safety_flags_patient", "patient_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    patient_id: uuid.UUID = Field(sa_column=Column(ForeignKey("patients.id"), nullable=False))
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    source_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, nullable=True))
    raised_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    acknowledged_by: uuid.UUID | None = Field(default=None, sa_column=Column(ForeignKey("users.id"), nullable=True))
    acknowledged_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    acknowledgement: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
