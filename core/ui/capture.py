"""Live capture of a consultation in the browser: streamlit-webrtc (SENDONLY audio, no STUN unless the clinic
configures ICE servers) feeding core.speech.live.LiveSession. One LiveSession per consultation per server
process, so a rerun, a second tab or a reconnect reuses it; after a server restart the consultation is
resumed into the same record from the stored audio."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass

import streamlit as st
from streamlit_webrtc import WebRtcMode, create_audio_sink_track, webrtc_streamer

from core.config import get_settings
from core.db import unit_of_work
from core.security.rbac import Actor
from core.services import consultations
from core.speech.base import Segment, SpeechError
from core.speech.live import LiveSession

log = logging.getLogger("synapse.capture")


@dataclass
class Capture:
    consultation_id: uuid.UUID
    live: LiveSession
    engine_label: str
    problem: str | None = None


_captures: dict[uuid.UUID, Capture] = {}
_lock = threading.Lock()


@st.cache_resource(show_spinner="Loading the speech engine…")
def _engine():  # type: ignore[no-untyped-def]
    """Loaded once per process, shared by every consultation (engines are thread-safe)."""
    from core.speech.engines import load_engine

    try:
        return load_engine(get_settings().speech_engine), None
    except SpeechError as exc:
        return None, str(exc)


def engine_label() -> str:
    engine, problem = _engine()
    if engine is None:
        return f"no speech engine ({problem}); audio is kept and transcribed later"
    info = engine.info
    note = f" — {info.accuracy_note}" if info.accuracy_note else ""
    return f"{info.name}: {info.model}, languages {', '.join(info.languages)}{note}"


def _make(actor: Actor, detail: consultations.ConsultationDetail) -> Capture:
    engine, problem = _engine()
    cid = detail.id
    holder: dict[str, Capture] = {}

    def on_chunk(seq: int, pcm: bytes) -> None:
        with unit_of_work() as session:
            consultations.store_audio(session=session, actor=actor, consultation_id=cid, seq=seq, pcm=pcm)

    def on_final(segment: Segment) -> None:
        with unit_of_work() as session:
            consultations.save_segments(session=session, actor=actor, consultation_id=cid, segments=[segment],
                                        engine=engine.info.name if engine else None,
                                        engine_model=engine.info.model if engine else None)

    def on_error(message: str) -> None:
        holder["capture"].problem = message
        log.warning("transcription problem in consultation %s", cid)
        with unit_of_work() as session:
            consultations.set_transcription_state(session=session, actor=actor, consultation_id=cid, state="pending")

    live = LiveSession(engine, on_chunk, on_final, first_seq=detail.next_chunk_seq, time_offset=detail.audio_seconds,
                       on_error=on_error)
    capture = Capture(cid, live, engine_label())
    holder["capture"] = capture
    if engine is None:
        capture.problem = problem
    return capture


def capture_for(actor: Actor, detail: consultations.ConsultationDetail) -> Capture:
    with _lock:
        capture = _captures.get(detail.id)
        if capture is None:
            capture = _captures[detail.id] = _make(actor, detail)
        return capture


def release(consultation_id: uuid.UUID) -> None:
    """Stop capture: the last utterance is finalised (within 2 s, saved by on_final) and the last chunk stored."""
    with _lock:
        capture = _captures.pop(consultation_id, None)
    if capture is not None:
        capture.live.stop(timeout=2.0)


def ice_servers() -> list[dict]:
    raw = get_settings().ice_servers
    return json.loads(raw) if raw else []


def microphone(capture: Capture) -> None:
    from streamlit import config as streamlit_config

    if streamlit_config.get_option("global.appTest"):
        # streamlit-webrtc needs a real server session (AppTest runs on a mock runtime); the microphone
        # is tested in a real browser instead (tests/e2e).
        st.caption("Microphone: available in the browser.")
        return
    # The package's factory keeps one sink per browser session and rebinds the callback on each rerun;
    # a sink built anew each rerun would be ignored after the first. A closed tab does not end the
    # LiveSession: it flushes the partial chunk after a second of silence and a reopened tab goes on.
    sink = create_audio_sink_track(callback=capture.live.push_frame, key=f"live-audio-{capture.consultation_id}")
    webrtc_streamer(
        key=f"capture-{capture.consultation_id}",
        mode=WebRtcMode.SENDONLY,
        rtc_configuration={"iceServers": ice_servers()},
        media_stream_constraints={"audio": True, "video": False},
        sink_audio_track=sink,
        translations={"start": "Start microphone", "stop": "Stop microphone"},
    )


@st.fragment(run_every=1)
def live_status(consultation_id: uuid.UUID) -> None:
    """Refreshed every second without rerunning the page: level, time, interim and final text."""
    capture = _captures.get(consultation_id)
    if capture is None:
        st.caption("Capture is not running.")
        return
    live = capture.live
    level = live.level_dbfs
    bars = 0 if level is None else max(0, min(20, int((level + 60) / 3)))
    minutes, seconds = divmod(int(live.received_seconds), 60)
    st.write(f"Audio received: **{minutes:02d}:{seconds:02d}** · level `{'█' * bars}{'·' * (20 - bars)}`"
             + (" · paused" if live.paused else ""))
    if live.transcription_pending:
        st.warning("Transcription is pending: the audio is being kept and will be transcribed when the "
                   "engine is back." + (f" ({capture.problem})" if capture.problem else ""))
    for segment in live.segments[-30:]:
        m, s = divmod(int(segment.start), 60)
        st.markdown(f"`{m:02d}:{s:02d}` {segment.text}")
    if live.interim_text:
        st.markdown(f"*{live.interim_text}…*")
