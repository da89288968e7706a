"""Appointments (coming with the front-desk issue)."""

from core import ui

ui.current_actor()
ui.coming_soon(
    "Appointments",
    "Each doctor's day and week, booking without double booking, check-in, reminders.",
    ["Working hours and breaks per doctor", "Reschedule, cancel with reason, no-show", "Calendar export (.ics)"],
)
