"""Patient record: demographics and intakes for reception; for the patient's doctor also symptoms and
rating scales. Every view is audited."""

import streamlit as st

from core import ui
from core.security.rbac import Role
from core.services import access, patients
from core.ui import consultation_views
from core.ui.front_desk import appointments_tab, bills_tab
from core.ui.navigation import PAGES_DIR
from core.ui import patient_views as view

actor = ui.current_actor()
patient_id = st.session_state.get(ui.OPEN_PATIENT_KEY)
if not patient_id:
    st.title("Patient record")
    st.info("Choose a patient on the Patients page first.")
    st.stop()

ok, patient = ui.attempt(patients.get_patient, patient_id=patient_id)
if not ok or patient is None:
    st.stop()
view.header(patient)

basis = ui.call(access.my_access, patient_id=patient.id) if actor.role in (Role.DOCTOR, Role.ADMIN) else None
if basis == "emergency":
    st.warning("Opened with emergency access: every view is logged with your reason.")
if actor.role in (Role.DOCTOR, Role.ADMIN) and basis is None:
    view.emergency_access_form(patient)
if basis:
    view.safety_flags(patient)

if actor.role == Role.RECEPTIONIST:
    demographics, intakes, presenting, appointments, bills = st.tabs(
        ["Demographics", "Intakes", "Presenting symptoms", "Appointments", "Bills"])
    with demographics:
        view.demographics(patient, editable=True)
    with intakes:
        view.intakes(patient)
    with presenting:
        view.symptom_list(patient, actor, clinical=False)
    with appointments:
        appointments_tab(patient)
    with bills:
        bills_tab(patient)
elif basis:
    tabs = st.tabs(["Demographics", "Intakes", "Symptoms", "Rating scales", "Consultations", "Reports",
                    "Appointments", "Bills"])
    with tabs[0]:
        view.demographics(patient, editable=False)
    with tabs[1]:
        view.intakes(patient)
    with tabs[2]:
        view.symptom_list(patient, actor, clinical=True)
    with tabs[3]:
        view.rating_scales(patient)
    with tabs[4]:
        if actor.role == Role.DOCTOR and st.button("Start a consultation", type="primary"):
            st.switch_page(PAGES_DIR / "consultation.py")
        consultation_views.history_tab(patient.id)
    with tabs[5]:
        st.info("Reports of this patient appear here once that part of Synapse is built.")
    with tabs[6]:
        appointments_tab(patient)
    with tabs[7]:
        bills_tab(patient)
else:
    view.demographics(patient, editable=False)
