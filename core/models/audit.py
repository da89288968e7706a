"""The append-only, hash-chained audit log and its chain head."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Uuid
from sqlmodel import Field, SQLModel

from core.models.base import UTCDateTime, utcnow
from core.security.crypto import EncryptedText

# SQLite only autoincrements an INTEGER PRIMARY KEY.
SEQ_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor_id", "actor_id"),
        Index("ix_audit_log_entity", "entity", "entity_id"),
    )

    seq: int = Field(sa_column=Column(SEQ_TYPE, primary_key=True, autoincrement=False))
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    actor_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, nullable=True))
    actor_username: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    actor_role: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    action: str = Field(sa_column=Column(String(60), nullable=False))
    entity: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    entity_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    outcome: str = Field(default="success", sa_column=Column(String(12), nullable=False))
    # Emergency-access reasons may name clinical facts: encrypted, and chained by their plaintext.
    reason: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    details: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    prev_hash: str = Field(sa_column=Column(String(64), nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))


class AuditHead(SQLModel, table=True):
    """The newest chain link, kept outside audit_log so deleting the newest rows is detected."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, sa_column=Column(Integer, primary_key=True, autoincrement=False))
    seq: int = Field(default=0, sa_column=Column(SEQ_TYPE, nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
