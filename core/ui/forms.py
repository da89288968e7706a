"""Form pieces shared by pages: the patient's demographics (intake and edit), symptom details."""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from core.services.patients import LANGUAGES, PatientPublic
from core.ui.errors import FieldErrors

SEXES = {"female": "Female", "male": "Male", "intersex": "Intersex", "unknown": "Not recorded"}
SEVERITIES = ["", "mild", "moderate", "severe"]
FREQUENCIES = ["", "rarely", "weekly", "daily", "constant"]
UNITS = ["", "days", "weeks", "months", "years"]


def _index(options: list, value: Any) -> int:
    return options.index(value) if value in options else 0


def patient_fields(errors: FieldErrors, doctors: list[tuple[Any, str]], current: PatientPublic | None = None,
                   key: str = "pf") -> dict:
    """Draw the demographic fields (inside a form); return the values as the services take them."""
    today = dt.date.today()
    c = current
    full_name = st.text_input("Full name *", value=c.full_name if c else "", max_chars=200, key=f"{key}_name")
    errors.slot("full_name")
    col1, col2, col3 = st.columns(3)
    dob = col1.date_input("Date of birth", value=c.date_of_birth if c and not c.dob_is_estimate else None,
                          min_value=dt.date(today.year - 120, 1, 1), max_value=today, format="DD/MM/YYYY",
                          key=f"{key}_dob")
    age = col2.number_input("…or age in years, if the date is not known", min_value=0, max_value=120, step=1,
                            value=c.age if c and c.dob_is_estimate else None, key=f"{key}_age")
    sex = col3.selectbox("Sex", list(SEXES), format_func=SEXES.get, index=_index(list(SEXES), c.sex if c else "unknown"),
                         key=f"{key}_sex")
    errors.slot("date_of_birth")
    errors.slot("age_years")
    col1, col2 = st.columns(2)
    phone = col1.text_input("Phone", value=(c.phone or "") if c else "", max_chars=40, key=f"{key}_phone",
                            help="Any format: 98200 00001, +91 98200 00001, 098200 00001")
    email = col2.text_input("Email", value=(c.email or "") if c else "", max_chars=254, key=f"{key}_email")
    errors.slot("phone")
    errors.slot("email")
    address = st.text_area("Address", value=(c.address or "") if c else "", max_chars=500, height=70, key=f"{key}_address")
    errors.slot("address")
    languages = ["", *LANGUAGES]
    language = st.selectbox("Preferred language", languages, index=_index(languages, c.preferred_language if c else ""),
                            key=f"{key}_lang")
    errors.slot("preferred_language")
    st.markdown("**Emergency contact**")
    ec = (c.emergency_contact or {}) if c else {}
    col1, col2, col3 = st.columns(3)
    ec_name = col1.text_input("Emergency contact's name", value=ec.get("name") or "", max_chars=200, key=f"{key}_ec_name")
    ec_rel = col2.text_input("Relationship to the patient", value=ec.get("relationship") or "", max_chars=60,
                             key=f"{key}_ec_rel")
    ec_phone = col3.text_input("Emergency contact's phone", value=ec.get("phone") or "", max_chars=40,
                               key=f"{key}_ec_phone")
    errors.slot("emergency_contact")
    doctor_ids = [None, *[d[0] for d in doctors]]
    names = {d[0]: d[1] for d in doctors}
    doctor = st.selectbox("Assigned doctor", doctor_ids, format_func=lambda i: names.get(i, "— not yet —"),
                          index=_index(doctor_ids, c.assigned_doctor_id if c else None), key=f"{key}_doctor")
    errors.slot("assigned_doctor_id")
    col1, col2 = st.columns(2)
    consent = col1.checkbox("Consents to consultations being recorded", value=c.consent_recording if c else False,
                            key=f"{key}_consent")
    consent_date = col2.date_input("Consent date", value=(c.consent_date if c and c.consent_date else today),
                                   max_value=today, format="DD/MM/YYYY", key=f"{key}_consent_date")
    errors.slot("consent_date")
    return {
        "full_name": full_name, "date_of_birth": dob, "age_years": age, "sex": sex,
        "phone": phone or None, "email": email or None, "address": address or None,
        "preferred_language": language or None,
        "emergency_contact": {"name": ec_name or None, "relationship": ec_rel or None, "phone": ec_phone or None},
        "assigned_doctor_id": doctor, "consent_recording": consent, "consent_date": consent_date if consent else None,
    }


def symptom_detail_fields(errors: FieldErrors, key: str, current: Any = None) -> dict:
    """Severity, frequency, duration, onset, triggers and notes of one symptom (inside a form)."""
    c = current
    col1, col2, col3, col4 = st.columns(4)
    severity = col1.selectbox("Severity", SEVERITIES, index=_index(SEVERITIES, c.severity if c else ""), key=f"{key}_sev")
    frequency = col2.selectbox("Frequency", FREQUENCIES, index=_index(FREQUENCIES, c.frequency if c else ""), key=f"{key}_freq")
    duration = col3.number_input("Duration", min_value=1, max_value=1200, step=1,
                                 value=c.duration_value if c else None, key=f"{key}_dur")
    unit = col4.selectbox("Unit", UNITS, index=_index(UNITS, c.duration_unit if c else ""), key=f"{key}_unit")
    errors.slot("duration_value")
    onset = st.text_input("Onset", value=(c.onset or "") if c else "", max_chars=500, key=f"{key}_onset")
    errors.slot("onset")
    triggers = st.text_input("Triggers (comma-separated)", value=", ".join(c.triggers) if c else "", max_chars=600,
                             key=f"{key}_trig")
    errors.slot("triggers")
    notes = st.text_area("Notes", value=(c.notes or "") if c else "", max_chars=4000, height=80, key=f"{key}_notes")
    errors.slot("notes")
    return {"severity": severity or None, "frequency": frequency or None, "duration_value": duration,
            "duration_unit": unit or None, "onset": onset or None,
            "triggers": [t.strip() for t in triggers.split(",") if t.strip()], "notes": notes or None}
