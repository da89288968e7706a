"""Intake: register a new patient with what reception learns at the first visit."""

import streamlit as st

from core import ui
from core.services import intake, patients, symptoms, users
from core.ui.forms import patient_fields

ui.current_actor()
st.title("Intake")
st.caption("Register a new patient. Fields marked * are required; nothing is saved until everything is valid.")

if done := st.session_state.get("_intake_done"):
    st.success(f"Registered {done['name']} as **{done['mrn']}**.")
    if st.button("Open the patient's record"):
        st.session_state.pop("_intake_done", None)
        ui.open_patient(done["id"])

form_no = st.session_state.setdefault("_intake_form_no", 0)
picked: dict = st.session_state.setdefault("_intake_symptoms", {})

st.subheader("Presenting symptoms")
query = st.text_input("Search symptoms (ICD-11)", max_chars=100, key=f"intake_sym_q_{form_no}",
                      placeholder="low mood, insomnia, MB24.5")
if query and len(query.strip()) >= 2:
    ok, hits = ui.attempt(symptoms.search_symptoms, query=query, limit=10)
    for hit in hits or []:
        if st.checkbox(f"{hit.title} ({hit.code or 'custom'}, {hit.kind})", value=hit.ref in picked,
                       key=f"intake_hit_{form_no}_{hit.ref}"):
            picked[hit.ref] = hit.title
        else:
            picked.pop(hit.ref, None)
st.write("Chosen: " + (", ".join(picked.values()) if picked else "none yet"))
st.caption(symptoms.ATTRIBUTION)

informant_count = st.number_input("Number of informants", min_value=0, max_value=10, value=1, step=1,
                                  key=f"intake_informants_{form_no}")

errors = ui.FieldErrors()
ok_doctors, doctors = ui.attempt(users.list_doctors)
with st.form(f"intake_{form_no}"):
    st.subheader("Patient")
    patient = patient_fields(errors, doctors or [], key=f"intake{form_no}")
    st.subheader("Informants")
    informants = []
    for i in range(1, int(informant_count) + 1):
        c1, c2, c3 = st.columns([1, 2, 1])
        rel = c1.selectbox(f"Informant {i}: relationship", intake.RELATIONSHIPS, key=f"inf_rel_{form_no}_{i}")
        details = c2.text_input(f"Informant {i}: name and details", max_chars=500, key=f"inf_det_{form_no}_{i}")
        reliability = c3.selectbox(f"Informant {i}: reliability", ["reliable", "partly reliable", "unreliable"],
                                   key=f"inf_rel2_{form_no}_{i}")
        errors.slot(f"informant_{i}")
        informants.append({"relationship": rel, "details": details or None, "reliability": reliability})
    st.subheader("History")
    c1, c2 = st.columns(2)
    duration = c1.number_input("Illness duration", min_value=1, max_value=1200, step=1, value=None, key=f"dur_{form_no}")
    unit = c2.selectbox("Unit", ["", "days", "weeks", "months", "years"], key=f"unit_{form_no}")
    errors.slot("illness_duration_value")
    referral = st.text_input("Referred by", max_chars=120, key=f"ref_{form_no}", placeholder="Self, GP, Dr. …, school")
    errors.slot("referral_source")
    factors = st.text_area("Precipitating factors", max_chars=4000, height=80, key=f"pf_{form_no}")
    errors.slot("precipitating_factors")
    tags = st.text_input("Precipitating factor tags (comma-separated)", max_chars=600, key=f"tags_{form_no}",
                         placeholder="bereavement, job loss, exams")
    errors.slot("precipitating_tags")
    complaints = st.text_area("Presenting complaints (in the patient's or informant's words)", max_chars=4000,
                              height=80, key=f"pc_{form_no}")
    errors.slot("presenting_complaints")
    errors.slot("presenting_symptoms")
    submitted = st.form_submit_button("Register patient", type="primary")

data = {
    "patient": patient,
    "intake": {"informants": informants, "illness_duration_value": duration, "illness_duration_unit": unit or None,
               "referral_source": referral or None, "precipitating_factors": factors or None,
               "precipitating_tags": [t.strip() for t in tags.split(",") if t.strip()],
               "presenting_complaints": complaints or None, "presenting_symptoms": list(picked)},
}


def registered(result: intake.IntakeResult) -> None:
    st.session_state["_intake_done"] = {"mrn": result.patient.mrn, "name": result.patient.full_name,
                                        "id": str(result.patient.id)}
    st.session_state["_intake_form_no"] = form_no + 1
    st.session_state["_intake_symptoms"] = {}
    st.session_state.pop("_intake_duplicate", None)
    st.rerun()


if submitted:
    try:
        ok, result = ui.attempt(intake.register_intake, errors=errors, passthrough=(patients.DuplicatePatient,), data=data)
        if ok and result:
            registered(result)
    except patients.DuplicatePatient as dup:
        st.session_state["_intake_duplicate"] = {"matches": dup.matches, "data": data}

if pending := st.session_state.get("_intake_duplicate"):
    st.warning("This may be a patient who is already registered:")
    for match in pending["matches"]:
        c1, c2 = st.columns([3, 1])
        c1.write(f"**{match.mrn}** — {match.full_name}, {match.age if match.age is not None else '?'} y, {match.sex}")
        if c2.button("Open", key=f"dup_{match.id}"):
            ui.open_patient(str(match.id))
    if st.button("It is a different person: register anyway"):
        ok, result = ui.attempt(intake.register_intake, errors=errors, data=pending["data"], allow_duplicate=True)
        if ok and result:
            registered(result)
