"""Patients: exact search (MRN, phone, email) and the list, newest visit first."""

import streamlit as st

from core import ui
from core.services import patients

ui.current_actor()
st.title("Patients")

errors = ui.FieldErrors()
with st.form("find_patient"):
    query = st.text_input("Find by MRN, phone or email", max_chars=254, placeholder="P-000123, 98200 00001, name@example.com")
    errors.slot("query")
    searched = st.form_submit_button("Find")
if searched:
    ok, found = ui.attempt(patients.find_patients, errors=errors, query=query)
    if ok:
        if found:
            st.dataframe([{"MRN": r.mrn, "Name": r.full_name, "Age": r.age, "Sex": r.sex,
                           "Doctor": r.assigned_doctor_name, "Last visit": ui.fmt_datetime(r.last_visit_at)}
                          for r in found], hide_index=True, width="stretch")
        else:
            st.info("No patient matches exactly. Check the number or address.")

st.subheader("All patients")
c1, c2, c3 = st.columns(3)
page_size = c1.selectbox("Rows per page", patients.PAGE_SIZES)
sort = c2.selectbox("Sort by", ["last_visit", "mrn"], format_func={"last_visit": "Last visit", "mrn": "MRN"}.get)
page = c3.number_input("Page", min_value=1, value=1, step=1)
ok, listing = ui.attempt(patients.list_patients, page=int(page), page_size=page_size, sort=sort)
if ok and listing:
    st.caption(f"{listing.total} patients; page {listing.page} of {max(1, -(-listing.total // listing.page_size))}.")
    if any(r.unreadable for r in listing.rows):
        st.warning("Some rows cannot be decrypted with the configured keys; they are marked and the event is logged.")
    st.dataframe([{"MRN": r.mrn, "Name": r.full_name, "Age": r.age, "Sex": r.sex, "Doctor": r.assigned_doctor_name,
                   "Last visit": ui.fmt_datetime(r.last_visit_at)} for r in listing.rows],
                 hide_index=True, width="stretch")
