"""Rating scales (PHQ-9, GAD-7, PHQ-2) as published, their scoring, history, and the safety flag raised by
any PHQ-9 item-9 answer above 0, which the patient's doctor must acknowledge."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import Session

from core.errors import Conflict, NotFound, ValidationError
from core.models import SafetyFlag, ScaleResult, User
from core.models.base import utcnow
from core.security.crypto import is_undecryptable
from core.security.rbac import Actor, Permission, require
from core.services import audit
from core.services.access import as_uuid, load_patient, require_clinical_access
from core.validation import FieldProblem, clean_text

SCALES_FILE = Path(__file__).resolve().parents[1] / "data" / "rating_scales.json"
SAFETY_KIND = "phq9_item9"


@dataclass(frozen=True)
class Scale:
    id: str
    title: str
    stem: str
    options: tuple[tuple[str, int], ...]
    items: tuple[str, ...]
    bands: tuple[tuple[int, int, str], ...]
    screen_positive_at: int
    reference: str
    functional_item: dict | None
    safety_item: int | None  # 1-based item whose answer above 0 raises a flag

    def band_of(self, total: int) -> str:
        return next(label for lo, hi, label in self.bands if lo <= total <= hi)


@lru_cache(maxsize=1)
def _load() -> tuple[str, dict[str, Scale]]:
    data = json.loads(SCALES_FILE.read_text(encoding="utf-8"))
    scales = {}
    for s in data["scales"]:
        scales[s["id"]] = Scale(
            id=s["id"], title=s["title"], stem=s["stem"], options=tuple((o[0], int(o[1])) for o in s["options"]),
            items=tuple(s["items"]), bands=tuple((int(b[0]), int(b[1]), b[2]) for b in s["bands"]),
            screen_positive_at=int(s["screen_positive_at"]), reference=s["reference"],
            functional_item=s.get("functional_item"),
            safety_item=(s.get("safety_item") or {}).get("index"))
    return data["_note"], scales


def attribution() -> str:
    return _load()[0]


def scales() -> dict[str, Scale]:
    return _load()[1]


class ScaleResultPublic(BaseModel):
    id: uuid.UUID
    scale_id: str
    total: int
    band: str
    screen_positive: bool
    answers: list[int] | None
    administered_at: dt.datetime
    administered_by: str | None


class SafetyFlagPublic(BaseModel):
    id: uuid.UUID
    kind: str
    description: str
    raised_at: dt.datetime
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    acknowledgement: str | None


def score(scale_id: object, answers: object) -> tuple[Scale, list[int], int]:
    if not isinstance(scale_id, str) or scale_id not in scales():
        raise ValidationError({"scale_id": "Choose PHQ-9, GAD-7 or PHQ-2."})
    scale = scales()[scale_id]
    if not isinstance(answers, (list, tuple)) or len(answers) != len(scale.items):
        raise ValidationError({"answers": f"Answer all {len(scale.items)} questions."})
    allowed = {v for _, v in scale.options}
    values = []
    for i, a in enumerate(answers, start=1):
        if isinstance(a, bool) or not isinstance(a, int) or a not in allowed:
            raise ValidationError({f"item_{i}": f"Question {i}: choose one of the answers."})
        values.append(a)
    return scale, values, sum(values)


def administer_scale(*, session: Session, actor: Actor, patient_id: object, scale_id: object, answers: object,
                     functional: object = None) -> ScaleResultPublic:
    require(actor, Permission.CLINICAL_WRITE)
    patient = load_patient(session, patient_id)
    require_clinical_access(session, actor, patient, "scale.administer")
    scale, values, total = score(scale_id, answers)
    if functional is not None and (scale.functional_item is None or functional not in range(len(scale.functional_item["options"]))):
        raise ValidationError({"functional": "Choose one of the answers to the difficulty question."})
    stored: dict = {"items": values}
    if functional is not None:
        stored["functional"] = functional
    result = ScaleResult(patient_id=patient.id, scale_id=scale.id, answers=stored, total=total,
                         band=scale.band_of(total), administered_by=actor.user_id)
    session.add(result)
    session.flush()
    audit.record(session, actor=actor, action="scale.administer", entity="patient", entity_id=patient.id,
                 details={"scale": scale.id, "result": str(result.id)})
    if scale.safety_item and values[scale.safety_item - 1] > 0:
        flag = SafetyFlag(patient_id=patient.id, kind=SAFETY_KIND, source_id=result.id)
        session.add(flag)
        session.flush()
        audit.record(session, actor=actor, action="safety_flag.raise", entity="patient", entity_id=patient.id,
                     details={"flag": str(flag.id), "kind": SAFETY_KIND})
    return _public(scale, result, actor.full_name, reveal=True)


def _public(scale: Scale, r: ScaleResult, by: str | None, reveal: bool) -> ScaleResultPublic:
    answers = r.answers.get("items") if reveal and isinstance(r.answers, dict) and not is_undecryptable(r.answers) else None
    return ScaleResultPublic(id=r.id, scale_id=r.scale_id, total=r.total, band=r.band,
                             screen_positive=r.total >= scale.screen_positive_at, answers=answers,
                             administered_at=r.administered_at, administered_by=by)


def scale_history(*, session: Session, actor: Actor, patient_id: object, scale_id: str | None = None) -> list[ScaleResultPublic]:
    require(actor, Permission.CLINICAL_READ)
    patient = load_patient(session, patient_id)
    require_clinical_access(session, actor, patient, "scale.view")
    query = select(ScaleResult).where(ScaleResult.patient_id == patient.id)
    if scale_id:
        query = query.where(ScaleResult.scale_id == scale_id)
    rows = list(session.exec(query.order_by(ScaleResult.administered_at)).scalars())
    names = {i: n for i, n in session.exec(select(User.id, User.full_name).where(
        User.id.in_({r.administered_by for r in rows}))).all()} if rows else {}
    audit.record(session, actor=actor, action="scale.view", entity="patient", entity_id=patient.id, details={"rows": len(rows)})
    return [_public(scales()[r.scale_id], r, names.get(r.administered_by), reveal=True) for r in rows]


def safety_flags(*, session: Session, actor: Actor, patient_id: object, open_only: bool = False) -> list[SafetyFlagPublic]:
    require(actor, Permission.CLINICAL_READ)
    patient = load_patient(session, patient_id)
    require_clinical_access(session, actor, patient, "safety_flag.view")
    query = select(SafetyFlag).where(SafetyFlag.patient_id == patient.id)
    if open_only:
        query = query.where(SafetyFlag.acknowledged_at.is_(None))
    rows = list(session.exec(query.order_by(SafetyFlag.raised_at.desc())).scalars())
    audit.record(session, actor=actor, action="safety_flag.view", entity="patient", entity_id=patient.id,
                 details={"rows": len(rows)})
    names = {i: n for i, n in session.exec(select(User.id, User.full_name).where(
        User.id.in_({r.acknowledged_by for r in rows if r.acknowledged_by}))).all()}
    return [SafetyFlagPublic(
        id=f.id, kind=f.kind, raised_at=f.raised_at, acknowledged_at=f.acknowledged_at,
        description="PHQ-9 item 9 (thoughts of being better off dead or of self-harm) answered above 0",
        acknowledged_by=names.get(f.acknowledged_by) if f.acknowledged_by else None,
        acknowledgement=str(f.acknowledgement) if f.acknowledgement is not None else None) for f in rows]


def acknowledge_flag(*, session: Session, actor: Actor, flag_id: object, note: object) -> None:
    require(actor, Permission.CLINICAL_WRITE)
    flag = session.get(SafetyFlag, as_uuid(flag_id, "safety flag"))
    if flag is None:
        raise NotFound("No such safety flag.")
    require_clinical_access(session, actor, load_patient(session, flag.patient_id), "safety_flag.acknowledge")
    if flag.acknowledged_at is not None:
        raise Conflict("This flag was already acknowledged.")
    try:
        text = clean_text(note, field="note", max_length=1000, multiline=True)
    except FieldProblem as exc:
        raise ValidationError({"note": str(exc)}) from exc
    if text is None or len(text) < 10:
        raise ValidationError({"note": "Say what was done (at least 10 characters), e.g. the risk assessment and plan."})
    flag.acknowledged_at, flag.acknowledged_by, flag.acknowledgement = utcnow(), actor.user_id, text
    session.add(flag)
    audit.record(session, actor=actor, action="safety_flag.acknowledge", entity="patient", entity_id=flag.patient_id,
                 details={"flag": str(flag.id)})
