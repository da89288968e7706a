"""Consultations: one in progress per doctor (partial unique index), transcript segments keeping the
machine's words beside the doctor's edits, audio chunks stored as encrypted files.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 16:54:10.510798
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consultations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('doctor_id', sa.Uuid(), nullable=False),
    sa.Column('session_type', sa.String(length=20), nullable=False),
    sa.Column('chief_complaint', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('recording', sa.Boolean(), nullable=False),
    sa.Column('transcription', sa.String(length=10), nullable=False),
    sa.Column('engine', sa.String(length=20), nullable=True),
    sa.Column('engine_model', sa.String(length=120), nullable=True),
    sa.Column('language', sa.String(length=10), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('audio_seconds', sa.Float(), server_default='0', nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration_seconds', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("session_type IN ('new_patient','follow_up','consultation','emergency')", name='ck_consultations_session_type'),
    sa.CheckConstraint("status IN ('in_progress','completed','cancelled')", name='ck_consultations_status'),
    sa.CheckConstraint("transcription IN ('none','live','pending','done','failed')", name='ck_consultations_transcription'),
    sa.ForeignKeyConstraint(['doctor_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('consultations', schema=None) as batch_op:
        batch_op.create_index('ix_consultations_doctor', ['doctor_id', 'started_at'], unique=False)
        batch_op.create_index('ix_consultations_patient', ['patient_id', 'started_at'], unique=False)
        batch_op.create_index('uq_consultations_one_in_progress', ['doctor_id'], unique=True, postgresql_where=sa.text("status = 'in_progress'"), sqlite_where=sa.text("status = 'in_progress'"))

    op.create_table('audio_chunks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('consultation_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=200), nullable=False),
    sa.Column('pcm_bytes', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('consultation_id', 'seq', name='uq_audio_chunks_seq')
    )
    op.create_table('transcript_segments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('consultation_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('start_s', sa.Float(), nullable=False),
    sa.Column('end_s', sa.Float(), nullable=False),
    sa.Column('machine_text', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('speaker', sa.String(length=10), nullable=True),
    sa.Column('engine_speaker', sa.String(length=20), nullable=True),
    sa.Column('edited_by', sa.Uuid(), nullable=True),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("speaker IS NULL OR speaker IN ('doctor','patient','informant')", name='ck_transcript_speaker'),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], ),
    sa.ForeignKeyConstraint(['edited_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('consultation_id', 'seq', name='uq_transcript_segments_seq')
    )


def downgrade() -> None:
    op.drop_table('transcript_segments')
    op.drop_table('audio_chunks')
    with op.batch_alter_table('consultations', schema=None) as batch_op:
        batch_op.drop_index('uq_consultations_one_in_progress', postgresql_where=sa.text("status = 'in_progress'"), sqlite_where=sa.text("status = 'in_progress'"))
        batch_op.drop_index('ix_consultations_patient')
        batch_op.drop_index('ix_consultations_doctor')

    op.drop_table('consultations')
