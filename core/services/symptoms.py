"""Symptom search over the ICD-11 catalogue and a doctor's own custom symptoms, and the symptoms recorded
on a patient (versioned: an edit closes the old version, a removal is a soft delete; both audited).

Typo tolerance uses rapidfuzz in the app rather than PostgreSQL's pg_trgm: the catalogue is small (269
codes), SQLite must behave the same as PostgreSQL, and the ranking (exact code, title prefix, word prefix,
substring, then fuzzy) is one function for both databases."""

from __future__ import annotations

import bisect
import datetime as dt
import threading
import uuid
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz import fuzz, process
from sqlalchemy import func, select
from sqlmodel import Session

from core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from core.models import CustomSymptom, MasterSymptom, PatientSymptom, User
from core.models.base import utcnow
from core.security.crypto import is_undecryptable
from core.security.rbac import Actor, Permission, Role, permitted, require
from core.services import audit
from core.services.access import as_uuid, clinical_access, load_patient, recording_user_id
from core.validation import FieldProblem, clean_tags, clean_text, normalise_name, parse_input

ATTRIBUTION = "ICD-11 MMS, World Health Organization (CC BY-ND 3.0 IGO); titles shown verbatim."
Severity = Literal["mild", "moderate", "severe"]
Frequency = Literal["rarely", "weekly", "daily", "constant"]
DurationUnit = Literal["days", "weeks", "months", "years"]
FUZZY_CUTOFF = 75


@dataclass(frozen=True)
class SymptomHit:
    ref: str  # "icd:CODE" or "custom:UUID": what pages pass back to attach a symptom
    code: str | None
    title: str
    kind: str
    source: str  # "ICD-11" or "custom"
    match: str  # code, prefix, word, substring, fuzzy


@dataclass(frozen=True)
class _Entry:
    ref: str
    code: str | None
    title: str
    kind: str
    source: str
    key: str
    words: tuple[str, ...]


def _entry(ref: str, code: str | None, title: str, kind: str, source: str) -> _Entry:
    key = normalise_name(title)
    return _Entry(ref, code, title, kind, source, key, tuple(key.split()))


_catalogue_lock = threading.Lock()
_catalogue: dict[str, tuple[_Entry, ...]] = {}
_custom_cache: dict[tuple[str, uuid.UUID], tuple[tuple, tuple[_Entry, ...]]] = {}


def _catalogue_for(session: Session) -> tuple[_Entry, ...]:
    """The ICD-11 catalogue, read once per database (it changes only by migration)."""
    url = str(session.get_bind().url)
    with _catalogue_lock:
        if url not in _catalogue:
            rows = session.exec(select(MasterSymptom).order_by(MasterSymptom.code)).scalars().all()
            _catalogue[url] = tuple(_entry(f"icd:{r.code}", r.code, r.title, r.kind, "ICD-11") for r in rows)
        return _catalogue[url]


def _customs_for(session: Session, doctor_id: uuid.UUID) -> tuple[_Entry, ...]:
    url = str(session.get_bind().url)
    stamp = tuple(session.exec(select(func.count(), func.max(CustomSymptom.created_at))
                               .where(CustomSymptom.doctor_id == doctor_id)).one())
    cached = _custom_cache.get((url, doctor_id))
    if cached and cached[0] == stamp:
        return cached[1]
    rows = session.exec(select(CustomSymptom.id, CustomSymptom.name, CustomSymptom.kind)
                        .where(CustomSymptom.doctor_id == doctor_id)).all()
    entries = tuple(_entry(f"custom:{r[0]}", None, r[1], r[2], "custom") for r in rows)
    with _catalogue_lock:
        _custom_cache[(url, doctor_id)] = (stamp, entries)
    return entries


class _SearchIndex:
    """Precomputed lookups over a set of entries, built once per catalogue / custom-symptom version:
    sorted titles and sorted words (prefix tiers by binary search), one joined text (substring tier),
    and the distinct words (typo tolerance matches words, not whole titles)."""

    def __init__(self, entries: tuple[_Entry, ...]):
        self.entries = entries
        self.keys = sorted((e.key, i) for i, e in enumerate(entries))
        self.words = sorted({(w, i) for i, e in enumerate(entries) for w in e.words})
        self.vocabulary = sorted({w for w, _ in self.words})
        self.by_code = {e.code.upper(): i for i, e in enumerate(entries) if e.code}

    def _prefixed(self, pairs: list[tuple[str, int]], q: str) -> set[int]:
        found = set()
        for key, i in pairs[bisect.bisect_left(pairs, (q, -1)):]:
            if not key.startswith(q):
                break
            found.add(i)
        return found

    def rank(self, query: str, limit: int) -> list[SymptomHit]:
        q = normalise_name(query)
        code_q = query.strip().upper()
        tiers: list[set[int]] = [set(), set(), set(), set()]
        if code_q in self.by_code:
            tiers[0].add(self.by_code[code_q])
        elif len(code_q) >= 2 and any(c.isdigit() for c in code_q):
            tiers[0] |= {i for code, i in self.by_code.items() if code.startswith(code_q)}
        if q:
            tiers[1] = self._prefixed(self.keys, q) - tiers[0]
            if " " in q:
                word_hits = {i for i, e in enumerate(self.entries) if f" {q}" in f" {e.key}"}
            else:
                word_hits = self._prefixed(self.words, q)
            tiers[2] = word_hits - tiers[0] - tiers[1]
            if len(tiers[0]) + len(tiers[1]) + len(tiers[2]) < limit:
                seen = tiers[0] | tiers[1] | tiers[2]
                tiers[3] = {i for i, e in enumerate(self.entries) if i not in seen and q in e.key}
        hits: list[SymptomHit] = []
        for tier, how in zip(tiers, ("code", "prefix", "word", "substring"), strict=True):
            ordered = sorted(tier, key=lambda i: (self.entries[i].code is None, len(self.entries[i].title),
                                                  self.entries[i].title))
            hits += [self._hit(i, how) for i in ordered]
            if len(hits) >= limit:
                return hits[:limit]
        # Typo tolerance: close words of the vocabulary, then the entries that contain them; skipped after
        # an exact code.
        if len(q) >= 3 and not tiers[0] and len(hits) < limit:
            seen = {h.ref for h in hits}
            query_words = [w for w in q.split() if len(w) >= 3]
            close: dict[str, float] = {}
            for word in query_words:
                for candidate, score, _ in process.extract(word, self.vocabulary, scorer=fuzz.ratio, limit=10,
                                                           score_cutoff=FUZZY_CUTOFF):
                    close[candidate] = max(close.get(candidate, 0), score)
            scored: dict[int, float] = {}
            for word, score in close.items():
                for i in self._prefixed(self.words, word):
                    if self.entries[i].ref not in seen and word in self.entries[i].words:
                        scored[i] = scored.get(i, 0) + score
            for i in sorted(scored, key=lambda i: (-scored[i], len(self.entries[i].title)))[: limit - len(hits)]:
                hits.append(self._hit(i, "fuzzy"))
        return hits[:limit]

    def _hit(self, i: int, how: str) -> SymptomHit:
        e = self.entries[i]
        return SymptomHit(e.ref, e.code, e.title, e.kind, e.source, how)


_indexes: dict[int, tuple[tuple[_Entry, ...], _SearchIndex]] = {}


def _index_for(entries: tuple[_Entry, ...]) -> _SearchIndex:
    cached = _indexes.get(id(entries))
    if cached is None or cached[0] is not entries:
        with _catalogue_lock:
            if len(_indexes) > 256:
                _indexes.clear()
            cached = _indexes[id(entries)] = (entries, _SearchIndex(entries))
    return cached[1]


def rank_symptoms(entries: tuple[_Entry, ...], query: str, limit: int) -> list[SymptomHit]:
    return _index_for(entries).rank(query, limit)


def search_symptoms(*, session: Session, actor: Actor, query: object, limit: int = 20) -> list[SymptomHit]:
    """One search box: exact code, then title prefix, word prefix, substring, then typo-tolerant matches;
    the catalogue and (for a doctor) their own custom symptoms."""
    require(actor, Permission.PRESENTING_SYMPTOMS_RECORD)
    if not isinstance(query, str) or len(query.strip()) < 2:
        raise ValidationError({"query": "Type at least two letters, or an ICD-11 code."})
    if len(query) > 100:
        raise ValidationError({"query": "That search is too long."})
    if not 1 <= limit <= 100:
        raise ValidationError({"limit": "Ask for 1 to 100 results."})
    catalogue = rank_symptoms(_catalogue_for(session), query, limit)
    if not (actor.role == Role.DOCTOR and actor.user_id):
        return catalogue
    customs = rank_symptoms(_customs_for(session, actor.user_id), query, limit)
    # Merge by tier, catalogue first within a tier (both lists are already ordered).
    order = {"code": 0, "prefix": 1, "word": 2, "substring": 3, "fuzzy": 4}
    merged = sorted(catalogue + customs, key=lambda h: order[h.match])  # stable: keeps each list's order
    return merged[:limit]


class CustomSymptomPublic(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    created_at: dt.datetime


def create_custom_symptom(*, session: Session, actor: Actor, name: object, kind: object = "symptom") -> CustomSymptomPublic:
    require(actor, Permission.CUSTOM_SYMPTOM_MANAGE)
    try:
        text = clean_text(name, field="symptom name", max_length=200)
    except FieldProblem as exc:
        raise ValidationError({"name": str(exc)}) from exc
    if kind not in ("symptom", "disorder"):
        raise ValidationError({"kind": "Choose symptom or disorder."})
    key = normalise_name(text or "")
    if len(key) < 2:
        raise ValidationError({"name": "Use at least two letters."})
    exists = session.exec(select(CustomSymptom.id).where(CustomSymptom.doctor_id == actor.user_id,
                                                         CustomSymptom.name_key == key)).first()
    if exists:
        raise ValidationError({"name": "You already have a custom symptom with this name."})
    row = CustomSymptom(doctor_id=actor.user_id, name=text, name_key=key, kind=kind)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="symptom.custom_create", entity="custom_symptom", entity_id=row.id)
    return CustomSymptomPublic(id=row.id, name=row.name, kind=row.kind, created_at=row.created_at)


def list_custom_symptoms(*, session: Session, actor: Actor) -> list[CustomSymptomPublic]:
    require(actor, Permission.CUSTOM_SYMPTOM_MANAGE)
    rows = session.exec(select(CustomSymptom).where(CustomSymptom.doctor_id == actor.user_id)
                        .order_by(CustomSymptom.name_key)).scalars()
    return [CustomSymptomPublic(id=r.id, name=r.name, kind=r.kind, created_at=r.created_at) for r in rows]


class SymptomEntry(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    ref: str = Field(max_length=80)
    severity: Severity | None = None
    frequency: Frequency | None = None
    duration_value: int | None = None
    duration_unit: DurationUnit | None = None
    onset: str | None = Field(default=None, max_length=500)
    triggers: list[str] = []
    notes: str | None = Field(default=None, max_length=4000)


class PatientSymptomPublic(BaseModel):
    id: uuid.UUID
    lineage_id: uuid.UUID
    version: int
    ref: str
    code: str | None
    title: str
    kind: str
    source: str
    severity: str | None
    frequency: str | None
    duration_value: int | None
    duration_unit: str | None
    onset: str | None
    triggers: list[str]
    notes: str | None
    recorded_by: str | None
    recorded_at: dt.datetime
    superseded_at: dt.datetime | None
    deleted_at: dt.datetime | None


def resolve_ref(session: Session, actor: Actor, ref: str) -> tuple[str | None, uuid.UUID | None]:
    kind, _, value = ref.partition(":")
    if kind == "icd" and session.get(MasterSymptom, value):
        return value, None
    if kind == "custom":
        try:
            row = session.get(CustomSymptom, uuid.UUID(value))
        except ValueError:
            row = None
        if row is not None and (row.doctor_id == actor.user_id or actor.role != Role.DOCTOR):
            return None, row.id
    raise ValidationError({"ref": "Choose a symptom from the search results."})


def _validated_entry(session: Session, actor: Actor, data: object) -> tuple[SymptomEntry, dict]:
    entry = parse_input(SymptomEntry, data)
    errors: dict[str, str] = {}
    values: dict = {}
    try:
        values["symptom_code"], values["custom_symptom_id"] = resolve_ref(session, actor, entry.ref)
    except ValidationError as exc:
        errors.update(exc.fields)
    if (entry.duration_value is None) != (entry.duration_unit is None):
        errors["duration_value"] = "Give the duration as a number and a unit, or leave both empty."
    elif entry.duration_value is not None and not 0 < entry.duration_value <= 1200:
        errors["duration_value"] = "The duration must be between 1 and 1200."
    for field, limit in (("onset", 500), ("notes", 4000)):
        try:
            values[field] = clean_text(getattr(entry, field), field=field, max_length=limit, required=False, multiline=True)
        except FieldProblem as exc:
            errors[field] = str(exc)
    try:
        values["triggers"] = clean_tags(entry.triggers, field="trigger")
    except FieldProblem as exc:
        errors["triggers"] = str(exc)
    if errors:
        raise ValidationError(errors)
    return entry, values


def _may_record(session: Session, actor: Actor, patient) -> str:  # type: ignore[no-untyped-def]
    """'clinical' for the patient's doctor (or emergency access), 'presenting' for reception."""
    if permitted(actor.role, Permission.CLINICAL_WRITE) and clinical_access(session, actor, patient):
        return "clinical"
    if actor.role == Role.RECEPTIONIST:
        return "presenting"
    audit.record(session, actor=actor, action="symptom.record", entity="patient", entity_id=patient.id, outcome="denied")
    raise PermissionDenied("Only the patient's doctor records symptoms on this patient (reception records presenting symptoms).")


def add_symptom_row(session: Session, actor: Actor, patient_id: uuid.UUID, entry: SymptomEntry, values: dict,
                    source: str, intake_id: uuid.UUID | None = None) -> PatientSymptom:
    row = PatientSymptom(
        lineage_id=uuid.uuid4(), version=1, patient_id=patient_id, intake_id=intake_id, source=source,
        symptom_code=values["symptom_code"], custom_symptom_id=values["custom_symptom_id"], severity=entry.severity,
        frequency=entry.frequency, duration_value=entry.duration_value, duration_unit=entry.duration_unit,
        onset=values["onset"], triggers=values["triggers"], notes=values["notes"], recorded_by=recording_user_id(session, actor),
    )
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="symptom.add", entity="patient", entity_id=patient_id,
                 details={"symptom": str(row.lineage_id), "source": source})
    return row


def attach_symptom(*, session: Session, actor: Actor, patient_id: object, data: object) -> PatientSymptomPublic:
    require(actor, Permission.PRESENTING_SYMPTOMS_RECORD)
    patient = load_patient(session, patient_id)
    source = _may_record(session, actor, patient)
    entry, values = _validated_entry(session, actor, data)
    row = add_symptom_row(session, actor, patient.id, entry, values, source)
    return _public_rows(session, [row], reveal=True)[0]


def _current(session: Session, lineage_id: object) -> PatientSymptom:
    row = session.exec(select(PatientSymptom).where(
        PatientSymptom.lineage_id == as_uuid(lineage_id, "symptom"), PatientSymptom.superseded_at.is_(None))).scalars().first()
    if row is None:
        raise NotFound("No such symptom.")
    if row.deleted_at is not None:
        raise Conflict("This symptom was removed; add it again instead.")
    return row


def edit_symptom(*, session: Session, actor: Actor, lineage_id: object, data: object) -> PatientSymptomPublic:
    require(actor, Permission.CLINICAL_WRITE)
    old = _current(session, lineage_id)
    patient = load_patient(session, old.patient_id)
    if _may_record(session, actor, patient) != "clinical":
        raise PermissionDenied()
    entry, values = _validated_entry(session, actor, data)
    now = utcnow()
    old.superseded_at = now
    session.add(old)
    session.flush()
    row = PatientSymptom(
        lineage_id=old.lineage_id, version=old.version + 1, patient_id=old.patient_id, intake_id=old.intake_id,
        source=old.source, symptom_code=values["symptom_code"], custom_symptom_id=values["custom_symptom_id"],
        severity=entry.severity, frequency=entry.frequency, duration_value=entry.duration_value,
        duration_unit=entry.duration_unit, onset=values["onset"], triggers=values["triggers"], notes=values["notes"],
        recorded_by=actor.user_id, recorded_at=now)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="symptom.edit", entity="patient", entity_id=old.patient_id,
                 details={"symptom": str(old.lineage_id), "version": row.version})
    return _public_rows(session, [row], reveal=True)[0]


def remove_symptom(*, session: Session, actor: Actor, lineage_id: object, reason: object) -> None:
    require(actor, Permission.CLINICAL_WRITE)
    row = _current(session, lineage_id)
    patient = load_patient(session, row.patient_id)
    if _may_record(session, actor, patient) != "clinical":
        raise PermissionDenied()
    try:
        text = clean_text(reason, field="reason", max_length=500)
    except FieldProblem as exc:
        raise ValidationError({"reason": str(exc)}) from exc
    row.deleted_at, row.deleted_by, row.delete_reason = utcnow(), actor.user_id, text
    session.add(row)
    audit.record(session, actor=actor, action="symptom.remove", entity="patient", entity_id=row.patient_id,
                 details={"symptom": str(row.lineage_id)})


def _public_rows(session: Session, rows: list[PatientSymptom], reveal: bool) -> list[PatientSymptomPublic]:
    codes = {r.symptom_code for r in rows if r.symptom_code}
    customs = {r.custom_symptom_id for r in rows if r.custom_symptom_id}
    titles = {c: (t, k) for c, t, k in session.exec(
        select(MasterSymptom.code, MasterSymptom.title, MasterSymptom.kind).where(MasterSymptom.code.in_(codes))).all()} if codes else {}
    custom_titles = {i: (n, k) for i, n, k in session.exec(
        select(CustomSymptom.id, CustomSymptom.name, CustomSymptom.kind).where(CustomSymptom.id.in_(customs))).all()} if customs else {}
    users = {i: n for i, n in session.exec(select(User.id, User.full_name).where(
        User.id.in_({r.recorded_by for r in rows}))).all()} if rows else {}
    out = []
    for r in rows:
        title, kind = titles.get(r.symptom_code, None) or custom_titles.get(r.custom_symptom_id, ("?", "symptom"))

        def text(value):  # type: ignore[no-untyped-def]
            return None if not reveal or value is None else (str(value) if is_undecryptable(value) else value)

        triggers = r.triggers if reveal and isinstance(r.triggers, list) else []
        out.append(PatientSymptomPublic(
            id=r.id, lineage_id=r.lineage_id, version=r.version,
            ref=f"icd:{r.symptom_code}" if r.symptom_code else f"custom:{r.custom_symptom_id}", code=r.symptom_code,
            title=title, kind=kind, source=r.source, severity=r.severity if reveal else None,
            frequency=r.frequency if reveal else None, duration_value=r.duration_value if reveal else None,
            duration_unit=r.duration_unit if reveal else None, onset=text(r.onset), triggers=triggers,
            notes=text(r.notes), recorded_by=users.get(r.recorded_by), recorded_at=r.recorded_at,
            superseded_at=r.superseded_at, deleted_at=r.deleted_at))
    return out


def list_patient_symptoms(*, session: Session, actor: Actor, patient_id: object, history: bool = False) -> list[PatientSymptomPublic]:
    """The patient's doctor sees every symptom (and, with history, every version and removal); reception sees
    the presenting symptoms it recorded, without clinical notes."""
    require(actor, Permission.PRESENTING_SYMPTOMS_RECORD)
    patient = load_patient(session, patient_id)
    basis = clinical_access(session, actor, patient) if permitted(actor.role, Permission.CLINICAL_READ) or \
        permitted(actor.role, Permission.EMERGENCY_ACCESS) else None
    if basis is None and actor.role != Role.RECEPTIONIST:
        audit.record(session, actor=actor, action="symptom.view", entity="patient", entity_id=patient.id, outcome="denied")
        raise PermissionDenied("This patient is not in your care. Use emergency access, with a reason, if you must.")
    query = select(PatientSymptom).where(PatientSymptom.patient_id == patient.id)
    if basis is None:
        query = query.where(PatientSymptom.source == "presenting")
    if not history:
        query = query.where(PatientSymptom.superseded_at.is_(None), PatientSymptom.deleted_at.is_(None))
    rows = list(session.exec(query.order_by(PatientSymptom.recorded_at, PatientSymptom.version)).scalars())
    audit.record(session, actor=actor, action="symptom.view", entity="patient", entity_id=patient.id,
                 details={"basis": basis or "presenting", "rows": len(rows)})
    return _public_rows(session, rows, reveal=basis is not None)
