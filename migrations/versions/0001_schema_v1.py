"""Schema v1: staff accounts, sessions, login throttling, patients, intakes, counters, audit log.

Encrypted columns are Text holding Fernet tokens (see core.security.crypto); *_index columns hold
HMAC-SHA256 blind indexes. The audit log is made append-only by triggers on both databases.

Revision ID: 0001
Revises: 
Create Date: 2026-11-30 16:31:48.668760
"""
from __future__ import annotations

import datetime

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


APPEND_ONLY_PG = """
CREATE OR REPLACE FUNCTION synapse_audit_append_only() RETURNS trigger AS $$
BEGIN
    -- Key rotation may re-encrypt the reason; the chain covers its plaintext, so nothing else may change.
    IF TG_OP = 'UPDATE' AND (NEW.seq, NEW.at, NEW.actor_id, NEW.actor_username, NEW.actor_role, NEW.action,
            NEW.entity, NEW.entity_id, NEW.outcome, NEW.details::text, NEW.prev_hash, NEW.hash)
        IS NOT DISTINCT FROM (OLD.seq, OLD.at, OLD.actor_id, OLD.actor_username, OLD.actor_role, OLD.action,
            OLD.entity, OLD.entity_id, OLD.outcome, OLD.details::text, OLD.prev_hash, OLD.hash) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql
"""


def _append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_PG)
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION synapse_audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION synapse_audit_append_only()"
        )
    else:
        # Every column but the encrypted reason (re-encrypted by key rotation, chained by plaintext).
        op.execute(
            "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OF seq, at, actor_id, actor_username, "
            "actor_role, action, entity, entity_id, outcome, details, prev_hash, hash ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )


def upgrade() -> None:
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('audit_log',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('actor_username', sa.String(length=40), nullable=True),
    sa.Column('actor_role', sa.String(length=20), nullable=True),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=True),
    sa.Column('entity_id', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('hash')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_actor_id', ['actor_id'], unique=False)
        batch_op.create_index('ix_audit_log_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_log_entity', ['entity', 'entity_id'], unique=False)

    op.create_table('counters',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('login_throttle',
    sa.Column('username_key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lockouts', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('username_key')
    )
    op.create_table('users',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=40), nullable=False),
    sa.Column('full_name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('must_change_password', sa.Boolean(), nullable=False),
    sa.Column('totp_secret', sa.Text(), nullable=True),
    sa.Column('totp_enabled', sa.Boolean(), nullable=False),
    sa.Column('reset_code_hash', sa.String(length=255), nullable=True),
    sa.Column('reset_code_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('admin','doctor','receptionist','manager')", name='ck_users_role'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('patients',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('mrn', sa.String(length=12), nullable=False),
    sa.Column('full_name', sa.Text(), nullable=False),
    sa.Column('date_of_birth', sa.Text(), nullable=True),
    sa.Column('dob_is_estimate', sa.Boolean(), nullable=False),
    sa.Column('sex', sa.String(length=10), nullable=False),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('email', sa.Text(), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('emergency_contact', sa.Text(), nullable=True),
    sa.Column('preferred_language', sa.String(length=20), nullable=True),
    sa.Column('phone_index', sa.String(length=64), nullable=True),
    sa.Column('email_index', sa.String(length=64), nullable=True),
    sa.Column('name_dob_index', sa.String(length=64), nullable=True),
    sa.Column('assigned_doctor_id', sa.Uuid(), nullable=True),
    sa.Column('consent_recording', sa.Boolean(), nullable=False),
    sa.Column('consent_date', sa.Date(), nullable=True),
    sa.Column('consent_recorded_by', sa.Uuid(), nullable=True),
    sa.Column('last_visit_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("sex IN ('female','male','intersex','unknown')", name='ck_patients_sex'),
    sa.ForeignKeyConstraint(['assigned_doctor_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['consent_recorded_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('mrn')
    )
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index('ix_patients_assigned_doctor_id', ['assigned_doctor_id'], unique=False)
        batch_op.create_index('ix_patients_email_index', ['email_index'], unique=False)
        batch_op.create_index('ix_patients_name_dob_index', ['name_dob_index'], unique=False)
        batch_op.create_index('ix_patients_phone_index', ['phone_index'], unique=False)

    op.create_table('user_profiles',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('registration_number', sa.String(length=60), nullable=True),
    sa.Column('qualification', sa.String(length=200), nullable=True),
    sa.Column('specialty', sa.String(length=120), nullable=True),
    sa.Column('signature_line', sa.String(length=200), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('user_sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('client', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_user_sessions_user_id', ['user_id'], unique=False)

    op.create_table('emergency_access',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('emergency_access', schema=None) as batch_op:
        batch_op.create_index('ix_emergency_access_user_patient', ['user_id', 'patient_id'], unique=False)

    op.create_table('intakes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('informants', sa.Text(), nullable=True),
    sa.Column('illness_duration_value', sa.Integer(), nullable=True),
    sa.Column('illness_duration_unit', sa.String(length=10), nullable=True),
    sa.Column('referral_source', sa.String(length=120), nullable=True),
    sa.Column('precipitating_factors', sa.Text(), nullable=True),
    sa.Column('precipitating_tags', sa.Text(), nullable=True),
    sa.Column('presenting_complaints', sa.Text(), nullable=True),
    sa.Column('recorded_by', sa.Uuid(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("illness_duration_unit IS NULL OR illness_duration_unit IN ('days','weeks','months','years')", name='ck_intakes_duration_unit'),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('intakes', schema=None) as batch_op:
        batch_op.create_index('ix_intakes_patient_id', ['patient_id'], unique=False)

    _append_only_triggers()
    op.bulk_insert(
        sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.Integer)),
        [{"name": "mrn", "value": 0}],
    )
    # The chain's genesis link: every writer locks this row, so it must exist before the first writer.
    op.bulk_insert(
        sa.table("audit_head", sa.column("id", sa.Integer), sa.column("seq", sa.BigInteger),
                 sa.column("hash", sa.String), sa.column("updated_at", sa.DateTime(timezone=True))),
        [{"id": 1, "seq": 0, "hash": "0" * 64, "updated_at": datetime.datetime.now(datetime.timezone.utc)}],
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS synapse_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    with op.batch_alter_table('intakes', schema=None) as batch_op:
        batch_op.drop_index('ix_intakes_patient_id')

    op.drop_table('intakes')
    with op.batch_alter_table('emergency_access', schema=None) as batch_op:
        batch_op.drop_index('ix_emergency_access_user_patient')

    op.drop_table('emergency_access')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_user_sessions_user_id')

    op.drop_table('user_sessions')
    op.drop_table('user_profiles')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index('ix_patients_phone_index')
        batch_op.drop_index('ix_patients_name_dob_index')
        batch_op.drop_index('ix_patients_email_index')
        batch_op.drop_index('ix_patients_assigned_doctor_id')

    op.drop_table('patients')
    op.drop_table('users')
    op.drop_table('login_throttle')
    op.drop_table('counters')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_entity')
        batch_op.drop_index('ix_audit_log_at')
        batch_op.drop_index('ix_audit_log_actor_id')

    op.drop_table('audit_log')
    op.drop_table('audit_head')
