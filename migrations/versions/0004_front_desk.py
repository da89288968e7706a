"""Front desk: doctors' working hours, appointments (no double booking: an exclusion constraint on
PostgreSQL), the price list (seeded with a default list), bills, bill items and payments.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 17:05:00.000000
"""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# Stable ids for the seeded price list, so every installation's default items have the same id.
_SEED_NAMESPACE = uuid.UUID("6f1d3c2e-4b8a-5e70-9c1d-2a3b4c5d6e7f")

# (code, name, kind, session_type, HSN/SAC, price in paise, GST in basis points). Healthcare services by a
# clinical establishment are exempt from GST (0%: a bill of supply); medicines sold over the counter are
# taxable (5% here as an example: the clinic's accountant sets the real rate on the Price list page).
DEFAULT_PRICE_LIST = (
    ("CONS-NEW", "New patient consultation", "consultation", "new_patient", "9993", 150000, 0),
    ("CONS-FU", "Follow-up consultation", "consultation", "follow_up", "9993", 80000, 0),
    ("CONS-STD", "Consultation", "consultation", "consultation", "9993", 100000, 0),
    ("CONS-EMG", "Emergency consultation", "consultation", "emergency", "9993", 250000, 0),
    ("PROC-PSYT", "Psychotherapy session (50 min)", "procedure", None, "9993", 200000, 0),
    ("PROC-FAM", "Family therapy session (60 min)", "procedure", None, "9993", 250000, 0),
    ("PROC-PSYA", "Psychological assessment", "procedure", None, "9993", 350000, 0),
    ("PROC-IQ", "Intellectual (IQ) assessment", "procedure", None, "9993", 300000, 0),
    ("PROC-ECT", "Modified ECT (per session)", "procedure", None, "9993", 400000, 0),
    ("PROC-CERT", "Medical certificate", "procedure", None, "9993", 50000, 0),
    ("MED-ESC10", "Escitalopram 10 mg, strip of 10", "medicine", None, "3004", 6500, 500),
    ("MED-SER50", "Sertraline 50 mg, strip of 10", "medicine", None, "3004", 8000, 500),
    ("MED-FLX20", "Fluoxetine 20 mg, strip of 10", "medicine", None, "3004", 4500, 500),
    ("MED-OLZ5", "Olanzapine 5 mg, strip of 10", "medicine", None, "3004", 5500, 500),
    ("MED-LI300", "Lithium carbonate 300 mg, strip of 10", "medicine", None, "3004", 3000, 500),
    ("MED-CLZ05", "Clonazepam 0.5 mg, strip of 10", "medicine", None, "3004", 3500, 500),
)

NO_OVERLAP = ("ALTER TABLE appointments ADD CONSTRAINT ex_appointments_no_overlap "
              "EXCLUDE USING gist (doctor_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
              "WHERE (status NOT IN ('cancelled','no_show'))")


def upgrade() -> None:
    op.create_table('price_items',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('session_type', sa.String(length=20), nullable=True),
    sa.Column('hsn_sac', sa.String(length=8), nullable=True),
    sa.Column('unit_price_paise', sa.BigInteger(), nullable=False),
    sa.Column('tax_rate_bp', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('consultation','procedure','medicine','other')", name='ck_price_items_kind'),
    sa.CheckConstraint('tax_rate_bp BETWEEN 0 AND 4000', name='ck_price_items_tax'),
    sa.CheckConstraint('unit_price_paise >= 0', name='ck_price_items_price'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('doctor_hours',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('doctor_id', sa.Uuid(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=5), nullable=False),
    sa.Column('start_minute', sa.Integer(), nullable=False),
    sa.Column('end_minute', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('work','break')", name='ck_doctor_hours_kind'),
    sa.CheckConstraint('start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute', name='ck_doctor_hours_range'),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name='ck_doctor_hours_weekday'),
    sa.ForeignKeyConstraint(['doctor_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('doctor_hours', schema=None) as batch_op:
        batch_op.create_index('ix_doctor_hours_doctor', ['doctor_id', 'weekday'], unique=False)

    op.create_table('appointments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('doctor_id', sa.Uuid(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('session_type', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('reschedules', sa.Integer(), server_default='0', nullable=False),
    sa.Column('booked_by', sa.Uuid(), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sa.Uuid(), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded_by', sa.Uuid(), nullable=True),
    sa.Column('consultation_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("session_type IN ('new_patient','follow_up','consultation','emergency')", name='ck_appointments_session_type'),
    sa.CheckConstraint("status IN ('booked','checked_in','completed','cancelled','no_show')", name='ck_appointments_status'),
    sa.CheckConstraint('ends_at > starts_at', name='ck_appointments_order'),
    sa.ForeignKeyConstraint(['booked_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['cancelled_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], ),
    sa.ForeignKeyConstraint(['doctor_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.ForeignKeyConstraint(['reminded_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('consultation_id', name='uq_appointments_consultation')
    )
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index('ix_appointments_doctor_start', ['doctor_id', 'starts_at'], unique=False)
        batch_op.create_index('ix_appointments_patient_start', ['patient_id', 'starts_at'], unique=False)
        batch_op.create_index('ix_appointments_start', ['starts_at'], unique=False)

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # A doctor's live appointments never overlap, whatever the application does: half-open ranges,
        # so back-to-back appointments are fine. btree_gist gives GiST the uuid equality. The extension is
        # trusted (PostgreSQL ≥ 13): the database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(NO_OVERLAP)

    op.create_table('bills',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('consultation_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('document_type', sa.String(length=16), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=True),
    sa.Column('financial_year', sa.String(length=4), nullable=True),
    sa.Column('number_seq', sa.Integer(), nullable=True),
    sa.Column('subtotal_paise', sa.BigInteger(), nullable=False),
    sa.Column('discount_paise', sa.BigInteger(), nullable=False),
    sa.Column('taxable_paise', sa.BigInteger(), nullable=False),
    sa.Column('cgst_paise', sa.BigInteger(), nullable=False),
    sa.Column('sgst_paise', sa.BigInteger(), nullable=False),
    sa.Column('total_paise', sa.BigInteger(), nullable=False),
    sa.Column('paid_paise', sa.BigInteger(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_by', sa.Uuid(), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('issued_by', sa.Uuid(), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("document_type IN ('bill_of_supply','tax_invoice')", name='ck_bills_document_type'),
    sa.CheckConstraint("status = 'draft' OR status = 'void' OR number IS NOT NULL", name='ck_bills_numbered'),
    sa.CheckConstraint("status IN ('draft','issued','partially_paid','paid','void')", name='ck_bills_status'),
    sa.CheckConstraint('paid_paise >= 0 AND paid_paise <= total_paise', name='ck_bills_paid'),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['issued_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.ForeignKeyConstraint(['voided_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('financial_year', 'number_seq', name='uq_bills_year_seq'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.create_index('ix_bills_patient', ['patient_id', 'created_at'], unique=False)
        batch_op.create_index('ix_bills_status_issued', ['status', 'issued_at'], unique=False)

    op.create_table('bill_items',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('bill_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('price_item_id', sa.Uuid(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('hsn_sac', sa.String(length=8), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price_paise', sa.BigInteger(), nullable=False),
    sa.Column('discount_paise', sa.BigInteger(), nullable=False),
    sa.Column('tax_rate_bp', sa.Integer(), nullable=False),
    sa.Column('taxable_paise', sa.BigInteger(), nullable=False),
    sa.Column('cgst_paise', sa.BigInteger(), nullable=False),
    sa.Column('sgst_paise', sa.BigInteger(), nullable=False),
    sa.Column('total_paise', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('discount_paise >= 0 AND discount_paise <= quantity * unit_price_paise', name='ck_bill_items_discount'),
    sa.CheckConstraint('quantity > 0', name='ck_bill_items_quantity'),
    sa.CheckConstraint('tax_rate_bp BETWEEN 0 AND 4000', name='ck_bill_items_tax'),
    sa.CheckConstraint('unit_price_paise >= 0', name='ck_bill_items_price'),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.id'], ),
    sa.ForeignKeyConstraint(['price_item_id'], ['price_items.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('bill_id', 'position', name='uq_bill_items_position')
    )
    op.create_table('payments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('bill_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('amount_paise', sa.BigInteger(), nullable=False),
    sa.Column('reference', sa.String(length=60), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_by', sa.Uuid(), nullable=False),
    sa.CheckConstraint("kind IN ('payment','refund')", name='ck_payments_kind'),
    sa.CheckConstraint("mode IN ('cash','card','upi','bank_transfer')", name='ck_payments_mode'),
    sa.CheckConstraint('amount_paise > 0', name='ck_payments_amount'),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.id'], ),
    sa.ForeignKeyConstraint(['received_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index('ix_payments_bill', ['bill_id'], unique=False)
        batch_op.create_index('ix_payments_received_at', ['received_at'], unique=False)

    _seed_price_list(bind)


def _seed_price_list(bind) -> None:  # type: ignore[no-untyped-def]
    now = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # as core.models.base.UTCDateTime stores it there: naive UTC
    price_items = sa.table(
        'price_items', sa.column('id', sa.Uuid()), sa.column('code', sa.String()), sa.column('name', sa.String()),
        sa.column('kind', sa.String()), sa.column('session_type', sa.String()), sa.column('hsn_sac', sa.String()),
        sa.column('unit_price_paise', sa.BigInteger()), sa.column('tax_rate_bp', sa.Integer()),
        sa.column('active', sa.Boolean()), sa.column('updated_at', sa.DateTime(timezone=True)),
    )
    op.bulk_insert(price_items, [
        {"id": uuid.uuid5(_SEED_NAMESPACE, code), "code": code, "name": name, "kind": kind, "session_type": session,
         "hsn_sac": hsn, "unit_price_paise": price, "tax_rate_bp": tax, "active": True, "updated_at": now}
        for code, name, kind, session, hsn, price, tax in DEFAULT_PRICE_LIST
    ])


def downgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_received_at')
        batch_op.drop_index('ix_payments_bill')

    op.drop_table('payments')
    op.drop_table('bill_items')
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.drop_index('ix_bills_status_issued')
        batch_op.drop_index('ix_bills_patient')

    op.drop_table('bills')
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index('ix_appointments_start')
        batch_op.drop_index('ix_appointments_patient_start')
        batch_op.drop_index('ix_appointments_doctor_start')

    # The exclusion constraint goes with the table; btree_gist stays (other schemas may use it).
    op.drop_table('appointments')
    with op.batch_alter_table('doctor_hours', schema=None) as batch_op:
        batch_op.drop_index('ix_doctor_hours_doctor')

    op.drop_table('doctor_hours')
    op.drop_table('price_items')
