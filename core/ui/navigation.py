"""Which pages each role sees. Built from core.security.rbac, so a page a role may not use is not in its
navigation and cannot be reached by URL either (services check again)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.security.rbac import Actor, Permission, Role, permitted

PAGES_DIR = Path(__file__).resolve().parents[2] / "pages"
# The sign-in page and the home page share one URL path (so one page hash): after signing in or out the
# browser's current page resolves to the other, instead of Streamlit's "page not found". It must not be
# a file name in pages/, whose legacy auto-discovery would map the same hash to that file.
HOME_PATH = "welcome"


@dataclass(frozen=True)
class PageSpec:
    file: str
    title: str
    icon: str
    section: str
    any_of: tuple[Permission, ...]
    hidden: bool = False  # reachable from other pages (e.g. a patient's record), not listed in the sidebar


PAGES: tuple[PageSpec, ...] = (
    PageSpec("home.py", "Home", ":material/home:", "Clinic", (Permission.OWN_ACCOUNT,)),
    PageSpec("intake.py", "Intake", ":material/person_add:", "Patients", (Permission.PATIENT_REGISTER,)),
    PageSpec("patients.py", "Patients", ":material/groups:", "Patients", (Permission.PATIENT_SEARCH,)),
    PageSpec("patient.py", "Patient record", ":material/folder_shared:", "Patients",
             (Permission.PATIENT_READ_DEMOGRAPHICS,), hidden=True),
    PageSpec("symptoms.py", "Symptoms", ":material/symptoms:", "Clinical", (Permission.PRESENTING_SYMPTOMS_RECORD,)),
    PageSpec("consultation.py", "Consultation", ":material/mic:", "Clinical", (Permission.CONSULTATION_RUN,)),
    PageSpec("reports.py", "Reports", ":material/description:", "Clinical", (Permission.REPORT_SIGN,)),
    PageSpec("appointments.py", "Appointments", ":material/calendar_month:", "Front desk", (Permission.SCHEDULE_READ,)),
    PageSpec("billing.py", "Billing", ":material/receipt_long:", "Front desk",
             (Permission.BILLING_MANAGE, Permission.BILLING_REPORTS, Permission.PRICE_LIST_MANAGE)),
    PageSpec("analytics.py", "Analytics", ":material/monitoring:", "Clinic", (Permission.ANALYTICS_READ,)),
    PageSpec("admin_users.py", "Users", ":material/manage_accounts:", "Administration", (Permission.USER_MANAGE,)),
    PageSpec("admin_audit.py", "Audit log", ":material/policy:", "Administration", (Permission.AUDIT_READ,)),
    PageSpec("admin_import.py", "Import patients", ":material/upload_file:", "Administration", (Permission.PATIENT_IMPORT,)),
    PageSpec("account.py", "My account", ":material/account_circle:", "Account", (Permission.OWN_ACCOUNT,)),
)


def pages_for(role: Role) -> dict[str, list[PageSpec]]:
    sections: dict[str, list[PageSpec]] = {}
    for spec in PAGES:
        if any(permitted(role, p) for p in spec.any_of):
            sections.setdefault(spec.section, []).append(spec)
    return sections


def navigation_for(actor: Actor):  # type: ignore[no-untyped-def]
    sections = {
        section: [
            st.Page(PAGES_DIR / spec.file, title=spec.title, icon=spec.icon, default=spec.file == "home.py",
                    url_path=HOME_PATH if spec.file == "home.py" else None,
                    visibility="hidden" if spec.hidden else "visible")
            for spec in specs
        ]
        for section, specs in pages_for(actor.role).items()
    }
    return st.navigation(sections)


def sign_in_navigation(login_view):  # type: ignore[no-untyped-def]
    """Signed out, every URL leads to the sign-in page."""
    page = st.Page(login_view, title="Sign in", icon=":material/login:", url_path=HOME_PATH, default=True)
    return st.navigation([page], position="hidden")
