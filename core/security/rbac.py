"""Roles, permissions and the Actor: the single place that says which role may do what (DESIGN.md)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from core.errors import PermissionDenied


class Role(StrEnum):
    ADMIN = "admin"
    DOCTOR = "doctor"
    RECEPTIONIST = "receptionist"
    MANAGER = "manager"


class Permission(StrEnum):
    OWN_ACCOUNT = "own_account"
    PATIENT_REGISTER = "patient.register"
    PATIENT_EDIT = "patient.edit"
    PATIENT_SEARCH = "patient.search"
    PATIENT_READ_DEMOGRAPHICS = "patient.read_demographics"
    PATIENT_IMPORT = "patient.import"
    PRESENTING_SYMPTOMS_RECORD = "symptoms.record_presenting"
    # Clinical content additionally needs a care relationship or emergency access (core.services.access).
    CLINICAL_READ = "clinical.read"
    CLINICAL_WRITE = "clinical.write"
    CONSULTATION_RUN = "consultation.run"
    REPORT_SIGN = "report.sign"
    CUSTOM_SYMPTOM_MANAGE = "symptoms.custom"
    TEMPLATE_MANAGE = "template.manage"
    EMERGENCY_ACCESS = "emergency_access"
    APPOINTMENT_BOOK = "appointment.book"
    SCHEDULE_READ = "schedule.read"
    BILLING_MANAGE = "billing.manage"
    BILLING_REPORTS = "billing.reports"
    PRICE_LIST_MANAGE = "billing.price_list"
    ANALYTICS_READ = "analytics.read"
    USER_MANAGE = "user.manage"
    AUDIT_READ = "audit.read"
    SYSTEM_ADMIN = "system.admin"
    CONTACT_INBOX = "contact.inbox"


_A, _D, _R, _M = Role.ADMIN, Role.DOCTOR, Role.RECEPTIONIST, Role.MANAGER

PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.OWN_ACCOUNT: frozenset({_A, _D, _R, _M}),
    Permission.PATIENT_REGISTER: frozenset({_R}),
    Permission.PATIENT_EDIT: frozenset({_R}),
    Permission.PATIENT_SEARCH: frozenset({_R, _D}),
    Permission.PATIENT_READ_DEMOGRAPHICS: frozenset({_R, _D}),
    Permission.PATIENT_IMPORT: frozenset({_A}),
    Permission.PRESENTING_SYMPTOMS_RECORD: frozenset({_R, _D}),
    Permission.CLINICAL_READ: frozenset({_D}),
    Permission.CLINICAL_WRITE: frozenset({_D}),
    Permission.CONSULTATION_RUN: frozenset({_D}),
    Permission.REPORT_SIGN: frozenset({_D}),
    Permission.CUSTOM_SYMPTOM_MANAGE: frozenset({_D}),
    Permission.TEMPLATE_MANAGE: frozenset({_D, _A}),
    Permission.EMERGENCY_ACCESS: frozenset({_D, _A}),
    Permission.APPOINTMENT_BOOK: frozenset({_R, _D}),
    Permission.SCHEDULE_READ: frozenset({_R, _D, _M}),
    Permission.BILLING_MANAGE: frozenset({_R}),
    Permission.BILLING_REPORTS: frozenset({_M, _R}),
    Permission.PRICE_LIST_MANAGE: frozenset({_A}),
    Permission.ANALYTICS_READ: frozenset({_M}),
    Permission.USER_MANAGE: frozenset({_A}),
    Permission.AUDIT_READ: frozenset({_A}),
    Permission.SYSTEM_ADMIN: frozenset({_A}),
    Permission.CONTACT_INBOX: frozenset({_A}),
}

assert set(PERMISSIONS) == set(Permission), "every permission needs a rule"


@dataclass(frozen=True)
class Actor:
    """Who is acting: built only by core.services.auth from a live session (or by the CLI as `system`)."""

    user_id: uuid.UUID | None
    username: str
    role: Role
    full_name: str = ""
    session_id: uuid.UUID | None = None

    @property
    def is_system(self) -> bool:
        return self.user_id is None


def system_actor(label: str = "cli") -> Actor:
    """The operator at the server's command line: admin rights, recorded in the audit log as such."""
    return Actor(user_id=None, username=f"system:{label}"[:40], role=Role.ADMIN, full_name="System")


def permitted(role: Role | str, permission: Permission) -> bool:
    return Role(role) in PERMISSIONS[permission]


def require(actor: Actor, permission: Permission) -> None:
    if not permitted(actor.role, permission):
        raise PermissionDenied(f"The {actor.role.value} role may not do this ({permission.value}).")
