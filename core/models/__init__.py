"""All table models; importing this package registers them on SQLModel.metadata (used by Alembic)."""

from sqlmodel import SQLModel

from core.models.audit import AuditEvent, AuditHead
from core.models.billing import Bill, BillItem, Payment, PriceItem
from core.models.consultations import AudioChunk, Consultation, TranscriptSegment
from core.models.identity import EmergencyAccess, LoginThrottle, User, UserProfile, UserSession
from core.models.patients import Counter, Intake, Patient, PatientNameToken
from core.models.scheduling import Appointment, WorkingHours
from core.models.symptoms import CustomSymptom, MasterSymptom, PatientSymptom, SafetyFlag, ScaleResult

metadata = SQLModel.metadata

__all__ = [
    "Appointment",
    "Bill",
    "BillItem",
    "Payment",
    "PriceItem",
    "WorkingHours",
    "AudioChunk",
    "Consultation",
    "TranscriptSegment",
    "AuditEvent",
    "AuditHead",
    "Counter",
    "CustomSymptom",
    "EmergencyAccess",
    "Intake",
    "LoginThrottle",
    "MasterSymptom",
    "Patient",
    "PatientNameToken",
    "PatientSymptom",
    "SafetyFlag",
    "ScaleResult",
    "User",
    "UserProfile",
    "UserSession",
    "metadata",
]
