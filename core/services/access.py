"""Who may read a patient's clinical record: their doctor, or anyone allowed break-glass access with a
typed reason, for a limited time, always audited."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import Session

from core.config import get_settings
from core.errors import NotFound, PermissionDenied, ValidationError
from core.models import EmergencyAccess, Patient
from core.models.base import utcnow
from core.security.rbac import Actor, Permission, permitted, require
from core.services import audit
from core.validation import FieldProblem, clean_text

MIN_REASON = 15


class EmergencyGrant(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    expires_at: dt.datetime


def as_uuid(value: object, what: str = "record") -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError) as exc:
        raise NotFound(f"No such {what}.") from exc


def load_patient(session: Session, patient_id: object) -> Patient:
    patient = session.get(Patient, as_uuid(patient_id, "patient"))
    if patient is None:
        raise NotFound("No such patient.")
    return patient


def active_grant(session: Session, actor: Actor, patient_id: uuid.UUID) -> EmergencyAccess | None:
    if actor.user_id is None:
        return None
    return session.exec(
        select(EmergencyAccess)
        .where(EmergencyAccess.user_id == actor.user_id, EmergencyAccess.patient_id == patient_id,
               EmergencyAccess.expires_at > utcnow())
        .order_by(EmergencyAccess.expires_at.desc())
    ).scalars().first()


def in_care_of(session: Session, patient: Patient, actor: Actor) -> bool:
    """Assigned to this doctor, or seen by them in a consultation."""
    if actor.user_id is None:
        return False
    if patient.assigned_doctor_id == actor.user_id:
        return True
    from core.models import Consultation

    return session.exec(select(Consultation.id).where(Consultation.patient_id == patient.id,
                                                      Consultation.doctor_id == actor.user_id).limit(1)).first() is not None


def clinical_access(session: Session, actor: Actor, patient: Patient) -> str | None:
    """'care' or 'emergency' when the actor may read the clinical record, else None."""
    if permitted(actor.role, Permission.CLINICAL_READ) and in_care_of(session, patient, actor):
        return "care"
    if permitted(actor.role, Permission.EMERGENCY_ACCESS) and active_grant(session, actor, patient.id):
        return "emergency"
    return None


def require_clinical_access(session: Session, actor: Actor, patient: Patient, action: str) -> str:
    """Raise PermissionDenied (audited) unless the actor may read this patient's clinical record."""
    basis = clinical_access(session, actor, patient)
    if basis is None:
        audit.record(session, actor=actor, action=action, entity="patient", entity_id=patient.id, outcome="denied")
        if permitted(actor.role, Permission.EMERGENCY_ACCESS):
            raise PermissionDenied("This patient is not in your care. Use emergency access, with a reason, if you must.")
        raise PermissionDenied()
    return basis


def recording_user_id(session: Session, actor: Actor) -> uuid.UUID:
    """Who a row is recorded by: the actor, or for the server's command line (imports) the first admin."""
    if actor.user_id is not None:
        return actor.user_id
    from core.models import User

    uid = session.exec(select(User.id).where(User.role == "admin", User.is_active.is_(True))
                       .order_by(User.created_at)).scalars().first()
    if uid is None:
        from core.errors import Conflict

        raise Conflict("Create an administrator first (synapse init).")
    return uid


def grant_emergency_access(*, session: Session, actor: Actor, patient_id: object, reason: object) -> EmergencyGrant:
    require(actor, Permission.EMERGENCY_ACCESS)
    patient = load_patient(session, patient_id)
    try:
        text = clean_text(reason, field="reason", max_length=500, multiline=True)
    except FieldProblem as exc:
        raise ValidationError({"reason": str(exc)}) from exc
    if text is None or len(text) < MIN_REASON:
        raise ValidationError({"reason": f"Say why, in at least {MIN_REASON} characters."})
    now = utcnow()
    grant = EmergencyAccess(user_id=actor.user_id, patient_id=patient.id, reason=text, granted_at=now,
                            expires_at=now + dt.timedelta(minutes=get_settings().emergency_access_minutes))
    if actor.user_id is None:
        raise PermissionDenied("Emergency access is for signed-in staff.")
    session.add(grant)
    session.flush()
    audit.record(session, actor=actor, action="emergency_access.grant", entity="patient", entity_id=patient.id,
                 reason=text, details={"expires_at": grant.expires_at.isoformat()})
    return EmergencyGrant(id=grant.id, patient_id=patient.id, expires_at=grant.expires_at)


def my_access(*, session: Session, actor: Actor, patient_id: object) -> str | None:
    """How the actor may read this patient's clinical record: 'care', 'emergency' or None (no PHI returned)."""
    return clinical_access(session, actor, load_patient(session, patient_id))
