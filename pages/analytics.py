"""Analytics (coming with the analytics issue)."""

from core import ui

ui.current_actor()
ui.coming_soon(
    "Analytics",
    "Consultations, appointments, revenue and outcomes over time, with small counts suppressed.",
    ["Charts with CSV download", "Documentation quality", "The same analytics from a Jupyter notebook"],
)
