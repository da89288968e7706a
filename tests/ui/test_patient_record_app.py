"""The patient pages headless: search and open a record, role-specific tabs, a scale with a safety flag
that the doctor acknowledges, symptom search and the admin import page."""

from __future__ import annotations

from core.db import unit_of_work
from core.security.rbac import Role
from core.services.auth import actor_for
from tests.factories import DEFAULT_PASSWORD, make_patient, make_user
from tests.ui.test_sign_in_app import _app, _sign_in


def _clinic():
    with unit_of_work() as session:
        desk = make_user(session, role=Role.RECEPTIONIST, username="desk1")
        doctor = make_user(session, role=Role.DOCTOR, username="doc1", full_name="Dr. Owen")
        make_user(session, role=Role.DOCTOR, username="doc2", full_name="Dr. Other")
        make_user(session, role=Role.ADMIN, username="root1")
        patient = make_patient(session, actor=actor_for(desk), full_name="Farah Siddiqui", phone="+91 99870 11111",
                               assigned_doctor_id=doctor.id)
    return patient


def _open_record(username: str, query: str):
    at = _sign_in(_app(), username, DEFAULT_PASSWORD)
    at.switch_page("pages/patients.py").run()
    at.text_input(key="patients_query").input(query).run()
    assert not at.exception
    assert "Farah Siddiqui" in str(at.dataframe[0].value)
    # Selecting a row is a browser interaction; the page's helper does the same as that selection.
    at.session_state["_synapse_open_patient"] = str(_clinic_patient_id(at))
    at.switch_page("pages/patient.py").run()
    assert not at.exception
    return at


def _clinic_patient_id(at) -> str:
    from sqlalchemy import select

    from core.models import Patient

    with unit_of_work() as session:
        return str(session.exec(select(Patient.id)).scalars().one())


def test_reception_sees_demographics_not_clinical_tabs(sqlite_database):
    _clinic()
    at = _open_record("desk1", "99870 11111")
    assert at.title[0].value == "Farah Siddiqui"
    assert [t.label for t in at.tabs] == ["Demographics", "Intakes", "Presenting symptoms", "Appointments", "Bills"]


def test_doctor_scores_phq9_and_acknowledges_the_safety_flag(sqlite_database):
    _clinic()
    at = _open_record("doc1", "farah")
    assert "Rating scales" in [t.label for t in at.tabs]
    labels = ["Not at all", "Several days"]
    for i in range(1, 10):
        at.radio(key=f"PHQ-9_{i}").set_value(labels[1] if i in (1, 2, 9) else labels[0])
    next(b for b in at.button if b.label == "Save and score").click().run()
    assert not at.exception
    assert any("PHQ-9: 3 — Minimal" in s.value for s in at.success)
    at.run()
    assert any("Safety flag" in e.value for e in at.error)
    note_key = next(t.key for t in at.text_area if t.key and t.key.startswith("ack_note_"))
    at.text_area(key=note_key).input("Passive ideation only; safety plan made with wife present.")
    next(b for b in at.button if b.label == "Acknowledge").click().run()
    assert not at.exception
    assert not any("Safety flag" in e.value for e in at.error)


def test_other_doctor_must_give_a_reason(sqlite_database):
    _clinic()
    at = _open_record("doc2", "farah")
    assert "the clinical record is closed" in at.info[0].value
    assert [t.label for t in at.tabs] == []
    at.text_area[0].input("Covering for Dr. Owen tonight; patient called in distress")
    next(b for b in at.button if b.label == "Open the record for 60 minutes").click().run()
    assert not at.exception
    assert "Rating scales" in [t.label for t in at.tabs]
    assert any("emergency access" in w.value for w in at.warning)


def test_symptom_and_import_pages_render(sqlite_database):
    _clinic()
    at = _sign_in(_app(), "doc1", DEFAULT_PASSWORD)
    at.switch_page("pages/symptoms.py").run()
    at.text_input[0].input("insomnia").run()
    assert not at.exception and "Insomnia" in str(at.dataframe[0].value)
    admin = _sign_in(_app(), "root1", DEFAULT_PASSWORD)
    admin.switch_page("pages/admin_import.py").run()
    assert not admin.exception and admin.title[0].value == "Import patients"
