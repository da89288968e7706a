"""Symptoms: search the ICD-11 catalogue and your own custom symptoms; doctors add custom symptoms."""

import streamlit as st

from core import ui
from core.security.rbac import Role
from core.services import symptoms

actor = ui.current_actor()
st.title("Symptoms")

errors = ui.FieldErrors()
query = st.text_input("Search by words or ICD-11 code", max_chars=100, placeholder="hallucinations, insomnia, MB24.3")
errors.slot("query")
if query:
    ok, hits = ui.attempt(symptoms.search_symptoms, errors=errors, query=query, limit=30)
    if ok and hits:
        st.dataframe([{"Code": h.code or "—", "Title": h.title, "Kind": h.kind, "From": h.source, "Match": h.match}
                      for h in hits], hide_index=True, width="stretch")
    elif ok:
        st.info("Nothing matches. Try fewer letters or another word.")
st.caption(symptoms.ATTRIBUTION)

if actor.role == Role.DOCTOR:
    st.subheader("My custom symptoms")
    st.write("Your own wording for findings the catalogue does not name. Only you see them.")
    custom_errors = ui.FieldErrors()
    with st.form("custom_symptom", clear_on_submit=True):
        name = st.text_input("Name", max_chars=200)
        custom_errors.slot("name")
        kind = st.radio("Kind", ["symptom", "disorder"], horizontal=True)
        if st.form_submit_button("Add"):
            ok, created = ui.attempt(symptoms.create_custom_symptom, errors=custom_errors, name=name, kind=kind)
            if ok and created:
                st.success(f"Added “{created.name}”.")
    ok, mine = ui.attempt(symptoms.list_custom_symptoms)
    if ok and mine:
        st.dataframe([{"Name": c.name, "Kind": c.kind, "Added": ui.fmt_datetime(c.created_at)} for c in mine],
                     hide_index=True, width="stretch")
