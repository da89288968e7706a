"""Least privilege in the services: who may manage users, see patients, and break the glass."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from core.db import unit_of_work
from core.errors import Conflict, PermissionDenied, ValidationError
from core.models import AuditEvent, EmergencyAccess
from core.models.base import utcnow
from core.security.rbac import PERMISSIONS, Permission, Role, system_actor
from core.services import access, patients, users
from tests.factories import make_actor, make_patient


@pytest.mark.parametrize("role", [Role.DOCTOR, Role.RECEPTIONIST, Role.MANAGER])
def test_only_admins_manage_users(database, role):
    with unit_of_work() as session:
        actor = make_actor(session, role=role)
        with pytest.raises(PermissionDenied):
            users.create_user(session=session, actor=actor, data={"username": "newbie", "full_name": "N", "role": "doctor"})
        with pytest.raises(PermissionDenied):
            users.list_users(session=session, actor=actor)


def test_managers_and_admins_never_receive_patient_identities(database):
    with unit_of_work() as session:
        patient = make_patient(session)
        for role in (Role.MANAGER, Role.ADMIN):
            actor = make_actor(session, role=role)
            for call in (lambda: patients.get_patient(session=session, actor=actor, patient_id=patient.id),
                         lambda: patients.list_patients(session=session, actor=actor),
                         lambda: patients.find_patients(session=session, actor=actor, query=patient.mrn)):
                with pytest.raises(PermissionDenied):
                    call()


def test_patient_view_is_audited(database):
    with unit_of_work() as session:
        patient = make_patient(session)
        doctor = make_actor(session, role=Role.DOCTOR)
    with unit_of_work() as session:
        patients.get_patient(session=session, actor=doctor, patient_id=patient.id)
        views = session.exec(select(AuditEvent).where(AuditEvent.action == "patient.view")).scalars().all()
    assert [(v.actor_id, v.entity_id) for v in views] == [(doctor.user_id, str(patient.id))]


def test_clinical_access_needs_care_or_an_audited_reason(database):
    with unit_of_work() as session:
        own = make_actor(session, role=Role.DOCTOR)
        other = make_actor(session, role=Role.DOCTOR)
        desk = make_actor(session, role=Role.RECEPTIONIST)
        patient = make_patient(session, actor=desk, assigned_doctor_id=own.user_id)
    with unit_of_work() as session:
        row = access.load_patient(session, patient.id)
        assert access.clinical_access(session, own, row) == "care"
        assert access.clinical_access(session, other, row) is None
        assert access.clinical_access(session, desk, row) is None
    with unit_of_work() as session, pytest.raises(PermissionDenied) as err:
        access.require_clinical_access(session, other, access.load_patient(session, patient.id), "clinical.view")
    assert "emergency access" in err.value.message
    with unit_of_work() as session, pytest.raises(ValidationError):
        access.grant_emergency_access(session=session, actor=other, patient_id=patient.id, reason="because")
    with unit_of_work() as session, pytest.raises(PermissionDenied):
        access.grant_emergency_access(session=session, actor=desk, patient_id=patient.id,
                                      reason="I would like to read the notes please")
    with unit_of_work() as session:
        grant = access.grant_emergency_access(session=session, actor=other, patient_id=patient.id,
                                              reason="Covering the night shift; patient brought in agitated")
    assert dt.timedelta(minutes=59) < grant.expires_at - utcnow() <= dt.timedelta(minutes=60)
    with unit_of_work() as session:
        assert access.clinical_access(session, other, access.load_patient(session, patient.id)) == "emergency"
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "emergency_access.grant")).scalars().one()
        assert event.reason.startswith("Covering the night shift") and event.actor_id == other.user_id
        session.exec(update(EmergencyAccess).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    with unit_of_work() as session:
        assert access.clinical_access(session, other, access.load_patient(session, patient.id)) is None


def test_last_admin_cannot_be_demoted_or_deactivated(database):
    with unit_of_work() as session:
        created = users.create_user(session=session, actor=system_actor(), data={
            "username": "onlyadmin", "full_name": "Only Admin", "role": "admin", "password": "a-long-admin-passphrase"})
        with pytest.raises(Conflict):
            users.set_role(session=session, actor=system_actor(), user_id=created.user.id, role="doctor")
        with pytest.raises(Conflict):
            users.set_active(session=session, actor=system_actor(), user_id=created.user.id, active=False)


def test_first_admin_only_from_the_command_line_and_only_once(database):
    data = {"username": "boot", "full_name": "Boot Admin", "role": "admin", "password": "a-long-admin-passphrase"}
    with unit_of_work() as session:
        admin = make_actor(session, role=Role.ADMIN)
        with pytest.raises(Conflict):
            users.create_first_admin(session=session, actor=admin, data=data)
        with pytest.raises(Conflict):
            users.create_first_admin(session=session, actor=system_actor(), data=data)


def test_new_user_without_password_gets_a_one_time_code(database):
    with unit_of_work() as session:
        admin = make_actor(session, role=Role.ADMIN)
        created = users.create_user(session=session, actor=admin, data={
            "username": "Dr.Iyer", "full_name": "Dr. Kavya Iyer", "role": "doctor"})
    assert created.user.username == "dr.iyer" and created.setup_code
    with unit_of_work() as session, pytest.raises(ValidationError) as err:
        users.create_user(session=session, actor=admin, data={"username": "dr.iyer", "full_name": "X", "role": "doctor"})
    assert err.value.fields == {"username": "This username is taken."}


def test_every_permission_has_a_rule_and_design_table_holds():
    assert set(PERMISSIONS) == set(Permission)
    assert PERMISSIONS[Permission.CLINICAL_READ] == {Role.DOCTOR}
    assert Role.RECEPTIONIST not in PERMISSIONS[Permission.CONSULTATION_RUN]
    assert Role.MANAGER not in PERMISSIONS[Permission.PATIENT_READ_DEMOGRAPHICS]
    assert PERMISSIONS[Permission.AUDIT_READ] == {Role.ADMIN}
