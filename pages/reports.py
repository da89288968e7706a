"""Reports: AI-drafted clinical reports to review and sign (coming with the reports issue)."""

from core import ui

ui.current_actor()
ui.coming_soon(
    "Reports",
    "Drafts written from the consultation, reviewed section by section, signed and locked.",
    ["Offline drafting on this server, or Gemini when configured", "Signed addenda for corrections", "PDF"],
)
