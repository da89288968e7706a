"""Appointments: each doctor's day and week, today's list, booking without double booking, reminders for
tomorrow and working hours. Managers see the schedule without patients' identities."""

import streamlit as st

from core import ui
from core.security.rbac import Permission, permitted
from core.services import scheduling
from core.ui import appointment_views as view
from core.ui.front_desk import GOTO_APPOINTMENTS, doctor_select, local

actor = ui.current_actor()
st.title("Appointments")
can_book = permitted(actor.role, Permission.APPOINTMENT_BOOK)
views = ["Day", "Week", "Today"] + (["Book", "Reminders", "Working hours"] if can_book else [])
if (goto := st.session_state.pop(GOTO_APPOINTMENTS, None)) in views:
    st.session_state["appt_view"] = goto
current = st.segmented_control("View", views, default="Day", key="appt_view", label_visibility="collapsed") or "Day"

if flash := st.session_state.pop("_fd_appt_flash", None):
    st.success(flash)

if current in ("Day", "Week"):
    c1, c2 = st.columns(2)
    with c1:
        doctor_id = doctor_select("Doctor", "appt_doctor")
    day = c2.date_input("Date", value=scheduling.clinic_today(), format="DD/MM/YYYY", key="appt_day")
    if doctor_id is not None and current == "Day":
        ok, schedule = ui.attempt(scheduling.day_schedule, doctor_id=doctor_id, day=day)
        if ok and schedule:
            st.subheader(f"{schedule.doctor_name} · {day.strftime('%A %d %B %Y')}")
            view.day_grid(schedule)
            if schedule.appointments:
                st.subheader("Appointments")
                view.actions(actor, schedule.appointments, "day")
    elif doctor_id is not None:
        ok, week = ui.attempt(scheduling.week_schedule, doctor_id=doctor_id, day=day)
        if ok and week:
            st.subheader(f"{week[0].doctor_name} · week of {week[0].date.strftime('%d %b')} – "
                         f"{week[-1].date.strftime('%d %b %Y')}")
            view.week_grid(week)
            rows = [a for d in week for a in d.appointments]
            if rows:
                st.subheader("Appointments this week")
                view.actions(actor, rows, "week", with_day=True)

elif current == "Today":
    ok, rows = ui.attempt(scheduling.upcoming_today)
    st.caption(f"Still to come today, {scheduling.clinic_today().strftime('%A %d %B %Y')}, all doctors.")
    if ok and not rows:
        st.info("No more appointments today.")
    elif ok and rows:
        st.dataframe([{"Time": f"{local(r.starts_at)}–{local(r.ends_at)}", "Doctor": r.doctor_name,
                       "Patient": f"{r.mrn} · {r.patient_name}" if r.mrn else "booked",
                       "Type": scheduling.SESSION_LABELS[r.session_type], "Status": scheduling.STATUS_LABELS[r.status],
                       "Checked in": local(r.checked_in_at)} for r in rows], hide_index=True, width="stretch")
        view.actions(actor, rows, "today")

elif current == "Book":
    st.caption("Choose the patient, doctor and time. The free slots take working hours, breaks and other "
               "bookings into account.")
    view.booking_form(doctor_select)

elif current == "Reminders":
    st.caption("Who to call: booked appointments, with the patient's phone. Mark each one once reminded.")
    view.reminders_view()

elif current == "Working hours":
    view.hours_form(actor, doctor_select)
