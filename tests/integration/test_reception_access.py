"""Who receives what from the reception and records services.

- Receptionists never receive clinical content: no scales, no safety flags, no clinical symptoms, and of
  presenting symptoms nothing clinical (notes, onset, triggers).
- Managers and admins receive no patient identities: every service that returns patients refuses them.
- A doctor reads another doctor's patient's clinical record only after grant_emergency_access, every
  refusal and every read is audited, and the grant expires.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, update

from core.db import unit_of_work
from core.errors import PermissionDenied, ValidationError
from core.models import AuditEvent, EmergencyAccess, Intake, Patient, PatientSymptom, SafetyFlag, ScaleResult
from core.models.base import utcnow
from core.security.rbac import Actor, Role
from core.services import access, intake, patient_import, patients, scales, symptoms
from tests.factories import make_actor, make_patient, patient_csv

SECRETS = ("ONSET-SECRET", "TRIGGER-SECRET", "NOTE-SECRET", "CLINICAL-NOTE-SECRET", "CLINICAL-ONSET", "CLINICAL-TRIGGER")
NAME = "Kavya Menon"
PHONE = "+91 98450 11223"
REASON = "Patient in crisis at the front desk; own doctor on leave"


@dataclass
class Clinic:
    doctor: Actor
    other: Actor
    desk: Actor
    manager: Actor
    admin: Actor
    patient_id: uuid.UUID
    presenting: uuid.UUID  # lineage of the presenting symptom (edited by the doctor)
    clinical: uuid.UUID  # lineage of a clinical symptom
    flag_id: uuid.UUID


@pytest.fixture
def clinic(database) -> Clinic:
    with unit_of_work() as session:
        doctor = make_actor(session, role=Role.DOCTOR)
        other = make_actor(session, role=Role.DOCTOR)
        desk = make_actor(session, role=Role.RECEPTIONIST)
        manager = make_actor(session, role=Role.MANAGER)
        admin = make_actor(session, role=Role.ADMIN)
        result = intake.register_intake(session=session, actor=desk, data={
            "patient": {"full_name": NAME, "date_of_birth": "1988-08-08", "sex": "female", "phone": PHONE,
                        "email": "kavya@example.org", "assigned_doctor_id": doctor.user_id},
            "intake": {"presenting_complaints": "cannot sleep", "presenting_symptoms": ["icd:MB24.5"]}})
        pid = result.patient.id
    with unit_of_work() as session:
        (presenting,) = symptoms.list_patient_symptoms(session=session, actor=doctor, patient_id=pid)
        symptoms.edit_symptom(session=session, actor=doctor, lineage_id=presenting.lineage_id, data={
            "ref": "icd:MB24.5", "severity": "severe", "frequency": "daily", "duration_value": 2, "duration_unit": "weeks",
            "onset": "ONSET-SECRET", "triggers": ["TRIGGER-SECRET"], "notes": "NOTE-SECRET"})
        clinical = symptoms.attach_symptom(session=session, actor=doctor, patient_id=pid, data={
            "ref": "icd:MB24.3", "severity": "moderate", "onset": "CLINICAL-ONSET", "triggers": ["CLINICAL-TRIGGER"],
            "notes": "CLINICAL-NOTE-SECRET"})
        scales.administer_scale(session=session, actor=doctor, patient_id=pid, scale_id="PHQ-9", answers=[1] * 9)
        (flag,) = scales.safety_flags(session=session, actor=doctor, patient_id=pid)
    return Clinic(doctor, other, desk, manager, admin, pid, presenting.lineage_id, clinical.lineage_id, flag.id)


def _audit(session, **where) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.seq)
    for column, value in where.items():
        query = query.where(getattr(AuditEvent, column) == value)
    return list(session.exec(query).scalars())


def _counts(session) -> tuple:
    return tuple(session.exec(select(func.count()).select_from(m)).scalar_one()
                 for m in (Patient, Intake, PatientSymptom, ScaleResult, SafetyFlag, EmergencyAccess))


def _clinical_calls(c: Clinic) -> dict[str, tuple[str, Callable]]:
    """name -> (audit action of a refusal, call(session, actor)) for every clinical read and write."""
    pid = c.patient_id
    return {
        "scale_history": ("scale.view", lambda s, a: scales.scale_history(session=s, actor=a, patient_id=pid)),
        "safety_flags": ("safety_flag.view", lambda s, a: scales.safety_flags(session=s, actor=a, patient_id=pid)),
        "list_patient_symptoms": ("symptom.view", lambda s, a: symptoms.list_patient_symptoms(
            session=s, actor=a, patient_id=pid, history=True)),
        "administer_scale": ("scale.administer", lambda s, a: scales.administer_scale(
            session=s, actor=a, patient_id=pid, scale_id="GAD-7", answers=[0] * 7)),
        "acknowledge_flag": ("safety_flag.acknowledge", lambda s, a: scales.acknowledge_flag(
            session=s, actor=a, flag_id=c.flag_id, note="Seen and assessed, no plan needed")),
        "attach_symptom": ("symptom.record", lambda s, a: symptoms.attach_symptom(
            session=s, actor=a, patient_id=pid, data={"ref": "icd:MB24.1", "notes": "x"})),
        "edit_symptom": ("symptom.record", lambda s, a: symptoms.edit_symptom(
            session=s, actor=a, lineage_id=c.clinical, data={"ref": "icd:MB24.3"})),
        "remove_symptom": ("symptom.record", lambda s, a: symptoms.remove_symptom(
            session=s, actor=a, lineage_id=c.clinical, reason="not needed")),
    }


# --- receptionists ------------------------------------------------------------------------------------

def test_receptionist_receives_no_clinical_content(clinic):
    c = clinic
    with unit_of_work() as session:
        before = _counts(session)
        current = symptoms.list_patient_symptoms(session=session, actor=c.desk, patient_id=c.patient_id)
        history = symptoms.list_patient_symptoms(session=session, actor=c.desk, patient_id=c.patient_id, history=True)
        shown = repr([s.model_dump() for s in current + history])
        demographics = patients.get_patient(session=session, actor=c.desk, patient_id=c.patient_id)
        intakes = intake.list_intakes(session=session, actor=c.desk, patient_id=c.patient_id)
    # Only the presenting symptom (both versions in history), never the doctor's clinical symptom.
    assert [(s.code, s.title, s.source) for s in current] == [("MB24.5", "Depressed mood", "presenting")]
    assert [(s.code, s.version) for s in history] == [("MB24.5", 1), ("MB24.5", 2)]
    assert all(s.notes is None and s.onset is None and s.triggers == [] for s in current + history)
    assert not any(secret in shown for secret in SECRETS) and "MB24.3" not in shown
    # The doctor sees what reception does not (so the redaction above is not an empty record).
    with unit_of_work() as session:
        full = repr(symptoms.list_patient_symptoms(session=session, actor=c.doctor, patient_id=c.patient_id, history=True))
    assert all(secret in full for secret in SECRETS)
    # Demographics and intakes are reception's own business.
    assert demographics.full_name == NAME and intakes[0].presenting_complaints == "cannot sleep"

    wrong = []
    for name, (_, call) in _clinical_calls(c).items():
        if name in ("list_patient_symptoms", "attach_symptom"):  # reception records presenting symptoms
            continue
        try:
            with unit_of_work() as session:
                result = call(session, c.desk)
            wrong.append((name, result))
        except PermissionDenied:
            pass
    assert wrong == []
    with pytest.raises(PermissionDenied):
        with unit_of_work() as session:
            access.grant_emergency_access(session=session, actor=c.desk, patient_id=c.patient_id, reason=REASON)
    with unit_of_work() as session:
        assert _counts(session) == before


def test_reception_records_presenting_symptoms_and_lists_only_those(clinic):
    c = clinic
    with unit_of_work() as session:
        added = symptoms.attach_symptom(session=session, actor=c.desk, patient_id=c.patient_id, data={"ref": "icd:MB24.1"})
    assert added.source == "presenting"
    with unit_of_work() as session:
        desk_sees = symptoms.list_patient_symptoms(session=session, actor=c.desk, patient_id=c.patient_id)
        doctor_sees = symptoms.list_patient_symptoms(session=session, actor=c.doctor, patient_id=c.patient_id)
        (view,) = _audit(session, action="symptom.view", actor_id=c.desk.user_id)
    assert sorted(s.code for s in desk_sees) == ["MB24.1", "MB24.5"]
    assert sorted((s.code, s.source) for s in doctor_sees) == [
        ("MB24.1", "presenting"), ("MB24.3", "clinical"), ("MB24.5", "presenting")]
    assert view.details == {"basis": "presenting", "rows": 2}


def test_receptionist_symptom_search_has_no_custom_symptoms(clinic):
    c = clinic
    with unit_of_work() as session:
        symptoms.create_custom_symptom(session=session, actor=c.doctor, name="Quixotic dread")
        assert [h.title for h in symptoms.search_symptoms(session=session, actor=c.doctor, query="quixotic")] == ["Quixotic dread"]
        assert symptoms.search_symptoms(session=session, actor=c.desk, query="quixotic") == []


def test_receptionist_sees_presenting_symptom_titles_only(clinic):
    c = clinic
    with unit_of_work() as session:
        listed = symptoms.list_patient_symptoms(session=session, actor=c.desk, patient_id=c.patient_id, history=True)
    assert [(s.severity, s.frequency, s.duration_value, s.duration_unit) for s in listed] == [(None, None, None, None)] * 2


# --- managers and admins ----------------------------------------------------------------------------------

def _identity_calls(c: Clinic) -> dict[str, Callable]:
    pid = c.patient_id
    form = {"full_name": "New Person", "date_of_birth": "1990-01-01", "phone": "+91 91234 00000"}
    calls = {
        "list_patients": lambda s, a: patients.list_patients(session=s, actor=a),
        "list_patients by name": lambda s, a: patients.list_patients(session=s, actor=a, query="kavya"),
        "find_patients": lambda s, a: patients.find_patients(session=s, actor=a, query=PHONE),
        "get_patient": lambda s, a: patients.get_patient(session=s, actor=a, patient_id=pid),
        "find_duplicates": lambda s, a: patients.find_duplicates(session=s, actor=a, data={
            "full_name": NAME, "date_of_birth": "1988-08-08"}),
        "register_patient": lambda s, a: patients.register_patient(session=s, actor=a, data=form),
        "update_patient": lambda s, a: patients.update_patient(session=s, actor=a, patient_id=pid, data={
            "full_name": NAME, "date_of_birth": "1988-08-08"}),
        "register_intake": lambda s, a: intake.register_intake(session=s, actor=a, data={"patient": form}),
        "record_intake": lambda s, a: intake.record_intake(session=s, actor=a, patient_id=pid, data={}),
        "list_intakes": lambda s, a: intake.list_intakes(session=s, actor=a, patient_id=pid),
        "search_symptoms": lambda s, a: symptoms.search_symptoms(session=s, actor=a, query="mood"),
    }
    calls.update({name: call for name, (_, call) in _clinical_calls(c).items()})
    return calls


def test_managers_and_admins_receive_no_patient_identities(clinic):
    c = clinic
    with unit_of_work() as session:
        before = _counts(session)
    leaked = []
    for actor in (c.manager, c.admin):
        for name, call in _identity_calls(c).items():
            try:
                with unit_of_work() as session:
                    result = call(session, actor)
                leaked.append((actor.role.value, name, repr(result)[:120]))
            except PermissionDenied as exc:
                assert NAME not in exc.message and "98450" not in exc.message
    assert leaked == []
    with pytest.raises(PermissionDenied):
        with unit_of_work() as session:
            access.grant_emergency_access(session=session, actor=c.manager, patient_id=c.patient_id, reason=REASON)
    with pytest.raises(PermissionDenied):
        with unit_of_work() as session:
            patient_import.import_patients(session=session, actor=c.manager, content=patient_csv([]))
    with unit_of_work() as session:
        assert _counts(session) == before


def test_an_admin_with_emergency_access_still_gets_no_identities(clinic):
    c = clinic
    with unit_of_work() as session:
        access.grant_emergency_access(session=session, actor=c.admin, patient_id=c.patient_id, reason=REASON)
    for name in ("get_patient", "list_patients", "find_patients", "list_intakes", "update_patient"):
        with pytest.raises(PermissionDenied):
            with unit_of_work() as session:
                _identity_calls(c)[name](session, c.admin)
    with unit_of_work() as session:
        (granted,) = _audit(session, action="emergency_access.grant")
    assert (granted.actor_username, granted.reason) == (c.admin.username, REASON)


# --- another doctor ---------------------------------------------------------------------------------------

def test_another_doctor_is_refused_and_each_refusal_is_audited(clinic):
    c = clinic
    with unit_of_work() as session:
        before = _counts(session)
    expected = []
    for name, (action, call) in _clinical_calls(c).items():
        # Caught inside the unit of work (which then commits); the test above lets the error escape instead.
        with unit_of_work() as session, pytest.raises(PermissionDenied) as err:
            call(session, c.other)
        if action.endswith((".view", ".administer", ".acknowledge")):
            assert "emergency access" in err.value.message, name
        expected.append(action)
    with unit_of_work() as session:
        refusals = _audit(session, actor_id=c.other.user_id)
        assert _counts(session) == before
    assert [e.action for e in refusals] == expected
    assert all((e.outcome, e.entity, e.entity_id, e.actor_username, e.actor_role) ==
               ("denied", "patient", str(c.patient_id), c.other.username, "doctor") for e in refusals)


def test_refusals_stay_audited_when_the_error_leaves_the_unit_of_work(clinic):
    # As pages call services (core.ui.services.call): the PermissionDenied leaves the unit of work, which
    # rolls back; the refusal must still be in the audit log.
    c = clinic
    with unit_of_work() as session:
        before = _counts(session)
    calls = _clinical_calls(c)
    for _, call in calls.values():
        with pytest.raises(PermissionDenied):
            with unit_of_work() as session:
                call(session, c.other)
    with unit_of_work() as session:
        refusals = _audit(session, actor_id=c.other.user_id)
        assert _counts(session) == before
    assert [(e.action, e.outcome, e.entity_id) for e in refusals] == [
        (action, "denied", str(c.patient_id)) for action, _ in calls.values()]


def test_emergency_access_opens_the_record_for_a_time_and_every_read_is_audited(clinic):
    c = clinic
    with unit_of_work() as session:
        unrelated = make_patient(session, actor=c.desk, assigned_doctor_id=c.doctor.user_id, full_name="Unrelated Person")
    for reason in (None, "", "because", "x" * 14, "two\x00bytes"):
        with pytest.raises(ValidationError) as err:
            with unit_of_work() as session:
                access.grant_emergency_access(session=session, actor=c.other, patient_id=c.patient_id, reason=reason)
        assert list(err.value.fields) == ["reason"]
    with unit_of_work() as session:
        assert session.exec(select(func.count()).select_from(EmergencyAccess)).scalar_one() == 0
        grant = access.grant_emergency_access(session=session, actor=c.other, patient_id=c.patient_id, reason=REASON)
    assert dt.timedelta(minutes=59) < grant.expires_at - utcnow() <= dt.timedelta(minutes=60)

    with unit_of_work() as session:
        history = scales.scale_history(session=session, actor=c.other, patient_id=c.patient_id)
        listed = symptoms.list_patient_symptoms(session=session, actor=c.other, patient_id=c.patient_id)
        flags = scales.safety_flags(session=session, actor=c.other, patient_id=c.patient_id)
    assert [(h.scale_id, h.total, h.answers) for h in history] == [("PHQ-9", 9, [1] * 9)]
    assert "CLINICAL-NOTE-SECRET" in repr(listed) and len(flags) == 1
    with unit_of_work() as session:
        (granted,) = _audit(session, action="emergency_access.grant")
        reads = [(e.action, e.outcome, e.entity_id) for e in _audit(session, actor_id=c.other.user_id)
                 if e.action != "emergency_access.grant"]
    assert (granted.actor_username, granted.reason, granted.entity_id, granted.outcome) == \
        (c.other.username, REASON, str(c.patient_id), "success")
    assert ("scale.view", "success", str(c.patient_id)) in reads
    assert ("symptom.view", "success", str(c.patient_id)) in reads

    # The grant is for that patient only.
    with pytest.raises(PermissionDenied):
        with unit_of_work() as session:
            scales.scale_history(session=session, actor=c.other, patient_id=unrelated.id)
    # And it expires.
    with unit_of_work() as session:
        session.exec(update(EmergencyAccess).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    for name in ("scale_history", "safety_flags", "list_patient_symptoms"):
        with pytest.raises(PermissionDenied):
            with unit_of_work() as session:
                _clinical_calls(c)[name][1](session, c.other)


def test_reading_safety_flags_under_emergency_access_is_audited(clinic):
    c = clinic
    with unit_of_work() as session:
        access.grant_emergency_access(session=session, actor=c.other, patient_id=c.patient_id, reason=REASON)
    with unit_of_work() as session:
        assert len(scales.safety_flags(session=session, actor=c.other, patient_id=c.patient_id)) == 1
    with unit_of_work() as session:
        reads = _audit(session, actor_id=c.other.user_id, action="safety_flag.view", outcome="success")
    assert [e.entity_id for e in reads] == [str(c.patient_id)]


def test_another_doctor_reads_no_intake_narrative_without_emergency_access(clinic):
    c = clinic
    try:
        with unit_of_work() as session:
            intakes = intake.list_intakes(session=session, actor=c.other, patient_id=c.patient_id)
    except PermissionDenied:
        return
    assert all(i.presenting_complaints is None and i.precipitating_factors is None for i in intakes)
