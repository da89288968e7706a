"""Pieces of the consultation pages: notes, stopping, upload, the review of a finished consultation."""

from __future__ import annotations

import streamlit as st

from core.services import consultations
from core.speech.base import BYTES_PER_SECOND, SpeechError
from core.ui import capture
from core.ui.auth import current_actor
from core.ui.errors import FieldErrors
from core.ui.format import fmt_datetime
from core.ui.services import attempt, call

OPEN_CONSULTATION_KEY = "_synapse_open_consultation"


def notes_form(detail: consultations.ConsultationDetail) -> None:
    errors = FieldErrors()
    with st.form("consultation_notes"):
        notes = st.text_area("Notes", value=detail.notes or "", height=320, max_chars=20_000)
        errors.slot("notes")
        if st.form_submit_button("Save notes"):
            if attempt(consultations.save_notes, errors=errors, consultation_id=detail.id, notes=notes)[0]:
                st.success("Notes saved.")


def stop(detail: consultations.ConsultationDetail) -> None:
    with st.spinner("Finishing the transcript…"):
        capture.release(detail.id)
    ok, _ = attempt(consultations.stop_consultation, consultation_id=detail.id)
    if ok:
        st.session_state[OPEN_CONSULTATION_KEY] = str(detail.id)
        st.rerun()


def upload_recording(detail: consultations.ConsultationDetail) -> None:
    from core.services.recordings import transcribe_recording

    with st.expander("Upload a recording instead"):
        upload = st.file_uploader("WAV, MP3, M4A, WebM or OGG", type=["wav", "mp3", "m4a", "webm", "ogg"])
        if upload is not None and st.button("Transcribe the recording"):
            bar = st.progress(0.0, text="Decoding…")
            try:
                result = transcribe_recording(actor=current_actor(), consultation_id=detail.id,
                                              content=upload.getvalue(),
                                              progress=lambda f: bar.progress(min(1.0, f), text="Transcribing…"))
            except SpeechError as exc:
                st.error(str(exc))
                return
            bar.progress(1.0, text="Done")
            st.success(f"Transcribed {result.seconds:.0f} s of audio into {result.segments} segments.")


def review(consultation_id: str) -> None:
    ok, detail = attempt(consultations.get_consultation, consultation_id=consultation_id)
    if not ok or detail is None:
        return
    st.subheader(f"{detail.code} · {consultations.SESSION_TYPE_LABELS[detail.session_type]} · {detail.status}")
    minutes = (detail.duration_seconds or 0) // 60
    st.write(f"Started {fmt_datetime(detail.started_at)} · ended {fmt_datetime(detail.ended_at)} · "
             f"{minutes} min · audio {detail.audio_seconds:.0f} s · engine {detail.engine or '—'} {detail.engine_model or ''}")
    st.write(f"Chief complaint: {detail.chief_complaint}")
    if detail.transcription == "pending":
        st.warning("Part of this consultation's audio is not transcribed yet.")
        if st.button("Transcribe the stored audio now"):
            from core.services.recordings import transcribe_stored

            try:
                transcribe_stored(actor=current_actor(), consultation_id=detail.id)
                st.rerun()
            except SpeechError as exc:
                st.error(str(exc))
    if detail.notes:
        st.markdown("**Notes**")
        st.text(detail.notes)
    if detail.stored_chunks and st.button("Play the recording"):
        pcm = call(consultations.recorded_audio, consultation_id=detail.id)
        from core.speech.audio import wav_bytes

        st.audio(wav_bytes(pcm), format="audio/wav")
        st.caption(f"{len(pcm) / BYTES_PER_SECOND:.0f} s")
    st.markdown("**Transcript**")
    if not detail.segments:
        st.info("No transcript.")
    for seg in detail.segments:
        m, s = divmod(int(seg.start_s), 60)
        with st.container(border=True):
            c1, c2 = st.columns([4, 1])
            c1.markdown(f"`{m:02d}:{s:02d}` {seg.text}" + ("  *(edited)*" if seg.edited else ""))
            speaker = c2.selectbox("Speaker", ["", *consultations.SPEAKERS], key=f"spk_{seg.id}",
                                   index=(["", *consultations.SPEAKERS].index(seg.speaker or "")),
                                   label_visibility="collapsed")
            if (speaker or None) != seg.speaker:
                attempt(consultations.label_speaker, segment_id=seg.id, speaker=speaker or None)
            with c1.popover("Correct the words"):
                errors = FieldErrors()
                with st.form(f"edit_{seg.id}"):
                    new_text = st.text_area("Text", value=seg.text, max_chars=5000)
                    errors.slot("text")
                    st.caption(f"Machine transcript: {seg.machine_text}")
                    if st.form_submit_button("Save"):
                        if attempt(consultations.edit_segment, errors=errors, segment_id=seg.id, text=new_text)[0]:
                            st.rerun()
    if st.button("Close"):
        st.session_state.pop(OPEN_CONSULTATION_KEY, None)
        st.rerun()


def history_tab(patient_id) -> None:  # type: ignore[no-untyped-def]
    page = st.session_state.get("_consult_page", 1)
    ok, result = attempt(consultations.list_consultations, patient_id=patient_id, page=page, page_size=10)
    if not ok or result is None:
        return
    rows, total = result
    if not rows:
        st.info("No consultations yet.")
        return
    for c in rows:
        c1, c2 = st.columns([5, 1])
        c1.write(f"**{c.code}** · {fmt_datetime(c.started_at)} · {consultations.SESSION_TYPE_LABELS[c.session_type]} · "
                 f"{c.status} · {c.doctor_name or '—'} · {(c.duration_seconds or 0) // 60} min")
        if c2.button("Open", key=f"open_c_{c.id}"):
            st.session_state[OPEN_CONSULTATION_KEY] = str(c.id)
            from core.ui.navigation import PAGES_DIR

            st.switch_page(PAGES_DIR / "consultation.py")
    pages = max(1, -(-total // 10))
    if pages > 1:
        st.session_state["_consult_page"] = st.number_input("Page", 1, pages, value=page, key="consult_page_no")
