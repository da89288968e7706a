"""The only part of core that imports streamlit: sign-in gate, navigation, service calls, error display."""

from pathlib import Path

from core.ui.auth import current_actor, login_view, sign_out, signed_in_actor
from core.ui.errors import FieldErrors, unexpected_errors
from core.ui.format import coming_soon, fmt_datetime
from core.ui.navigation import navigation_for, sign_in_navigation
from core.ui.services import OPEN_PATIENT_KEY, attempt, call, open_patient

ASSETS = Path(__file__).resolve().parent / "assets"

__all__ = [
    "ASSETS",
    "OPEN_PATIENT_KEY",
    "FieldErrors",
    "attempt",
    "call",
    "coming_soon",
    "current_actor",
    "fmt_datetime",
    "login_view",
    "navigation_for",
    "open_patient",
    "sign_out",
    "sign_in_navigation",
    "signed_in_actor",
    "unexpected_errors",
]
