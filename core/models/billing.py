"""The price list, bills with their line items, and payments (and refunds). Money is integer paise.

A bill is never deleted: draft → issued → partially_paid → paid, or void with a reason. Its number
(`INV/2627/000123`) is assigned when it is issued, from a gapless counter per Indian financial year.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from core.models.base import UTCDateTime, new_id, utcnow
from core.security.crypto import EncryptedText

BILL_STATUSES = ("draft", "issued", "partially_paid", "paid", "void")
DOCUMENT_TYPES = ("bill_of_supply", "tax_invoice")
PRICE_KINDS = ("consultation", "procedure", "medicine", "other")
PAYMENT_MODES = ("cash", "card", "upi", "bank_transfer")


class PriceItem(SQLModel, table=True):
    """What the clinic charges. Reference data seeded by migration 0004 and edited by admins; bill lines copy
    the price and tax rate, so a later change never alters an issued bill."""

    __tablename__ = "price_items"
    __table_args__ = (
        CheckConstraint("kind IN ('consultation','procedure','medicine','other')", name="ck_price_items_kind"),
        CheckConstraint("unit_price_paise >= 0", name="ck_price_items_price"),
        CheckConstraint("tax_rate_bp BETWEEN 0 AND 4000", name="ck_price_items_tax"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    code: str = Field(sa_column=Column(String(20), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(120), nullable=False))
    kind: str = Field(sa_column=Column(String(12), nullable=False))
    session_type: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    hsn_sac: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    unit_price_paise: int = Field(sa_column=Column(BigInteger, nullable=False))
    tax_rate_bp: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class Bill(SQLModel, table=True):
    __tablename__ = "bills"
    __table_args__ = (
        CheckConstraint("status IN ('draft','issued','partially_paid','paid','void')", name="ck_bills_status"),
        CheckConstraint("document_type IN ('bill_of_supply','tax_invoice')", name="ck_bills_document_type"),
        CheckConstraint("status = 'draft' OR status = 'void' OR number IS NOT NULL", name="ck_bills_numbered"),
        CheckConstraint("paid_paise >= 0 AND paid_paise <= total_paise", name="ck_bills_paid"),
        UniqueConstraint("financial_year", "number_seq", name="uq_bills_year_seq"),
        Index("ix_bills_patient", "patient_id", "created_at"),
        Index("ix_bills_status_issued", "status", "issued_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    patient_id: uuid.UUID = Field(sa_column=Column(ForeignKey("patients.id"), nullable=False))
    consultation_id: uuid.UUID | None = Field(default=None,
                                              sa_column=Column(ForeignKey("consultations.id"), nullable=True))
    status: str = Field(default="draft", sa_column=Column(String(16), nullable=False))
    document_type: str = Field(default="bill_of_supply", sa_column=Column(String(16), nullable=False))
    number: str | None = Field(default=None, sa_column=Column(String(16), nullable=True, unique=True))
    financial_year: str | None = Field(default=None, sa_column=Column(String(4), nullable=True))
    number_seq: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    subtotal_paise: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    discount_paise: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    taxable_paise: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    cgst_paise: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    sgst_paise: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    total_paise: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    paid_paise: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))  # payments − refunds
    notes: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    void_reason: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    voided_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    voided_by: uuid.UUID | None = Field(default=None, sa_column=Column(ForeignKey("users.id"), nullable=True))
    issued_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    issued_by: uuid.UUID | None = Field(default=None, sa_column=Column(ForeignKey("users.id"), nullable=True))
    created_by: uuid.UUID = Field(sa_column=Column(ForeignKey("users.id"), nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class BillItem(SQLModel, table=True):
    """One line. Amounts are computed by core.money.line_amounts and stored, so the bill reads back as issued.
    The description is encrypted: a medicine's name says something about the patient's health."""

    __tablename__ = "bill_items"
    __table_args__ = (
        UniqueConstraint("bill_id", "position", name="uq_bill_items_position"),
        CheckConstraint("quantity > 0", name="ck_bill_items_quantity"),
        CheckConstraint("unit_price_paise >= 0", name="ck_bill_items_price"),
        CheckConstraint("discount_paise >= 0 AND discount_paise <= quantity * unit_price_paise",
                        name="ck_bill_items_discount"),
        CheckConstraint("tax_rate_bp BETWEEN 0 AND 4000", name="ck_bill_items_tax"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    bill_id: uuid.UUID = Field(sa_column=Column(ForeignKey("bills.id"), nullable=False))
    position: int = Field(sa_column=Column(Integer, nullable=False))
    price_item_id: uuid.UUID | None = Field(default=None, sa_column=Column(ForeignKey("price_items.id"), nullable=True))
    description: Any = Field(sa_column=Column(EncryptedText, nullable=False))
    kind: str = Field(default="other", sa_column=Column(String(12), nullable=False))
    hsn_sac: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    quantity: int = Field(sa_column=Column(Integer, nullable=False))
    unit_price_paise: int = Field(sa_column=Column(BigInteger, nullable=False))
    discount_paise: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    tax_rate_bp: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    taxable_paise: int = Field(sa_column=Column(BigInteger, nullable=False))
    cgst_paise: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    sgst_paise: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    total_paise: int = Field(sa_column=Column(BigInteger, nullable=False))


class Payment(SQLModel, table=True):
    """Money received for a bill, or (kind 'refund') given back. Never edited or deleted."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("kind IN ('payment','refund')", name="ck_payments_kind"),
        CheckConstraint("mode IN ('cash','card','upi','bank_transfer')", name="ck_payments_mode"),
        CheckConstraint("amount_paise > 0", name="ck_payments_amount"),
        Index("ix_payments_bill", "bill_id"),
        Index("ix_payments_received_at", "received_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    bill_id: uuid.UUID = Field(sa_column=Column(ForeignKey("bills.id"), nullable=False))
    kind: str = Field(default="payment", sa_column=Column(String(8), nullable=False))
    mode: str = Field(sa_column=Column(String(16), nullable=False))
    amount_paise: int = Field(sa_column=Column(BigInteger, nullable=False))
    reference: str | None = Field(default=None, sa_column=Column(String(60), nullable=True))
    reason: Any = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    received_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    received_by: uuid.UUID = Field(sa_column=Column(ForeignKey("users.id"), nullable=False))
