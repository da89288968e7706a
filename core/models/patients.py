"""Patients and their intakes. PII and clinical free text are encrypted; *_index columns are blind indexes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Column, Date, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from core.models.base import UTCDateTime, new_id, utcnow
from core.security.crypto import EncryptedDate, EncryptedJSON, EncryptedText


class Counter(SQLModel, table=True):
    """Named gapless counters (MRN, invoice numbers per financial year), incremented under a row lock."""

    __tablename__ = "counters"

    name: str = Field(sa_column=Column(String(40), primary_key=True))
    value: int = Field(default=0)


class Patient(SQLModel, table=True):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint("sex IN ('female','male','intersex','unknown')", name="ck_patients_sex"),
        Index("ix_patients_phone_index", "phone_index"),
        Index("ix_patients_email_index", "email_index"),
        Index("ix_patients_name_dob_index", "name_dob_index"),
        Index("ix_patients_assigned_doctor_id", "assigned_doctor_id"),
        Index("ix_patients_name_rank", "name_rank"),
        Index("ix_patients_last_visit", "last_visit_at", "mrn"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    mrn: str = Field(sa_column=Column(String(12), nullable=False, unique=True))
    full_name: Any = Field(sa_column=Column(EncryptedText, nullable=False))
    date_of_birth: Any = Field(default=None, sa_column=Column(EncryptedDate, nullable=True))
    dob_is_estimate: bool = Field(default=False)
    sex: str = Field(default="unknown", sa_column=Column(String(10), nullable=False))
    phone: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    email: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    address: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    emergency_contact: Any = Field(default=None, sa_column=Column(EncryptedJSON, nullable=True))
    preferred_language: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    phone_index: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    email_index: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    name_dob_index: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    assigned_doctor_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("users.id"), nullable=True)
    )
    consent_recording: bool = Field(default=False)
    consent_date: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    consent_recorded_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("users.id"), nullable=True)
    )
    # The registration time until a visit is recorded, so lists sort on one indexed column.
    last_visit_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    # Alphabetical position of the name among patients (see core.services.name_index): lets the list
    # sort by name without decrypting more than the rows shown. It reveals order, never the name.
    name_rank: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_by: uuid.UUID | None = Field(default=None, sa_column=Column(ForeignKey("users.id"), nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class Intake(SQLModel, table=True):
    """What reception records at registration: informants, illness history, presenting complaints."""

    __tablename__ = "intakes"
    __table_args__ = (
        CheckConstraint(
            "illness_duration_unit IS NULL OR illness_duration_unit IN ('days','weeks','months','years')",
            name="ck_intakes_duration_unit",
        ),
        Index("ix_intakes_patient_id", "patient_id"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    patient_id: uuid.UUID = Field(sa_column=Column(ForeignKey("patients.id"), nullable=False))
    informants: Any = Field(default=None, sa_column=Column(EncryptedJSON, nullable=True))
    illness_duration_value: int | None = Field(default=None)
    illness_duration_unit: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    referral_source: str | None = Field(default=None, sa_column=Column(String(120), nullable=True))
    precipitating_factors: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    precipitating_tags: Any = Field(default=None, sa_column=Column(EncryptedJSON, nullable=True))
    presenting_complaints: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    recorded_by: uuid.UUID = Field(sa_column=Column(ForeignKey("users.id"), nullable=False))
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class PatientNameToken(SQLModel, table=True):
    """Blind-index entries for name search by word prefix: HMAC of each 2..12-letter prefix of each word."""

    __tablename__ = "patient_name_tokens"
    # (token, patient_id): a prefix lookup reads the index alone, not scattered table blocks.
    __table_args__ = (Index("ix_patient_name_tokens_token", "token", "patient_id"),)

    patient_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    )
    token: str = Field(sa_column=Column(String(64), primary_key=True))
