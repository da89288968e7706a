"""Intake: registering a new patient (coming with the reception issue)."""

from core import ui

ui.current_actor()
ui.coming_soon(
    "Intake",
    "Registration of new patients with validation next to every field and duplicate warnings.",
    ["Demographics, emergency contact and preferred language", "Informants with reliability",
     "Illness duration, referral, precipitating factors, presenting symptoms",
     "Assigned doctor and consent to record consultations"],
)
