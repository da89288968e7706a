"""Transcribing recordings: an uploaded file, or audio already stored for a consultation (after the engine
was unavailable during capture). Long work runs outside any database transaction: the audio is stored in
one unit of work, decoded and transcribed without holding locks, and the segments saved in another."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from core.config import get_settings
from core.db import unit_of_work
from core.security.rbac import Actor
from core.services import consultations
from core.speech import audio
from core.speech.base import BYTES_PER_SECOND, ProgressCallback, Segment, SpeechError

CHUNK_SECONDS = 4
MAX_SECONDS = 4 * 3600


@dataclass(frozen=True)
class TranscriptionResult:
    seconds: float
    segments: int
    engine: str


def _engine(name: str | None = None):  # type: ignore[no-untyped-def]
    from core.speech.engines import load_engine

    return load_engine(name or get_settings().speech_engine)


def _shifted(segments: list[Segment], offset: float) -> list[Segment]:
    return [Segment(s.start + offset, s.end + offset, s.text, s.speaker, s.language) for s in segments]


def _transcribe_and_save(actor: Actor, consultation_id: uuid.UUID, pcm: bytes, offset: float,
                         progress: ProgressCallback | None, engine_name: str | None) -> TranscriptionResult:
    try:
        engine = _engine(engine_name)
        segments = engine.transcribe(pcm, progress=progress)
    except SpeechError:
        with unit_of_work() as session:
            consultations.set_transcription_state(session=session, actor=actor, consultation_id=consultation_id,
                                                  state="pending")
        raise
    with unit_of_work() as session:
        count = consultations.save_segments(session=session, actor=actor, consultation_id=consultation_id,
                                            segments=_shifted(segments, offset), engine=engine.info.name,
                                            engine_model=engine.info.model)
        consultations.set_transcription_state(session=session, actor=actor, consultation_id=consultation_id,
                                              state="done")
    return TranscriptionResult(len(pcm) / BYTES_PER_SECOND, count, engine.info.name)


def transcribe_recording(*, actor: Actor, consultation_id: object, content: bytes,
                         progress: ProgressCallback | None = None, engine: str | None = None) -> TranscriptionResult:
    """Store an uploaded recording with the consultation (encrypted, in chunks) and transcribe it."""
    pcm = audio.decode(content, max_bytes=get_settings().max_upload_mb * 1024 * 1024, max_seconds=MAX_SECONDS)
    with unit_of_work() as session:
        detail = consultations.get_consultation(session=session, actor=actor, consultation_id=consultation_id)
        step = CHUNK_SECONDS * BYTES_PER_SECOND
        for i, start in enumerate(range(0, len(pcm), step)):
            consultations.store_audio(session=session, actor=actor, consultation_id=detail.id,
                                      seq=detail.next_chunk_seq + i, pcm=pcm[start:start + step])
    return _transcribe_and_save(actor, detail.id, pcm, detail.audio_seconds, progress, engine)


def transcribe_stored(*, actor: Actor, consultation_id: object, progress: ProgressCallback | None = None,
                      engine: str | None = None) -> TranscriptionResult:
    """Transcribe the stored audio not yet covered by the transcript (the pending part)."""
    with unit_of_work() as session:
        detail = consultations.get_consultation(session=session, actor=actor, consultation_id=consultation_id)
        pcm = consultations.recorded_audio(session=session, actor=actor, consultation_id=detail.id,
                                           purpose="transcription")
    covered = max((s.end_s for s in detail.segments), default=0.0)
    start = int(covered * BYTES_PER_SECOND) & ~1
    if start >= len(pcm):
        raise SpeechError("All stored audio is already transcribed.")
    return _transcribe_and_save(actor, detail.id, pcm[start:], start / BYTES_PER_SECOND, progress, engine)
