"""Reception and records: the main paths once, on both databases."""

from __future__ import annotations

import pytest

from core.db import unit_of_work
from core.errors import PermissionDenied, ValidationError
from core.security.rbac import Role, system_actor
from core.services import intake, patient_import, patients, scales, symptoms
from tests.factories import make_actor


def test_intake_search_symptoms_scales(database):
    with unit_of_work() as session:
        desk = make_actor(session, role=Role.RECEPTIONIST)
        doctor = make_actor(session, role=Role.DOCTOR)
        hits = symptoms.search_symptoms(session=session, actor=desk, query="depresed mood")
        assert hits and hits[0].code == "MB24.5", hits[:3]
        result = intake.register_intake(session=session, actor=desk, data={
            "patient": {"full_name": "Ananya Deshpande", "date_of_birth": "1991-02-03", "sex": "female",
                        "phone": "098201 23456", "assigned_doctor_id": doctor.user_id, "consent_recording": True},
            "intake": {"informants": [{"relationship": "mother", "details": "lives with patient", "reliability": "reliable"}],
                       "illness_duration_value": 6, "illness_duration_unit": "months", "referral_source": "GP",
                       "presenting_complaints": "low mood, poor sleep", "presenting_symptoms": ["icd:MB24.5"]}})
    with unit_of_work() as session, pytest.raises(patients.DuplicatePatient) as dup:
        intake.register_intake(session=session, actor=desk, data={
            "patient": {"full_name": "ananya  DESHPANDE", "date_of_birth": "1991-02-03", "sex": "female"}})
    assert dup.value.matches[0].mrn == result.patient.mrn
    with unit_of_work() as session:
        page = patients.list_patients(session=session, actor=desk, query="anan desh")
        assert [r.mrn for r in page.rows] == [result.patient.mrn] and page.matched_by == "name"
        assert patients.list_patients(session=session, actor=desk, query="+91 98201 23456").rows[0].mrn == result.patient.mrn
        listed = symptoms.list_patient_symptoms(session=session, actor=desk, patient_id=result.patient.id)
        assert [s.code for s in listed] == ["MB24.5"] and listed[0].notes is None
        r = scales.administer_scale(session=session, actor=doctor, patient_id=result.patient.id, scale_id="PHQ-9",
                                    answers=[1, 2, 1, 1, 0, 1, 1, 0, 1])
        assert (r.total, r.band, r.screen_positive) == (8, "Mild", False)
        flags = scales.safety_flags(session=session, actor=doctor, patient_id=result.patient.id, open_only=True)
        assert len(flags) == 1
        with pytest.raises(PermissionDenied):
            scales.scale_history(session=session, actor=desk, patient_id=result.patient.id)
        scales.acknowledge_flag(session=session, actor=doctor, flag_id=flags[0].id, note="Assessed: passive ideation, safety plan agreed")
        assert scales.safety_flags(session=session, actor=doctor, patient_id=result.patient.id, open_only=True) == []


def test_name_sort_without_decrypting_everything(database):
    names = ["Zara Khan", "aarav Shah", "Meena Iyer", "Bhavna Rao", "Yusuf Ali", "Chitra Menon", "Mohan Das"]
    with unit_of_work() as session:
        desk = make_actor(session, role=Role.RECEPTIONIST)
        for i, name in enumerate(names):
            patients.register_patient(session=session, actor=desk, data={
                "full_name": name, "date_of_birth": f"198{i}-01-01", "sex": "unknown"})
    with unit_of_work() as session:
        first = patients.list_patients(session=session, actor=desk, sort="name", page_size=25)
    assert [r.full_name for r in first.rows] == sorted(names, key=str.casefold)


def test_import_all_or_nothing(database):
    good = "full_name,date_of_birth,sex,phone,email,address\nRavi Kumar,1980-01-01,male,9820012345,ravi@example.com,Pune\n"
    bad = good + "Bad Date,2099-01-01,male,,,\n"
    with unit_of_work() as session:
        make_actor(session, role=Role.ADMIN)
        report = patient_import.import_patients(session=session, actor=system_actor(), content=bad.encode())
    assert report.imported == 0 and report.rejected[0][0] == 3
    with unit_of_work() as session:
        assert patients.list_patients(session=session, actor=make_actor(session, role=Role.RECEPTIONIST)).total == 0
        report = patient_import.import_patients(session=session, actor=system_actor(), content=bad.encode(), skip_invalid=True)
    assert report.imported == 1 and "line" in report.rejects_csv
    with unit_of_work() as session, pytest.raises(ValidationError) as err:
        patient_import.import_patients(session=session, actor=system_actor(), content=b"name,dob\nx,y\n")
    assert "missing column" in err.value.fields["file"]
