"""Consultation: live capture and transcription (coming with the consultation issue)."""

from core import ui

ui.current_actor()
ui.coming_soon(
    "Consultation",
    "Consultations captured from the browser microphone and transcribed live, on this server.",
    ["Live transcript with pause and resume, typed notes alongside", "Upload of a recording instead",
     "Nothing lost: audio is stored as it arrives"],
)
