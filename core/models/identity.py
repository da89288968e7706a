"""Staff accounts, their professional profile, server-side sessions, login throttling, emergency access."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from core.models.base import UTCDateTime, new_id, utcnow
from core.security.crypto import EncryptedText

ROLE_VALUES = ("admin", "doctor", "receptionist", "manager")


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin','doctor','receptionist','manager')", name="ck_users_role"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    username: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    full_name: str = Field(sa_column=Column(String(120), nullable=False))
    role: str = Field(sa_column=Column(String(20), nullable=False))
    is_active: bool = Field(default=True)
    password_hash: str = Field(sa_column=Column(String(255), nullable=False))
    password_changed_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    must_change_password: bool = Field(default=False)
    totp_secret: str | None = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    totp_enabled: bool = Field(default=False)
    reset_code_hash: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    reset_code_expires_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    last_login_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class UserProfile(SQLModel, table=True):
    """Professional details printed on signed reports."""

    __tablename__ = "user_profiles"

    user_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    registration_number: str | None = Field(default=None, sa_column=Column(String(60), nullable=True))
    qualification: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    specialty: str | None = Field(default=None, sa_column=Column(String(120), nullable=True))
    signature_line: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class UserSession(SQLModel, table=True):
    """A signed-in browser tab or notebook. Only the SHA-256 of the random token is stored."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    client: str = Field(default="browser", sa_column=Column(String(40), nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    last_seen_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per username (known or not, so lockout does not reveal which names exist)."""

    __tablename__ = "login_throttle"

    username_key: str = Field(sa_column=Column(String(64), primary_key=True))
    failures: int = Field(default=0)
    window_started_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    lockouts: int = Field(default=0)
    locked_until: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class EmergencyAccess(SQLModel, table=True):
    """Break-glass: a time-limited grant to one patient's clinical record, with the typed reason."""

    __tablename__ = "emergency_access"
    __table_args__ = (Index("ix_emergency_access_user_patient", "user_id", "patient_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(sa_column=Column(ForeignKey("users.id"), nullable=False))
    patient_id: uuid.UUID = Field(sa_column=Column(ForeignKey("patients.id"), nullable=False))
    reason: str = Field(sa_column=Column(EncryptedText, nullable=False))
    granted_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
