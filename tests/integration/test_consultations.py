"""Consultations: start rules, audio stored encrypted as it arrives, segments, stop, edits, access."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import select

from core.db import unit_of_work
from core.errors import Conflict, PermissionDenied, ValidationError
from core.models import AuditEvent
from core.security.rbac import Role
from core.services import audio_store, consultations
from core.speech.base import Segment
from tests.factories import make_actor, make_patient


def _clinic(consent: bool = True):
    with unit_of_work() as session:
        doctor = make_actor(session, role=Role.DOCTOR)
        other = make_actor(session, role=Role.DOCTOR)
        desk = make_actor(session, role=Role.RECEPTIONIST)
        patient = make_patient(session, actor=desk, assigned_doctor_id=doctor.user_id, consent_recording=consent)
    return doctor, other, desk, patient


def _start(doctor, patient, **data):
    with unit_of_work() as session:
        return consultations.start_consultation(session=session, actor=doctor, patient_id=patient.id,
                                                data={"chief_complaint": "Low mood for months", **data})


def test_start_gives_a_code_and_refuses_a_second_one(database):
    doctor, _, _, patient = _clinic()
    first = _start(doctor, patient, session_type="new_patient")
    assert re.fullmatch(r"CS-\d{8}-[A-Z0-9]{8}", first.code) and first.status == "in_progress"
    with pytest.raises(Conflict) as err:
        _start(doctor, patient)
    assert first.code in err.value.message
    with unit_of_work() as session:
        assert consultations.in_progress_for(session=session, actor=doctor).id == first.id
        consultations.stop_consultation(session=session, actor=doctor, consultation_id=first.id)
    assert _start(doctor, patient).code != first.code


def test_one_in_progress_holds_under_concurrent_starts(database):
    doctor, _, _, patient = _clinic()
    results: list[object] = []

    def go() -> None:
        try:
            results.append(_start(doctor, patient))
        except Conflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = [r for r in results if isinstance(r, consultations.ConsultationSummary)]
    assert len(started) == 1 and len(results) == 4


def test_no_consent_refuses_recording_but_allows_typed_notes(database):
    doctor, _, _, patient = _clinic(consent=False)
    with pytest.raises(Conflict) as err:
        _start(doctor, patient)
    assert "not consented" in err.value.message
    notes_only = _start(doctor, patient, record=False)
    assert not notes_only.recording and notes_only.transcription == "none"
    with unit_of_work() as session, pytest.raises(Conflict):
        consultations.store_audio(session=session, actor=doctor, consultation_id=notes_only.id, seq=0, pcm=b"\0\0" * 10)


@pytest.mark.parametrize("complaint", ["", "ab", "  x "])
def test_chief_complaint_needs_three_characters(database, complaint):
    doctor, _, _, patient = _clinic()
    with pytest.raises(ValidationError) as err:
        _start(doctor, patient, chief_complaint=complaint)
    assert "chief_complaint" in err.value.fields


def test_audio_chunks_are_encrypted_files_and_read_back_in_order(database):
    doctor, _, _, patient = _clinic()
    c = _start(doctor, patient)
    chunks = [bytes([i]) * 32000 for i in range(1, 4)]  # three seconds of recognisable PCM
    for seq, pcm in enumerate(chunks):
        with unit_of_work() as session:
            consultations.store_audio(session=session, actor=doctor, consultation_id=c.id, seq=seq, pcm=pcm)
    with unit_of_work() as session:  # a retried chunk is not stored twice
        consultations.store_audio(session=session, actor=doctor, consultation_id=c.id, seq=1, pcm=chunks[1])
    files = sorted((audio_store.audio_root() / str(c.id)).glob("*.chunk"))
    assert len(files) == 3 and all(f.stat().st_mode & 0o077 == 0 for f in files)
    assert all(chunks[i][:64] not in f.read_bytes() for i, f in enumerate(files))
    with unit_of_work() as session:
        pcm = consultations.recorded_audio(session=session, actor=doctor, consultation_id=c.id)
        detail = consultations.get_consultation(session=session, actor=doctor, consultation_id=c.id)
    assert pcm == b"".join(chunks)
    assert detail.audio_seconds == 3.0 and detail.next_chunk_seq == 3


def test_segments_stop_edit_and_speakers(database):
    doctor, _, _, patient = _clinic()
    c = _start(doctor, patient)
    with unit_of_work() as session:
        consultations.save_segments(session=session, actor=doctor, consultation_id=c.id, engine="sphinx",
                                    segments=[Segment(0.5, 2.0, "how have you been sleeping"),
                                              Segment(2.5, 4.0, "  "), Segment(4.2, 6.0, "badly for a month")])
        stopped = consultations.stop_consultation(session=session, actor=doctor, consultation_id=c.id)
    assert stopped.status == "completed" and stopped.duration_seconds is not None
    with unit_of_work() as session:
        detail = consultations.get_consultation(session=session, actor=doctor, consultation_id=c.id)
        assert [s.text for s in detail.segments] == ["how have you been sleeping", "badly for a month"]
        consultations.edit_segment(session=session, actor=doctor, segment_id=detail.segments[1].id,
                                   text="Badly, for about a month.")
        consultations.label_speaker(session=session, actor=doctor, segment_id=detail.segments[1].id, speaker="patient")
        with pytest.raises(ValidationError):
            consultations.label_speaker(session=session, actor=doctor, segment_id=detail.segments[0].id, speaker="nurse")
    with unit_of_work() as session:
        seg = consultations.get_consultation(session=session, actor=doctor, consultation_id=c.id).segments[1]
        actions = list(session.exec(select(AuditEvent.action).where(AuditEvent.entity_id == str(c.id))).scalars())
    assert (seg.text, seg.machine_text, seg.edited, seg.speaker) == (
        "Badly, for about a month.", "badly for a month", True, "patient")
    assert {"consultation.start", "consultation.stop", "transcript.edit", "transcript.speaker",
            "consultation.view"} <= set(actions)
    with unit_of_work() as session, pytest.raises(Conflict):
        consultations.stop_consultation(session=session, actor=doctor, consultation_id=c.id)


def test_reception_managers_and_other_doctors_cannot_open_consultations_or_audio(database):
    doctor, other, desk, patient = _clinic()
    c = _start(doctor, patient)
    with unit_of_work() as session:
        manager = make_actor(session, role=Role.MANAGER)
    for actor in (desk, manager, other):
        for call in (consultations.get_consultation, consultations.recorded_audio):
            with unit_of_work() as session, pytest.raises(PermissionDenied):
                call(session=session, actor=actor, consultation_id=c.id)
    with unit_of_work() as session:
        denied = session.exec(select(AuditEvent).where(AuditEvent.outcome == "denied",
                                                       AuditEvent.actor_id == other.user_id)).scalars().all()
    assert denied, "refusals are audited"


def test_a_consultation_puts_the_patient_in_the_doctors_care(database):
    import datetime as dt

    from sqlalchemy import update

    from core.models import EmergencyAccess
    from core.models.base import utcnow
    from core.services.access import clinical_access, grant_emergency_access, load_patient

    doctor, other, _, patient = _clinic()
    with unit_of_work() as session:
        assert clinical_access(session, other, load_patient(session, patient.id)) is None
        grant_emergency_access(session=session, actor=other, patient_id=patient.id,
                               reason="Dr. on leave, patient attended the emergency slot")
    seen = _start(other, patient, session_type="emergency")
    with unit_of_work() as session:
        session.exec(update(EmergencyAccess).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    with unit_of_work() as session:
        # The grant has lapsed; having seen the patient keeps them in this doctor's care.
        assert clinical_access(session, other, load_patient(session, patient.id)) == "care"
        assert consultations.get_consultation(session=session, actor=other, consultation_id=seen.id).code == seen.code
