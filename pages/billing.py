"""Billing: bills of supply and tax invoices with consecutive numbers per financial year, payments and refunds,
PDF bills, outstanding dues with ageing and the day's collections. Managers see totals only; admins keep the
price list."""

import streamlit as st

from core import ui
from core.ui import billing_views as view
from core.ui.front_desk import GOTO_BILLING, OPEN_BILL

actor = ui.current_actor()
st.title("Billing")
sections = view.sections_for(actor)
if not sections:
    st.info("Billing is for the front desk, managers and (for the price list) administrators.")
    st.stop()
if (goto := st.session_state.pop(GOTO_BILLING, None)) in sections:
    st.session_state["billing_section"] = goto
section = st.segmented_control("Section", sections, default=sections[0], key="billing_section",
                               label_visibility="collapsed") or sections[0]

if flash := st.session_state.pop("_fd_bill_flash", None):
    st.success(flash)

if section == "Bill":
    bill_id = st.session_state.get(OPEN_BILL)
    if bill_id:
        view.bill_view(bill_id)
    else:
        view.new_bill()
elif section == "Find bills":
    view.find_bills()
elif section == "Dues":
    st.caption("Issued bills with a balance, by days since issue.")
    view.dues_view(actor)
elif section == "Collections":
    st.caption("Payments and refunds of one day, by mode.")
    view.collections_view()
elif section == "Price list":
    view.price_list()
