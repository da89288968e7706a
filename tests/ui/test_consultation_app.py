"""The consultation page headless: start refused without consent (typed notes offered), start with
recording, notes saved, stop, then the review with transcript correction and speaker labels. The
microphone itself (a WebRTC component) is exercised in the browser tests."""

from __future__ import annotations

from sqlalchemy import select

from core.db import unit_of_work
from core.models import Consultation, TranscriptSegment
from core.security.rbac import Role
from core.services import consultations
from core.services.auth import actor_for
from core.speech.base import Segment
from core.ui.services import OPEN_PATIENT_KEY
from tests.factories import DEFAULT_PASSWORD, make_patient, make_user
from tests.ui.test_sign_in_app import _app, _sign_in


def _doctor_with_patient(consent: bool):
    with unit_of_work() as session:
        desk = make_user(session, role=Role.RECEPTIONIST, username="desk1")
        doctor = make_user(session, role=Role.DOCTOR, username="doc1", full_name="Dr. Owen")
        patient = make_patient(session, actor=actor_for(desk), full_name="Ishaan Verma", assigned_doctor_id=doctor.id,
                               consent_recording=consent)
    return actor_for(doctor), patient


def _consultation_page(patient):
    at = _sign_in(_app(), "doc1", DEFAULT_PASSWORD)
    at.session_state[OPEN_PATIENT_KEY] = str(patient.id)
    at.switch_page("pages/consultation.py").run(timeout=60)
    assert not at.exception, at.exception
    return at


def test_without_consent_only_typed_notes(sqlite_database):
    _, patient = _doctor_with_patient(consent=False)
    at = _consultation_page(patient)
    assert "not consented to recording" in at.warning[0].value
    record = next(c for c in at.checkbox if c.label == "Record and transcribe")
    assert record.value is False
    record.check()
    at.text_input[0].input("Panic attacks at work")
    next(b for b in at.button if b.label == "Start consultation").click().run(timeout=60)
    assert any("has not consented" in e.value for e in at.error)
    with unit_of_work() as session:
        assert session.exec(select(Consultation)).scalars().all() == []
    next(c for c in at.checkbox if c.label == "Record and transcribe").uncheck()
    next(b for b in at.button if b.label == "Start consultation").click().run(timeout=60)
    assert not at.exception
    assert any("typed notes only" in i.value for i in at.info)


def test_notes_stop_and_review_with_corrections(sqlite_database):
    doctor, patient = _doctor_with_patient(consent=True)
    at = _consultation_page(patient)
    at.text_input[0].input("Low mood since March")
    next(b for b in at.button if b.label == "Start consultation").click().run(timeout=60)
    assert not at.exception, at.exception
    assert "in progress" in at.subheader[0].value
    with unit_of_work() as session:
        c = session.exec(select(Consultation)).scalars().one()
        consultations.save_segments(session=session, actor=doctor, consultation_id=c.id,
                                    segments=[Segment(1.0, 3.0, "any thoughts of harming yourself"),
                                              Segment(3.5, 5.0, "no never")])
    at.text_area[0].input("Denies suicidal ideation. Sleep 4 h.")
    next(b for b in at.button if b.label == "Save notes").click().run(timeout=60)
    assert any("Notes saved." in s.value for s in at.success)
    next(b for b in at.button if b.label == "Stop consultation").click().run(timeout=60)
    assert not at.exception, at.exception
    assert "completed" in at.subheader[0].value
    assert any("Denies suicidal ideation" in t.value for t in at.text)
    speaker = next(s for s in at.selectbox if s.options == ["", "doctor", "patient", "informant"])
    speaker.set_value("doctor").run(timeout=60)
    with unit_of_work() as session:
        first = session.exec(select(TranscriptSegment).where(TranscriptSegment.seq == 1)).scalars().one()
        assert first.speaker == "doctor" and first.machine_text == "any thoughts of harming yourself"
