"""Billing (coming with the front-desk issue)."""

from core import ui

ui.current_actor()
ui.coming_soon(
    "Billing",
    "Bills of supply and tax invoices with consecutive numbers per financial year, payments and dues.",
    ["Price list", "Partial payments and refunds", "PDF bills", "Outstanding dues with ageing"],
)
