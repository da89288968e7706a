"""The tabs of the patient record page."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from core.security.rbac import Actor, Role
from core.services import access, intake, patients, scales, symptoms, users
from core.services.patients import PatientPublic
from core.ui.errors import FieldErrors
from core.ui.forms import SEXES, patient_fields, symptom_detail_fields
from core.ui.format import fmt_datetime
from core.ui.services import attempt


def header(p: PatientPublic) -> None:
    st.title(p.full_name)
    age = f"{p.age}{' (approx.)' if p.dob_is_estimate else ''} y" if p.age is not None else "age unknown"
    st.write(f"**{p.mrn}** · {age} · {SEXES.get(p.sex, p.sex)} · doctor: {p.assigned_doctor_name or '—'} · "
             f"recording consent: {'yes' if p.consent_recording else 'no'}")
    if p.unreadable:
        st.warning("Some fields cannot be decrypted with the configured keys: " + ", ".join(p.unreadable) +
                   ". The event is logged; ask your administrator.")


def emergency_access_form(p: PatientPublic) -> None:
    st.info("This patient is not in your care, so the clinical record is closed.")
    with st.expander("Emergency access"):
        errors = FieldErrors()
        with st.form("emergency_access"):
            reason = st.text_area("Why do you need this record now? (kept in the audit log)", max_chars=500)
            errors.slot("reason")
            if st.form_submit_button("Open the record for 60 minutes"):
                ok, grant = attempt(access.grant_emergency_access, errors=errors, patient_id=p.id, reason=reason)
                if ok and grant:
                    st.rerun()


def demographics(p: PatientPublic, editable: bool) -> None:
    rows = {"Date of birth": p.date_of_birth.strftime("%d %b %Y") + (" (estimated)" if p.dob_is_estimate else "")
            if p.date_of_birth else "—", "Phone": p.phone or "—", "Email": p.email or "—", "Address": p.address or "—",
            "Preferred language": p.preferred_language or "—",
            "Emergency contact": ", ".join(v for v in (p.emergency_contact or {}).values() if v) or "—",
            "Consent recorded": p.consent_date.strftime("%d %b %Y") if p.consent_date else "—",
            "Registered": fmt_datetime(p.created_at)}
    for label, value in rows.items():
        st.write(f"**{label}:** {value}")
    if not editable:
        return
    with st.expander("Edit details"):
        errors = FieldErrors()
        _, doctors = attempt(users.list_doctors)
        with st.form("edit_patient"):
            data = patient_fields(errors, doctors or [], current=p, key="edit")
            if st.form_submit_button("Save changes"):
                ok, _ = attempt(patients.update_patient, errors=errors, patient_id=p.id, data=data)
                if ok:
                    st.success("Saved.")
                    st.rerun()


def intakes(p: PatientPublic) -> None:
    ok, rows = attempt(intake.list_intakes, patient_id=p.id)
    if not ok:
        return
    if not rows:
        st.info("No intake recorded.")
    for r in rows or []:
        with st.container(border=True):
            st.write(f"**Intake of {fmt_datetime(r.recorded_at)}** by {r.recorded_by or '—'}")
            if r.unreadable:
                st.warning("Part of this intake cannot be decrypted with the configured keys.")
            if r.narrative_withheld:
                st.caption("The intake narrative is shown to the patient's doctor (or with emergency access).")
            if r.illness_duration_value:
                st.write(f"Illness duration: {r.illness_duration_value} {r.illness_duration_unit}")
            if r.referral_source:
                st.write(f"Referred by: {r.referral_source}")
            for inf in r.informants:
                st.write(f"Informant: {inf['relationship']} — {inf.get('details') or ''} ({inf['reliability']})")
            if r.presenting_complaints:
                st.write("Presenting complaints:")
                st.text(r.presenting_complaints)
            if r.precipitating_factors or r.precipitating_tags:
                st.write("Precipitating factors: " + ", ".join(r.precipitating_tags))
                if r.precipitating_factors:
                    st.text(r.precipitating_factors)


def symptom_list(p: PatientPublic, actor: Actor, clinical: bool) -> None:
    history = clinical and st.toggle("Show history (earlier versions and removed symptoms)")
    ok, rows = attempt(symptoms.list_patient_symptoms, patient_id=p.id, history=history)
    if ok and rows:
        st.dataframe([{"Symptom": s.title, "Code": s.code or "custom", "Kind": s.kind, "Source": s.source,
                       "Severity": s.severity or "—", "Frequency": s.frequency or "—",
                       "Duration": f"{s.duration_value} {s.duration_unit}" if s.duration_value else "—",
                       "Triggers": ", ".join(s.triggers), "Notes": s.notes or "", "Version": s.version,
                       "State": "removed" if s.deleted_at else ("earlier version" if s.superseded_at else "current"),
                       "Recorded": f"{fmt_datetime(s.recorded_at)}, {s.recorded_by or '—'}"} for s in rows],
                     hide_index=True, width="stretch")
    elif ok:
        st.info("No symptoms recorded.")
    st.caption(symptoms.ATTRIBUTION)
    if not ok:
        return
    with st.expander("Record a symptom"):
        query = st.text_input("Find the symptom", max_chars=100, key="sym_add_q")
        hits = attempt(symptoms.search_symptoms, query=query, limit=15)[1] if query and len(query.strip()) >= 2 else []
        if hits:
            chosen = st.selectbox("Symptom", hits, format_func=lambda h: f"{h.title} ({h.code or 'custom'})")
            errors = FieldErrors()
            with st.form("add_symptom", clear_on_submit=True):
                details = symptom_detail_fields(errors, "add") if clinical else {}
                if st.form_submit_button("Record"):
                    ok_add, _ = attempt(symptoms.attach_symptom, errors=errors, patient_id=p.id,
                                        data={"ref": chosen.ref, **details})
                    if ok_add:
                        st.rerun()
    current = [s for s in rows or [] if s.superseded_at is None and s.deleted_at is None]
    if clinical and current:
        with st.expander("Change or remove a symptom"):
            target = st.selectbox("Symptom", current, format_func=lambda s: f"{s.title} (v{s.version})", key="sym_edit")
            errors = FieldErrors()
            with st.form("edit_symptom"):
                details = symptom_detail_fields(errors, f"edit_{target.lineage_id}", current=target)
                if st.form_submit_button("Save as a new version"):
                    if attempt(symptoms.edit_symptom, errors=errors, lineage_id=target.lineage_id,
                               data={"ref": target.ref, **details})[0]:
                        st.rerun()
            reason = st.text_input("Reason for removing", max_chars=500, key="sym_remove_reason")
            if st.button("Remove this symptom"):
                if attempt(symptoms.remove_symptom, lineage_id=target.lineage_id, reason=reason)[0]:
                    st.rerun()


def safety_flags(p: PatientPublic) -> None:
    ok, flags = attempt(scales.safety_flags, patient_id=p.id, open_only=True)
    for flag in flags or []:
        with st.container(border=True):
            st.error(f"**Safety flag** raised {fmt_datetime(flag.raised_at)}: {flag.description}. "
                     "Assess risk and acknowledge with what was done.")
            errors = FieldErrors()
            with st.form(f"ack_{flag.id}"):
                note = st.text_area("Assessment and plan", max_chars=1000, key=f"ack_note_{flag.id}")
                errors.slot("note")
                if st.form_submit_button("Acknowledge"):
                    if attempt(scales.acknowledge_flag, errors=errors, flag_id=flag.id, note=note)[0]:
                        st.rerun()


def rating_scales(p: PatientPublic) -> None:
    ok, history = attempt(scales.scale_history, patient_id=p.id)
    if ok and history:
        fig = go.Figure()
        for scale_id in sorted({h.scale_id for h in history}):
            points = [h for h in history if h.scale_id == scale_id]
            fig.add_trace(go.Scatter(x=[h.administered_at for h in points], y=[h.total for h in points],
                                     mode="lines+markers", name=scale_id, text=[h.band for h in points]))
        fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10), yaxis_title="Total score",
                          title="Scores over time")
        st.plotly_chart(fig, width="stretch")
        st.dataframe([{"When": fmt_datetime(h.administered_at), "Scale": h.scale_id, "Total": h.total, "Band": h.band,
                       "Screen": "positive" if h.screen_positive else "negative", "By": h.administered_by}
                      for h in reversed(history)], hide_index=True, width="stretch")
    elif ok:
        st.info("No rating scales administered yet.")
    with st.expander("Administer a scale"):
        scale_id = st.selectbox("Scale", list(scales.scales()), key="scale_pick")
        scale = scales.scales()[scale_id]
        errors = FieldErrors()
        with st.form(f"scale_{scale_id}", clear_on_submit=True):
            st.write(f"**{scale.title}.** {scale.stem}")
            labels = [label for label, _ in scale.options]
            answers = []
            for i, item in enumerate(scale.items, start=1):
                choice = st.radio(f"{i}. {item}", labels, index=None, horizontal=True, key=f"{scale_id}_{i}")
                errors.slot(f"item_{i}")
                answers.append(dict(scale.options)[choice] if choice else None)
            functional = None
            if scale.functional_item:
                f_choice = st.radio(scale.functional_item["text"], scale.functional_item["options"], index=None,
                                    key=f"{scale_id}_functional")
                functional = scale.functional_item["options"].index(f_choice) if f_choice else None
            errors.slot("answers")
            if st.form_submit_button("Save and score"):
                ok_s, result = attempt(scales.administer_scale, errors=errors, patient_id=p.id, scale_id=scale_id,
                                       answers=answers, functional=functional)
                if ok_s and result:
                    st.success(f"{result.scale_id}: {result.total} — {result.band}")
        st.caption(scales.attribution())
        st.caption(scale.reference)


def is_reception(actor: Actor) -> bool:
    return actor.role == Role.RECEPTIONIST
