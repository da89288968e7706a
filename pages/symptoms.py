"""Symptoms: ICD-11 symptom search and rating scales (coming with the reception issue)."""

from core import ui

ui.current_actor()
ui.coming_soon(
    "Symptoms",
    "One search box over the ICD-11 mental-health catalogue and your own custom symptoms.",
    ["Symptoms attached to a patient with severity, frequency and duration",
     "PHQ-9, GAD-7 and PHQ-2 with severity bands, trends and safety flags"],
)
