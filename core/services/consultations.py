"""Consultations: start (consent and one-at-a-time rules), audio stored as it arrives, transcript segments
saved as they become final, stop, typed notes, transcript edits and speaker labels (the machine's words
are kept), history, the audited detail view and audio playback."""

from __future__ import annotations

import datetime as dt
import secrets
import string
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from core.config import get_settings
from core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from core.models import AudioChunk, Consultation, Patient, TranscriptSegment, User
from core.models.base import utcnow
from core.security.crypto import is_undecryptable
from core.security.rbac import Actor, Permission, require
from core.services import audio_store, audit
from core.services.access import as_uuid, load_patient, require_clinical_access
from core.speech.base import BYTES_PER_SECOND, Segment
from core.validation import FieldProblem, clean_text, parse_input

SessionType = Literal["new_patient", "follow_up", "consultation", "emergency"]
SESSION_TYPE_LABELS = {"new_patient": "New patient", "follow_up": "Follow-up", "consultation": "Consultation",
                       "emergency": "Emergency"}
SPEAKERS = ("doctor", "patient", "informant")
_CODE_ALPHABET = string.ascii_uppercase + string.digits


class ConsultationStart(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    session_type: SessionType = "consultation"
    chief_complaint: str = Field(max_length=500)
    record: bool = True  # False: typed notes only


class ConsultationSummary(BaseModel):
    id: uuid.UUID
    code: str
    patient_id: uuid.UUID
    doctor_name: str | None
    session_type: str
    status: str
    recording: bool
    transcription: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    duration_seconds: int | None
    audio_seconds: float


class SegmentPublic(BaseModel):
    id: uuid.UUID
    seq: int
    start_s: float
    end_s: float
    text: str
    machine_text: str
    edited: bool
    speaker: str | None


class ConsultationDetail(ConsultationSummary):
    chief_complaint: str
    notes: str | None
    engine: str | None
    engine_model: str | None
    language: str | None
    segments: list[SegmentPublic]
    stored_chunks: int
    next_chunk_seq: int


def _new_code(now: dt.datetime) -> str:
    day = now.astimezone(get_settings().zone).strftime("%Y%m%d")
    return f"CS-{day}-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


def _load(session: Session, consultation_id: object, *, lock: bool = False) -> Consultation:
    query = select(Consultation).where(Consultation.id == as_uuid(consultation_id, "consultation"))
    row = session.exec(query.with_for_update() if lock else query).scalars().first()
    if row is None:
        raise NotFound("No such consultation.")
    return row


def _own(session: Session, actor: Actor, consultation: Consultation, action: str) -> Patient:
    """Clinical access to the consultation's patient; only its doctor changes it."""
    require(actor, Permission.CLINICAL_READ)
    patient = load_patient(session, consultation.patient_id)
    require_clinical_access(session, actor, patient, action)
    return patient


def _require_author(actor: Actor, consultation: Consultation) -> None:
    if consultation.doctor_id != actor.user_id:
        raise PermissionDenied("Only the doctor who ran this consultation can change it.")


def in_progress_for(*, session: Session, actor: Actor) -> ConsultationSummary | None:
    """The doctor's consultation still in progress (after a closed tab or a restart: offer to resume)."""
    require(actor, Permission.CONSULTATION_RUN)
    row = session.exec(select(Consultation).where(Consultation.doctor_id == actor.user_id,
                                                  Consultation.status == "in_progress")).scalars().first()
    return _summary(session, row) if row else None


def start_consultation(*, session: Session, actor: Actor, patient_id: object, data: object) -> ConsultationSummary:
    require(actor, Permission.CONSULTATION_RUN)
    patient = load_patient(session, patient_id)
    require_clinical_access(session, actor, patient, "consultation.start")
    payload = parse_input(ConsultationStart, data)
    try:
        complaint = clean_text(payload.chief_complaint, field="chief complaint", max_length=500, multiline=True)
    except FieldProblem as exc:
        raise ValidationError({"chief_complaint": str(exc)}) from exc
    if complaint is None or len(complaint) < 3:
        raise ValidationError({"chief_complaint": "Describe the chief complaint (at least 3 characters)."})
    if payload.record and not patient.consent_recording:
        audit.record(session, actor=actor, action="consultation.start", entity="patient", entity_id=patient.id,
                     outcome="denied", details={"reason": "no_recording_consent"})
        raise Conflict("This patient has not consented to recording. Record their consent at reception, or "
                       "start without recording and take typed notes.")
    current = session.exec(select(Consultation.code).where(Consultation.doctor_id == actor.user_id,
                                                           Consultation.status == "in_progress")).first()
    if current:
        raise Conflict(f"You already have a consultation in progress ({current[0]}). Stop it before starting another.")
    now = utcnow()
    row = Consultation(code=_new_code(now), patient_id=patient.id, doctor_id=actor.user_id,
                       session_type=payload.session_type, chief_complaint=complaint, recording=payload.record,
                       transcription="live" if payload.record else "none", started_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        # The partial unique index: another tab started one at the same moment.
        raise Conflict("You already have a consultation in progress. Stop it before starting another.") from exc
    patient.last_visit_at = now
    session.add(patient)
    audit.record(session, actor=actor, action="consultation.start", entity="consultation", entity_id=row.id,
                 details={"patient": str(patient.id), "type": row.session_type, "recording": row.recording})
    return _summary(session, row)


def store_audio(*, session: Session, actor: Actor, consultation_id: object, seq: int, pcm: bytes) -> None:
    """Persist one chunk of received audio (encrypted). Idempotent per (consultation, seq)."""
    consultation = _load(session, consultation_id)
    _require_author(actor, consultation)
    if not consultation.recording:
        raise Conflict("This consultation is not being recorded.")
    if not isinstance(pcm, (bytes, bytearray)) or len(pcm) % 2:
        raise ValidationError({"audio": "Audio must be 16-bit PCM."})
    existing = session.exec(select(AudioChunk).where(AudioChunk.consultation_id == consultation.id,
                                                     AudioChunk.seq == seq)).scalars().first()
    if existing is not None:
        return
    relpath = audio_store.chunk_relpath(consultation.id, seq)
    audio_store.write_chunk(relpath, bytes(pcm))
    session.add(AudioChunk(consultation_id=consultation.id, seq=seq, path=relpath, pcm_bytes=len(pcm)))
    consultation.audio_seconds = (consultation.audio_seconds or 0.0) + len(pcm) / BYTES_PER_SECOND
    consultation.updated_at = utcnow()
    session.add(consultation)


def save_segments(*, session: Session, actor: Actor, consultation_id: object, segments: list[Segment],
                  engine: str | None = None, engine_model: str | None = None, language: str | None = None) -> int:
    """Append final segments (as they become final, not only at stop)."""
    consultation = _load(session, consultation_id, lock=True)
    _require_author(actor, consultation)
    last = session.exec(select(func.max(TranscriptSegment.seq)).where(
        TranscriptSegment.consultation_id == consultation.id)).scalar_one() or 0
    count = 0
    for seg in segments:
        text = (seg.text or "").strip()
        if not text:
            continue
        last += 1
        session.add(TranscriptSegment(consultation_id=consultation.id, seq=last, start_s=float(seg.start),
                                      end_s=float(seg.end), machine_text=text, text=text, engine_speaker=seg.speaker))
        count += 1
    if engine:
        consultation.engine, consultation.engine_model = engine, engine_model
    if language:
        consultation.language = language
    session.add(consultation)
    return count


def set_transcription_state(*, session: Session, actor: Actor, consultation_id: object, state: str) -> None:
    if state not in ("live", "pending", "done", "failed"):
        raise ValidationError({"state": "Unknown transcription state."})
    consultation = _load(session, consultation_id)
    _require_author(actor, consultation)
    if consultation.transcription != state:
        consultation.transcription = state
        session.add(consultation)
        audit.record(session, actor=actor, action="consultation.transcription", entity="consultation",
                     entity_id=consultation.id, details={"state": state})


def stop_consultation(*, session: Session, actor: Actor, consultation_id: object) -> ConsultationSummary:
    consultation = _load(session, consultation_id, lock=True)
    _require_author(actor, consultation)
    if consultation.status != "in_progress":
        raise Conflict("This consultation has already ended.")
    now = utcnow()
    consultation.status, consultation.ended_at = "completed", now
    consultation.duration_seconds = int((now - consultation.started_at).total_seconds())
    if consultation.transcription == "live":
        consultation.transcription = "done"
    consultation.updated_at = now
    session.add(consultation)
    audit.record(session, actor=actor, action="consultation.stop", entity="consultation", entity_id=consultation.id,
                 details={"duration_seconds": consultation.duration_seconds})
    return _summary(session, consultation)


def save_notes(*, session: Session, actor: Actor, consultation_id: object, notes: object) -> None:
    consultation = _load(session, consultation_id)
    _require_author(actor, consultation)
    try:
        text = clean_text(notes, field="notes", max_length=20_000, required=False, multiline=True)
    except FieldProblem as exc:
        raise ValidationError({"notes": str(exc)}) from exc
    consultation.notes, consultation.updated_at = text, utcnow()
    session.add(consultation)
    audit.record(session, actor=actor, action="consultation.notes", entity="consultation", entity_id=consultation.id)


def _segment(session: Session, actor: Actor, segment_id: object) -> tuple[TranscriptSegment, Consultation]:
    seg = session.get(TranscriptSegment, as_uuid(segment_id, "transcript segment"))
    if seg is None:
        raise NotFound("No such transcript segment.")
    consultation = _load(session, seg.consultation_id)
    _own(session, actor, consultation, "transcript.edit")
    _require_author(actor, consultation)
    return seg, consultation


def edit_segment(*, session: Session, actor: Actor, segment_id: object, text: object) -> None:
    """Correct the words of a segment; the machine transcript stays as it was."""
    require(actor, Permission.CLINICAL_WRITE)
    seg, consultation = _segment(session, actor, segment_id)
    try:
        cleaned = clean_text(text, field="text", max_length=5000, multiline=True)
    except FieldProblem as exc:
        raise ValidationError({"text": str(exc)}) from exc
    seg.text, seg.edited_by, seg.edited_at = cleaned, actor.user_id, utcnow()
    session.add(seg)
    audit.record(session, actor=actor, action="transcript.edit", entity="consultation", entity_id=consultation.id,
                 details={"segment": seg.seq})


def label_speaker(*, session: Session, actor: Actor, segment_id: object, speaker: object) -> None:
    require(actor, Permission.CLINICAL_WRITE)
    if speaker is not None and speaker not in SPEAKERS:
        raise ValidationError({"speaker": "Choose doctor, patient or informant."})
    seg, consultation = _segment(session, actor, segment_id)
    seg.speaker = speaker
    session.add(seg)
    audit.record(session, actor=actor, action="transcript.speaker", entity="consultation", entity_id=consultation.id,
                 details={"segment": seg.seq, "speaker": speaker})


def _summary(session: Session, c: Consultation) -> ConsultationSummary:
    doctor = session.get(User, c.doctor_id)
    return ConsultationSummary(
        id=c.id, code=c.code, patient_id=c.patient_id, doctor_name=doctor.full_name if doctor else None,
        session_type=c.session_type, status=c.status, recording=c.recording, transcription=c.transcription,
        started_at=c.started_at, ended_at=c.ended_at, duration_seconds=c.duration_seconds,
        audio_seconds=round(c.audio_seconds or 0.0, 2))


def list_consultations(*, session: Session, actor: Actor, patient_id: object, page: int = 1,
                       page_size: int = 25) -> tuple[list[ConsultationSummary], int]:
    require(actor, Permission.CLINICAL_READ)
    patient = load_patient(session, patient_id)
    require_clinical_access(session, actor, patient, "consultation.list")
    if page_size not in (10, 25, 50, 100) or page < 1:
        raise ValidationError({"page_size": "Show 10, 25, 50 or 100 rows from page 1."})
    total = session.exec(select(func.count()).select_from(Consultation).where(
        Consultation.patient_id == patient.id)).scalar_one()
    rows = session.exec(select(Consultation).where(Consultation.patient_id == patient.id)
                        .order_by(Consultation.started_at.desc()).limit(page_size).offset((page - 1) * page_size)).scalars()
    audit.record(session, actor=actor, action="consultation.list", entity="patient", entity_id=patient.id)
    return [_summary(session, r) for r in rows], total


def _text(value) -> str:  # type: ignore[no-untyped-def]
    return str(value) if is_undecryptable(value) or value is None else value


def get_consultation(*, session: Session, actor: Actor, consultation_id: object) -> ConsultationDetail:
    """Transcript, notes and details; every view is audited."""
    consultation = _load(session, consultation_id)
    _own(session, actor, consultation, "consultation.view")
    segments = session.exec(select(TranscriptSegment).where(TranscriptSegment.consultation_id == consultation.id)
                            .order_by(TranscriptSegment.seq)).scalars().all()
    chunks = session.exec(select(func.count(), func.max(AudioChunk.seq)).where(
        AudioChunk.consultation_id == consultation.id)).one()
    audit.record(session, actor=actor, action="consultation.view", entity="consultation", entity_id=consultation.id)
    return ConsultationDetail(
        **_summary(session, consultation).model_dump(), chief_complaint=_text(consultation.chief_complaint),
        notes=None if consultation.notes is None else _text(consultation.notes), engine=consultation.engine,
        engine_model=consultation.engine_model, language=consultation.language,
        segments=[SegmentPublic(id=s.id, seq=s.seq, start_s=s.start_s, end_s=s.end_s, text=_text(s.text),
                                machine_text=_text(s.machine_text), edited=s.edited_at is not None, speaker=s.speaker)
                  for s in segments],
        stored_chunks=chunks[0], next_chunk_seq=(chunks[1] + 1) if chunks[1] is not None else 0)


def recorded_audio(*, session: Session, actor: Actor, consultation_id: object, purpose: str = "playback") -> bytes:
    """All stored audio of a consultation as PCM16K, in order. Audited (playback, or transcription)."""
    consultation = _load(session, consultation_id)
    _own(session, actor, consultation, "consultation.audio")
    chunks = session.exec(select(AudioChunk).where(AudioChunk.consultation_id == consultation.id)
                          .order_by(AudioChunk.seq)).scalars().all()
    pcm = b"".join(audio_store.read_chunk(c.path) for c in chunks)
    audit.record(session, actor=actor, action="consultation.audio", entity="consultation", entity_id=consultation.id,
                 details={"purpose": purpose, "seconds": round(len(pcm) / BYTES_PER_SECOND, 1)})
    return pcm
