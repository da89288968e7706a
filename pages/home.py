"""Home: what this role does here, with links to its pages."""

import streamlit as st

from core import ui
from core.services import system
from core.ui.navigation import PAGES_DIR, pages_for

actor = ui.current_actor()

GREETING = {
    "admin": "You manage accounts, roles, settings and the audit log. Clinical records open only through "
             "audited emergency access.",
    "doctor": "Your patients, consultations and reports. Other doctors' patients open only through audited "
              "emergency access.",
    "receptionist": "Register patients, record presenting complaints, book appointments and bill.",
    "manager": "Clinic analytics and billing reports: aggregates only, never a patient's identity.",
}

st.title(f"Welcome, {actor.full_name}")
st.write(GREETING[actor.role.value])

if actor.role.value == "admin":
    ok, status = ui.attempt(system.admin_status)
    if ok and status:
        checks, speech, (files, size) = status
        with st.expander("System status", expanded=not checks.ok):
            for check in checks.checks:
                st.write(("✅ " if check.ok else "❌ ") + f"**{check.name}** — {check.detail}")
            for line in speech:
                st.write(f"🎙️ {line}")
            st.write(f"🗄️ stored consultation audio: {files} files, {size / 1e6:.1f} MB")

for section, specs in pages_for(actor.role).items():
    links = [s for s in specs if s.file != "home.py" and not s.hidden]
    if not links:
        continue
    st.subheader(section)
    for spec in links:
        st.page_link(str(PAGES_DIR / spec.file), label=spec.title, icon=spec.icon)
