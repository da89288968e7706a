"""Consultations, their transcript segments and their stored audio chunks."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, Column, Float, ForeignKey, Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from core.models.base import UTCDateTime, new_id, utcnow
from core.security.crypto import EncryptedText

SESSION_TYPES = ("new_patient", "follow_up", "consultation", "emergency")


class Consultation(SQLModel, table=True):
    __tablename__ = "consultations"
    __table_args__ = (
        CheckConstraint("session_type IN ('new_patient','follow_up','consultation','emergency')",
                        name="ck_consultations_session_type"),
        CheckConstraint("status IN ('in_progress','completed','cancelled')", name="ck_consultations_status"),
        CheckConstraint("transcription IN ('none','live','pending','done','failed')", name="ck_consultations_transcription"),
        Index("ix_consultations_patient", "patient_id", "started_at"),
        Index("ix_consultations_doctor", "doctor_id", "started_at"),
        # A doctor runs one consultation at a time, also under concurrent starts.
        Index("uq_consultations_one_in_progress", "doctor_id", unique=True,
              postgresql_where=text("status = 'in_progress'"), sqlite_where=text("status = 'in_progress'")),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    code: str = Field(sa_column=Column(String(20), nullable=False, unique=True))
    patient_id: uuid.UUID = Field(sa_column=Column(ForeignKey("patients.id"), nullable=False))
    doctor_id: uuid.UUID = Field(sa_column=Column(ForeignKey("users.id"), nullable=False))
    session_type: str = Field(sa_column=Column(String(20), nullable=False))
    chief_complaint: Any = Field(sa_column=Column(EncryptedText, nullable=False))
    status: str = Field(default="in_progress", sa_column=Column(String(12), nullable=False))
    recording: bool = Field(default=True)
    transcription: str = Field(default="none", sa_column=Column(String(10), nullable=False))
    engine: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    engine_model: str | None = Field(default=None, sa_column=Column(String(120), nullable=True))
    language: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    notes: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    audio_seconds: float = Field(default=0.0, sa_column=Column(Float, nullable=False, server_default="0"))
    started_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    ended_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    duration_seconds: int | None = Field(default=None)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class TranscriptSegment(SQLModel, table=True):
    """One final piece of transcript. The machine's words are kept; a doctor's edit goes into `text`."""

    __tablename__ = "transcript_segments"
    __table_args__ = (
        UniqueConstraint("consultation_id", "seq", name="uq_transcript_segments_seq"),
        CheckConstraint("speaker IS NULL OR speaker IN ('doctor','patient','informant')", name="ck_transcript_speaker"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    consultation_id: uuid.UUID = Field(sa_column=Column(ForeignKey("consultations.id"), nullable=False))
    seq: int
    start_s: float = Field(sa_column=Column(Float, nullable=False))
    end_s: float = Field(sa_column=Column(Float, nullable=False))
    machine_text: Any = Field(sa_column=Column(EncryptedText, nullable=False))
    text: Any = Field(sa_column=Column(EncryptedText, nullable=False))
    speaker: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    engine_speaker: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    edited_by: uuid.UUID | None = Field(default=None, sa_column=Column(ForeignKey("users.id"), nullable=True))
    edited_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class AudioChunk(SQLModel, table=True):
    """A few seconds of a consultation's audio, written as it arrives: an encrypted file under the data dir."""

    __tablename__ = "audio_chunks"
    __table_args__ = (UniqueConstraint("consultation_id", "seq", name="uq_audio_chunks_seq"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    consultation_id: uuid.UUID = Field(sa_column=Column(ForeignKey("consultations.id"), nullable=False))
    seq: int
    path: str = Field(sa_column=Column(String(200), nullable=False))
    pcm_bytes: int
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
