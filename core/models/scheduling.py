"""Appointments and doctors' working hours.

Double booking is impossible in the database on PostgreSQL: migration 0004 adds the exclusion constraint
`ex_appointments_no_overlap` — EXCLUDE USING gist (doctor_id WITH =, tstzrange(starts_at, ends_at) WITH &&)
WHERE (status NOT IN ('cancelled','no_show')) — which SQLAlchemy metadata does not describe (it is
PostgreSQL only, and Alembic's autogenerate does not compare exclusion constraints). On SQLite the service's
check and insert run in one BEGIN IMMEDIATE unit of work, which no other writer can interleave.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.models.base import UTCDateTime, new_id, utcnow
from core.security.crypto import EncryptedText

APPOINTMENT_STATUSES = ("booked", "checked_in", "completed", "cancelled", "no_show")
# Statuses that do not hold the doctor's time (the exclusion constraint's WHERE clause says the same).
RELEASED_STATUSES = ("cancelled", "no_show")


class WorkingHours(SQLModel, table=True):
    """One interval of a doctor's week, in the clinic's local time: working time, or a break inside it.
    Minutes from midnight, end exclusive (1440 = midnight at the end of the day)."""

    __tablename__ = "doctor_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="ck_doctor_hours_weekday"),
        CheckConstraint("kind IN ('work','break')", name="ck_doctor_hours_kind"),
        CheckConstraint("start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute",
                        name="ck_doctor_hours_range"),
        Index("ix_doctor_hours_doctor", "doctor_id", "weekday"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    doctor_id: uuid.UUID = Field(sa_column=Column(ForeignKey("users.id"), nullable=False))
    weekday: int = Field(sa_column=Column(Integer, nullable=False))  # 0 = Monday
    kind: str = Field(sa_column=Column(String(5), nullable=False))
    start_minute: int = Field(sa_column=Column(Integer, nullable=False))
    end_minute: int = Field(sa_column=Column(Integer, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class Appointment(SQLModel, table=True):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("status IN ('booked','checked_in','completed','cancelled','no_show')",
                        name="ck_appointments_status"),
        CheckConstraint("session_type IN ('new_patient','follow_up','consultation','emergency')",
                        name="ck_appointments_session_type"),
        CheckConstraint("ends_at > starts_at", name="ck_appointments_order"),
        UniqueConstraint("consultation_id", name="uq_appointments_consultation"),
        Index("ix_appointments_doctor_start", "doctor_id", "starts_at"),
        Index("ix_appointments_patient_start", "patient_id", "starts_at"),
        Index("ix_appointments_start", "starts_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    patient_id: uuid.UUID = Field(sa_column=Column(ForeignKey("patients.id"), nullable=False))
    doctor_id: uuid.UUID = Field(sa_column=Column(ForeignKey("users.id"), nullable=False))
    starts_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    ends_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    session_type: str = Field(sa_column=Column(String(20), nullable=False))
    status: str = Field(default="booked", sa_column=Column(String(12), nullable=False))
    reason: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    notes: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    cancel_reason: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    reschedules: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    booked_by: uuid.UUID = Field(sa_column=Column(ForeignKey("users.id"), nullable=False))
    checked_in_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    finished_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    cancelled_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    cancelled_by: uuid.UUID | None = Field(default=None, sa_column=Column(ForeignKey("users.id"), nullable=True))
    reminded_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    reminded_by: uuid.UUID | None = Field(default=None, sa_column=Column(ForeignKey("users.id"), nullable=True))
    consultation_id: uuid.UUID | None = Field(default=None,
                                              sa_column=Column(ForeignKey("consultations.id"), nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
