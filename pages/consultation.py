"""Consultation: start one for the open patient, capture the microphone with a live transcript, take notes,
stop; or upload a recording instead. Afterwards: the transcript to correct, speakers, audio."""

import streamlit as st

from core import ui
from core.services import consultations, patients
from core.ui import capture, consultation_views as view

actor = ui.current_actor()
st.title("Consultation")

ok, current = ui.attempt(consultations.in_progress_for)
if not ok:
    st.stop()

if current is None:
    if opened := st.session_state.get(view.OPEN_CONSULTATION_KEY):
        view.review(opened)
        st.stop()
    patient_id = st.session_state.get(ui.OPEN_PATIENT_KEY)
    if not patient_id:
        st.info("Open a patient first: find them on the Patients page and select their row.")
        st.stop()
    ok, patient = ui.attempt(patients.get_patient, patient_id=patient_id)
    if not ok or patient is None:
        st.stop()
    st.subheader(f"Start a consultation with {patient.full_name} ({patient.mrn})")
    if not patient.consent_recording:
        st.warning("This patient has not consented to recording. You can take typed notes; reception records consent.")
    st.caption("Speech engine: " + capture.engine_label())
    errors = ui.FieldErrors()
    with st.form("start_consultation"):
        session_type = st.selectbox("Type", list(consultations.SESSION_TYPE_LABELS),
                                    format_func=consultations.SESSION_TYPE_LABELS.get)
        complaint = st.text_input("Chief complaint", max_chars=500)
        errors.slot("chief_complaint")
        record = st.checkbox("Record and transcribe", value=patient.consent_recording)
        started = st.form_submit_button("Start consultation", type="primary")
    if started:
        ok, _ = ui.attempt(consultations.start_consultation, errors=errors, patient_id=patient.id,
                           data={"session_type": session_type, "chief_complaint": complaint, "record": record})
        if ok:
            st.rerun()
    st.stop()

ok, detail = ui.attempt(consultations.get_consultation, consultation_id=current.id)
if not ok or detail is None:
    st.stop()
st.subheader(f"{detail.code} · {consultations.SESSION_TYPE_LABELS[detail.session_type]} · in progress")
st.write(f"Chief complaint: {detail.chief_complaint}")

left, right = st.columns([3, 2])
with left:
    if detail.recording:
        live = capture.capture_for(actor, detail)
        st.caption("Speech engine: " + live.engine_label)
        if detail.stored_chunks and not live.live.segments and live.live.received_seconds == 0:
            st.info(f"Resuming: {detail.audio_seconds:.0f} s of audio were already stored for this consultation; "
                    "capture continues into the same record.")
        capture.microphone(live)
        c1, c2 = st.columns(2)
        if c1.button("Pause", disabled=live.live.paused):
            live.live.pause()
            st.rerun()
        if c2.button("Resume", disabled=not live.live.paused):
            live.live.resume()
            st.rerun()
        capture.live_status(detail.id)
        view.upload_recording(detail)
    else:
        st.info("Not recording: typed notes only.")
with right:
    view.notes_form(detail)

if st.button("Stop consultation", type="primary"):
    view.stop(detail)
