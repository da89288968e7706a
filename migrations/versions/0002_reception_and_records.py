"""Reception and records: ICD-11 catalogue (loaded here), custom symptoms, versioned patient symptoms,
rating scales, safety flags, name-prefix blind index and name rank.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 16:45:12.381796
"""
from __future__ import annotations

import csv
from pathlib import Path

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


ICD11_CSV = Path(__file__).resolve().parents[2] / "core" / "data" / "icd11_mental_health.csv"


def _icd11_rows() -> list[dict]:
    with ICD11_CSV.open(encoding="utf-8", newline="") as fh:
        return [{k: row[k] for k in ("code", "title", "kind", "chapter", "block")} for row in csv.DictReader(fh)]


def upgrade() -> None:
    op.create_table('master_symptoms',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('chapter', sa.String(length=4), nullable=False),
    sa.Column('block', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('custom_symptoms',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('doctor_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('symptom','disorder')", name='ck_custom_symptoms_kind'),
    sa.ForeignKeyConstraint(['doctor_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('doctor_id', 'name_key', name='uq_custom_symptoms_doctor_name')
    )
    op.create_table('patient_name_tokens',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('patient_id', 'token')
    )
    with op.batch_alter_table('patient_name_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_patient_name_tokens_token', ['token', 'patient_id'], unique=False)

    op.create_table('safety_flags',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('source_id', sa.Uuid(), nullable=True),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_by', sa.Uuid(), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledgement', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('safety_flags', schema=None) as batch_op:
        batch_op.create_index('ix_safety_flags_patient', ['patient_id'], unique=False)

    op.create_table('scale_results',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('scale_id', sa.String(length=8), nullable=False),
    sa.Column('answers', sa.Text(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('band', sa.String(length=40), nullable=False),
    sa.Column('administered_by', sa.Uuid(), nullable=False),
    sa.Column('administered_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("scale_id IN ('PHQ-9','GAD-7','PHQ-2')", name='ck_scale_results_scale'),
    sa.ForeignKeyConstraint(['administered_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('scale_results', schema=None) as batch_op:
        batch_op.create_index('ix_scale_results_patient', ['patient_id', 'administered_at'], unique=False)

    op.create_table('patient_symptoms',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('lineage_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('intake_id', sa.Uuid(), nullable=True),
    sa.Column('symptom_code', sa.String(length=16), nullable=True),
    sa.Column('custom_symptom_id', sa.Uuid(), nullable=True),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=True),
    sa.Column('frequency', sa.String(length=10), nullable=True),
    sa.Column('duration_value', sa.Integer(), nullable=True),
    sa.Column('duration_unit', sa.String(length=10), nullable=True),
    sa.Column('onset', sa.Text(), nullable=True),
    sa.Column('triggers', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('recorded_by', sa.Uuid(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_by', sa.Uuid(), nullable=True),
    sa.Column('delete_reason', sa.Text(), nullable=True),
    sa.CheckConstraint("duration_unit IS NULL OR duration_unit IN ('days','weeks','months','years')", name='ck_patient_symptoms_duration_unit'),
    sa.CheckConstraint("frequency IS NULL OR frequency IN ('rarely','weekly','daily','constant')", name='ck_patient_symptoms_frequency'),
    sa.CheckConstraint("severity IS NULL OR severity IN ('mild','moderate','severe')", name='ck_patient_symptoms_severity'),
    sa.CheckConstraint("source IN ('presenting','clinical')", name='ck_patient_symptoms_source'),
    sa.CheckConstraint('(symptom_code IS NULL) <> (custom_symptom_id IS NULL)', name='ck_patient_symptoms_one_source'),
    sa.ForeignKeyConstraint(['custom_symptom_id'], ['custom_symptoms.id'], ),
    sa.ForeignKeyConstraint(['deleted_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['intake_id'], ['intakes.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['symptom_code'], ['master_symptoms.code'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('patient_symptoms', schema=None) as batch_op:
        batch_op.create_index('ix_patient_symptoms_lineage', ['lineage_id'], unique=False)
        batch_op.create_index('ix_patient_symptoms_patient', ['patient_id'], unique=False)

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_rank', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_patients_last_visit', ['last_visit_at', 'mrn'], unique=False)
        batch_op.create_index('ix_patients_name_rank', ['name_rank'], unique=False)

    master = sa.table("master_symptoms", *(sa.column(c, sa.String) for c in ("code", "title", "kind", "chapter", "block")))
    op.bulk_insert(master, _icd11_rows())



def downgrade() -> None:
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index('ix_patients_name_rank')
        batch_op.drop_index('ix_patients_last_visit')
        batch_op.drop_column('name_rank')

    with op.batch_alter_table('patient_symptoms', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_symptoms_patient')
        batch_op.drop_index('ix_patient_symptoms_lineage')

    op.drop_table('patient_symptoms')
    with op.batch_alter_table('scale_results', schema=None) as batch_op:
        batch_op.drop_index('ix_scale_results_patient')

    op.drop_table('scale_results')
    with op.batch_alter_table('safety_flags', schema=None) as batch_op:
        batch_op.drop_index('ix_safety_flags_patient')

    op.drop_table('safety_flags')
    with op.batch_alter_table('patient_name_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_name_tokens_token')

    op.drop_table('patient_name_tokens')
    op.drop_table('custom_symptoms')
    op.drop_table('master_symptoms')
