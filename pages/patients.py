"""Patients: find a patient by MRN, phone, email or name, and open their record."""

import streamlit as st

from core import ui
from core.services import patients
from core.ui.forms import SEXES

ui.current_actor()
st.title("Patients")

errors = ui.FieldErrors()
c1, c2, c3 = st.columns([3, 1, 1])
query = c1.text_input("Search", max_chars=254, key="patients_query",
                      placeholder="P-000123 · 98200 00001 · name@example.com · first letters of a name")
errors.slot("query")
sort = c2.selectbox("Sort by", ["last_visit", "name", "mrn"],
                    format_func={"last_visit": "Last visit", "name": "Name", "mrn": "MRN"}.get)
page_size = c3.selectbox("Rows per page", patients.PAGE_SIZES)
page = st.session_state.get("patients_page", 1)

ok, listing = ui.attempt(patients.list_patients, errors=errors, query=query or None, page=page,
                         page_size=page_size, sort=sort)
if ok and listing:
    if listing.page > listing.pages:
        st.session_state["patients_page"] = 1
        st.rerun()
    found = f"{listing.total} patient{'s' if listing.total != 1 else ''}"
    st.caption(found + (f" matching by {listing.matched_by}" if listing.matched_by else "") +
               f" · page {listing.page} of {listing.pages}")
    if any(r.unreadable for r in listing.rows):
        st.warning("Some rows cannot be decrypted with the configured keys; they are marked and the event is logged.")
    if not listing.rows:
        st.info("No patient matches. Check the number or spelling, or register them on the Intake page.")
    else:
        table = st.dataframe(
            [{"MRN": r.mrn, "Name": r.full_name, "Age": r.age, "Sex": SEXES.get(r.sex, r.sex), "Doctor": r.assigned_doctor_name or "—",
              "Last visit": ui.fmt_datetime(r.last_visit_at)} for r in listing.rows],
            hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="patients_table")
        chosen = table.selection.rows if table and table.selection else []
        if chosen:
            ui.open_patient(str(listing.rows[chosen[0]].id))
        st.caption("Select a row to open the patient's record.")
    c1, c2, _ = st.columns([1, 1, 4])
    if c1.button("Previous page", disabled=listing.page <= 1):
        st.session_state["patients_page"] = listing.page - 1
        st.rerun()
    if c2.button("Next page", disabled=listing.page >= listing.pages):
        st.session_state["patients_page"] = listing.page + 1
        st.rerun()
