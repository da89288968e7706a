"""Audit log: who did what, when; filter, sort, export."""

import datetime as dt

import streamlit as st

from core import ui
from core.config import get_settings
from core.services import audit

ui.current_actor()
zone = get_settings().zone
st.title("Audit log")

with st.form("audit_filter"):
    c1, c2, c3 = st.columns(3)
    username = c1.text_input("User", max_chars=40)
    action = c2.text_input("Action starts with", max_chars=60, placeholder="auth.login, patient.")
    entity = c3.text_input("Entity", max_chars=40, placeholder="patient, user")
    c4, c5, c6 = st.columns(3)
    entity_id = c4.text_input("Entity id", max_chars=64)
    outcome = c5.selectbox("Outcome", ["", *audit.OUTCOMES])
    dates = c6.date_input("Dates", value=(), max_value=dt.date.today() + dt.timedelta(days=1))
    c7, c8, c9 = st.columns(3)
    sort = c7.selectbox("Sort by", list(audit.SORTABLE))
    descending = c8.toggle("Newest first", value=True)
    page_size = c9.selectbox("Rows", [50, 100, 250, 500])
    st.form_submit_button("Apply")

date_from = dates[0] if len(dates) >= 1 else None
date_to = dates[1] if len(dates) == 2 else date_from
filters = audit.AuditFilter(username=username or None, action=action or None, entity=entity or None,
                            entity_id=entity_id or None, outcome=outcome or None, date_from=date_from, date_to=date_to)
page = st.number_input("Page", min_value=1, value=1, step=1)
ok, result = ui.attempt(audit.list_events, filters=filters, zone=zone, sort=sort, descending=descending,
                        limit=page_size, offset=(int(page) - 1) * page_size)
if ok and result:
    events, total = result
    st.caption(f"{total} matching events; page {int(page)} of {max(1, -(-total // page_size))}.")
    st.dataframe(
        [{"#": e.seq, "When": ui.fmt_datetime(e.at), "User": e.actor_username, "Role": e.actor_role,
          "Action": e.action, "Entity": e.entity, "Entity id": e.entity_id, "Outcome": e.outcome,
          "Reason": e.reason, "Details": e.details} for e in events],
        hide_index=True, width="stretch",
    )

if st.button("Prepare CSV export of all matching events"):
    ok_csv, data = ui.attempt(audit.export_csv, filters=filters, zone=zone)
    if ok_csv:
        st.download_button("Download CSV", data=data, file_name="synapse-audit.csv", mime="text/csv")
