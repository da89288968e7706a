"""Front-desk widgets shared by the Appointments and Billing pages, and the two tabs of the patient record
(`appointments_tab`, `bills_tab`) that the patient page shows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from core.config import get_settings
from core.money import format_inr
from core.security.rbac import Permission, permitted
from core.services import billing, patients, scheduling, users
from core.ui.auth import current_actor
from core.ui.errors import FieldErrors
from core.ui.navigation import PAGES_DIR
from core.ui.services import attempt

PICKED_PATIENT = "_fd_patient"        # (id, label) chosen elsewhere (e.g. the patient record) for the next form
OPEN_BILL = "_fd_open_bill"           # id of the bill shown on the Billing page
GOTO_BILLING = "_fd_billing_goto"     # section the Billing page opens at on its next run
GOTO_APPOINTMENTS = "_fd_appt_goto"   # view the Appointments page opens at on its next run


def inr(paise: int | None) -> str:
    return "—" if paise is None else format_inr(paise)


def local(value: dt.datetime | None, fmt: str = "%H:%M") -> str:
    return "—" if value is None else value.astimezone(get_settings().zone).strftime(fmt)


def patient_label(mrn: str | None, name: str | None) -> str:
    return f"{mrn} · {name}" if mrn else "(patient)"


def doctors() -> list[tuple[Any, str]]:
    _, rows = attempt(users.list_doctors)
    return rows or []


def doctor_select(label: str, key: str, errors: FieldErrors | None = None, field: str = "doctor_id") -> Any:
    """A doctor chooser; a doctor signed in is offered first."""
    rows = doctors()
    if not rows:
        st.info("There is no active doctor yet.")
        return None
    actor = current_actor()
    ids = [r[0] for r in rows]
    names = dict(rows)
    index = ids.index(actor.user_id) if actor.user_id in ids else 0
    chosen = st.selectbox(label, ids, index=index, format_func=lambda i: names.get(i, "?"), key=key)
    if errors is not None:
        errors.slot(field)
    return chosen


def patient_picker(key: str, errors: FieldErrors | None = None) -> Any:
    """Find a patient by MRN, phone, email or name and choose one; returns the patient's id or None."""
    picked = st.session_state.get(PICKED_PATIENT)
    query = st.text_input("Find the patient", max_chars=254, key=f"{key}_query",
                          placeholder="P-000123 · 98200 00001 · name@example.com · first letters of a name")
    options: dict[str, str] = {}
    if picked:
        options[str(picked[0])] = picked[1]
    if query and query.strip():
        search_errors = FieldErrors()
        search_errors.slot("query")
        ok, page = attempt(patients.list_patients, errors=search_errors, query=query, page_size=25, sort="name")
        if ok and page:
            for row in page.rows:
                age = f", {row.age} y" if row.age is not None else ""
                options[str(row.id)] = f"{row.mrn} · {row.full_name}{age}"
            if not page.rows:
                st.caption("No patient matches. Check the spelling or number.")
    chosen = st.selectbox("Patient", [None, *options], format_func=lambda i: "— choose —" if i is None else options[i],
                          index=1 if options else 0, key=f"{key}_patient_{len(options)}_{hash(tuple(options))}")
    if errors is not None:
        errors.slot("patient_id")
    return chosen


def appointment_label(row: scheduling.AppointmentRow, with_day: bool = False) -> str:
    when = local(row.starts_at, "%a %d %b, %H:%M" if with_day else "%H:%M")
    who = patient_label(row.mrn, row.patient_name) if row.mrn else "booked"
    return (f"{when}–{local(row.ends_at)} · {who} · {scheduling.SESSION_LABELS[row.session_type]} · "
            f"{scheduling.STATUS_LABELS[row.status]}")


def appointments_tab(patient: Any) -> None:
    """The patient record's Appointments tab: their appointments, and booking one."""
    actor = current_actor()
    if not permitted(actor.role, Permission.APPOINTMENT_BOOK):
        st.info("Appointments are kept by the front desk and the doctors.")
        return
    ok, rows = attempt(scheduling.patient_appointments, patient_id=patient.id)
    if ok and rows:
        st.dataframe([{"When": local(r.starts_at, "%d %b %Y, %H:%M"), "Minutes": r.minutes, "Doctor": r.doctor_name,
                       "Type": scheduling.SESSION_LABELS[r.session_type], "Status": scheduling.STATUS_LABELS[r.status],
                       "Reason": r.reason or "", "Cancelled because": r.cancel_reason or ""} for r in rows],
                     hide_index=True, width="stretch")
    elif ok:
        st.info("No appointments yet.")
    if st.button("Book an appointment for this patient", key="pt_book_appt"):
        st.session_state[PICKED_PATIENT] = (str(patient.id), f"{patient.mrn} · {patient.full_name}")
        st.session_state[GOTO_APPOINTMENTS] = "Book"
        st.switch_page(PAGES_DIR / "appointments.py")


def bills_tab(patient: Any) -> None:
    """The patient record's Bills tab: the front desk opens or starts bills; the patient's doctor sees the list."""
    actor = current_actor()
    ok, rows = attempt(billing.patient_bills, patient_id=patient.id)
    if ok and rows:
        st.dataframe([{"Number": r.number or "(draft)", "Status": billing.STATUS_LABELS[r.status],
                       "Type": billing.DOCUMENT_LABELS[r.document_type], "Total": inr(r.total_paise),
                       "Paid": inr(r.paid_paise), "Balance": inr(r.balance_paise),
                       "Date": local(r.issued_at or r.created_at, "%d %b %Y")} for r in rows],
                     hide_index=True, width="stretch")
    elif ok:
        st.info("No bills yet.")
    if not ok or not permitted(actor.role, Permission.BILLING_MANAGE):
        return
    c1, c2 = st.columns(2)
    choices = {str(r.id): f"{r.number or '(draft)'} · {inr(r.total_paise)} · {billing.STATUS_LABELS[r.status]}"
               for r in rows or []}
    if choices:
        target = c1.selectbox("Bill", list(choices), format_func=choices.get, key="pt_bill_pick")
        if c1.button("Open this bill", key="pt_bill_open"):
            st.session_state[OPEN_BILL] = target
            st.session_state[GOTO_BILLING] = "Bill"
            st.switch_page(PAGES_DIR / "billing.py")
    if c2.button("New bill for this patient", key="pt_bill_new"):
        st.session_state.pop(OPEN_BILL, None)
        st.session_state[PICKED_PATIENT] = (str(patient.id), f"{patient.mrn} · {patient.full_name}")
        st.session_state[GOTO_BILLING] = "Bill"
        st.switch_page(PAGES_DIR / "billing.py")
