"""The parts of the Appointments page: the day and week grids, the action panel of an appointment, booking,
reminders and working hours."""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from core.security.rbac import Actor, Permission, Role, permitted
from core.services import scheduling
from core.services.scheduling import DEFAULT_MINUTES, SESSION_LABELS, STATUS_LABELS, WEEKDAYS, hhmm
from core.ui.errors import FieldErrors
from core.ui.front_desk import PICKED_PATIENT, appointment_label, local, patient_label, patient_picker
from core.ui.navigation import PAGES_DIR
from core.ui.services import attempt

GRID_STEP = 15


def _cell(row: scheduling.AppointmentRow) -> str:
    who = patient_label(row.mrn, row.patient_name) if row.mrn else "booked"
    return f"{local(row.starts_at)}–{local(row.ends_at)} {who} · {SESSION_LABELS[row.session_type]} · {STATUS_LABELS[row.status]}"


def _slot_text(day: scheduling.DaySchedule, minute: int) -> str:
    """What one 15-minute slot of a day shows: its appointments, a break, free time or not working."""
    here = [a for a in day.appointments if a.status not in ("cancelled",)
            and scheduling.local_minute(a.starts_at) < minute + GRID_STEP
            and scheduling.local_minute(a.ends_at) > minute and a.ends_at > a.starts_at]
    starting = [a for a in here if minute <= scheduling.local_minute(a.starts_at) < minute + GRID_STEP]
    if starting:
        return " | ".join(_cell(a) for a in starting)
    if here:
        return "  ⋮"
    if any(s <= minute < e for s, e in day.breaks):
        return "— break —"
    if any(s <= minute < e for s, e in day.hours):
        return "free"
    return ""


def _grid_range(days: list[scheduling.DaySchedule]) -> range:
    starts = [s for d in days for s, _ in d.hours] + [scheduling.local_minute(a.starts_at) for d in days for a in d.appointments]
    ends = [e for d in days for _, e in d.hours] + [scheduling.local_minute(a.ends_at) or 1440 for d in days for a in d.appointments]
    if not starts:
        return range(0)
    first = min(starts) - min(starts) % GRID_STEP
    return range(first, max(ends), GRID_STEP)


def day_grid(day: scheduling.DaySchedule) -> None:
    if not day.hours:
        st.info(f"{day.doctor_name} does not work on {WEEKDAYS[day.date.weekday()]}s.")
    else:
        st.caption(f"Hours: {scheduling.intervals_text(day.hours)}"
                   + (f" · break {scheduling.intervals_text(day.breaks)}" if day.breaks else ""))
    slots = _grid_range([day])
    if slots:
        st.dataframe([{"Time": hhmm(m), "Appointment": _slot_text(day, m)} for m in slots], hide_index=True,
                     width="stretch", height=min(35 * (len(slots) + 1) + 3, 700), key="day_grid")


def week_grid(week: list[scheduling.DaySchedule]) -> None:
    slots = _grid_range(week)
    if not slots:
        st.info("No working hours or appointments this week.")
        return
    columns = {d.date: d.date.strftime("%a %d %b") for d in week}
    st.dataframe([{"Time": hhmm(m), **{columns[d.date]: _slot_text(d, m) for d in week}} for m in slots],
                 hide_index=True, width="stretch", height=min(35 * (len(slots) + 1) + 3, 700), key="week_grid")


def actions(actor: Actor, rows: list[scheduling.AppointmentRow], key: str, with_day: bool = False) -> None:
    """Choose an appointment and act on it: check-in, no-show, completion, consultation, move, cancel, .ics."""
    if not rows or not permitted(actor.role, Permission.APPOINTMENT_BOOK):
        return
    by_id = {str(r.id): r for r in rows}
    ids = list(by_id)
    remembered = st.session_state.get(f"{key}_chosen")
    # The key changes with the labels: a selectbox keeps showing an option's old label otherwise.
    version = abs(hash(tuple((r.id, r.status, r.starts_at) for r in rows)))
    chosen = st.selectbox("Appointment", ids, format_func=lambda i: appointment_label(by_id[i], with_day),
                          index=ids.index(remembered) if remembered in ids else 0, key=f"{key}_pick_{version}")
    st.session_state[f"{key}_chosen"] = chosen
    row = by_id[chosen]
    if row.reason or row.notes:
        st.caption(f"Reason: {row.reason or '—'} · Notes: {row.notes or '—'}")
    cols = st.columns(5)

    def act(fn, label: str, done: str, col: int, enabled: bool) -> None:  # type: ignore[no-untyped-def]
        if cols[col].button(label, key=f"{key}_{fn.__name__}_{chosen}", disabled=not enabled):
            if attempt(fn, appointment_id=row.id)[0]:
                st.session_state["_fd_appt_flash"] = done
                st.rerun()

    act(scheduling.check_in, "Check in", "Checked in.", 0, row.status == "booked")
    act(scheduling.mark_no_show, "No-show", "Marked as a no-show.", 1, row.status == "booked")
    act(scheduling.complete_appointment, "Completed", "Marked as completed.", 2, row.status == "checked_in")
    ok, ics = attempt(scheduling.appointment_ics, appointment_id=row.id) if cols[3].button(
        "Prepare .ics", key=f"{key}_ics_{chosen}") else (False, None)
    if ok and ics:
        st.session_state[f"_fd_ics_{chosen}"] = ics
    if ics_text := st.session_state.get(f"_fd_ics_{chosen}"):
        cols[3].download_button("Download .ics", ics_text, file_name=f"appointment-{local(row.starts_at, '%Y%m%d-%H%M')}.ics",
                                mime="text/calendar", key=f"{key}_ics_dl_{chosen}")
    if actor.role == Role.DOCTOR and row.doctor_id == actor.user_id and row.status == "checked_in" \
            and row.consultation_id is None:
        record = cols[4].checkbox("Record audio", value=True, key=f"{key}_rec_{chosen}")
        if cols[4].button("Start consultation", type="primary", key=f"{key}_start_{chosen}"):
            ok, _ = attempt(scheduling.start_consultation_from_appointment, appointment_id=row.id, record=record)
            if ok:
                st.switch_page(PAGES_DIR / "consultation.py")
    if row.status == "booked":
        with st.expander("Move to another time"):
            move(row, key)
    if row.status in ("booked", "checked_in") and row.consultation_id is None:
        with st.expander("Cancel"):
            errors = FieldErrors()
            reason = st.text_input("Reason for cancelling", max_chars=300, key=f"{key}_cancel_reason_{chosen}")
            errors.slot("reason")
            if st.button("Cancel this appointment", key=f"{key}_cancel_{chosen}"):
                if attempt(scheduling.cancel_appointment, errors=errors, appointment_id=row.id, reason=reason)[0]:
                    st.session_state["_fd_appt_flash"] = "Cancelled."
                    st.rerun()


def _time_fields(doctor_id: Any, day: dt.date, minutes: int, key: str, errors: FieldErrors,
                 exclude: Any = None) -> str | None:
    _, slots = attempt(scheduling.free_slots, doctor_id=doctor_id, day=day, duration_minutes=minutes, exclude_id=exclude)
    slots = slots or []
    c1, c2 = st.columns(2)
    picked = c1.selectbox("Time (free slots)", [None, *slots], format_func=lambda s: s or ("— choose —" if slots else
                          "— no free slot —"), key=f"{key}_slot_{day}_{minutes}")
    typed = c2.text_input("…or type a time (HH:MM)", max_chars=5, key=f"{key}_typed")
    errors.slot("time")
    return typed.strip() or picked


def move(row: scheduling.AppointmentRow, key: str) -> None:
    errors = FieldErrors()
    local_day = row.starts_at.astimezone(scheduling.zone()).date()
    day = st.date_input("New date", value=max(local_day, scheduling.clinic_today()), min_value=scheduling.clinic_today(),
                        format="DD/MM/YYYY", key=f"{key}_move_day_{row.id}")
    errors.slot("date")
    time = _time_fields(row.doctor_id, day, row.minutes, f"{key}_move_{row.id}", errors, exclude=row.id)
    if st.button("Move", key=f"{key}_move_btn_{row.id}"):
        if attempt(scheduling.reschedule_appointment, errors=errors, appointment_id=row.id,
                   data={"date": day, "time": time})[0]:
            st.session_state["_fd_appt_flash"] = "Moved."
            st.rerun()


def booking_form(doctor_select) -> None:  # type: ignore[no-untyped-def]
    errors = FieldErrors()
    patient_id = patient_picker("book", errors)
    doctor_id = doctor_select("Doctor", "book_doctor", errors)
    c1, c2 = st.columns(2)
    session_type = c1.selectbox("Session type", list(SESSION_LABELS), format_func=SESSION_LABELS.get, index=2,
                                key="book_type")
    minutes = c2.number_input("Duration (minutes)", min_value=5, max_value=240, step=5,
                              value=DEFAULT_MINUTES[session_type], key=f"book_minutes_{session_type}")
    errors.slot("session_type")
    errors.slot("duration_minutes")
    day = st.date_input("Date", value=scheduling.clinic_today(), min_value=scheduling.clinic_today(),
                        format="DD/MM/YYYY", key="book_day")
    errors.slot("date")
    time = _time_fields(doctor_id, day, int(minutes), "book", errors) if doctor_id else None
    reason = st.text_input("Reason for the visit", max_chars=300, key="book_reason")
    errors.slot("reason")
    notes = st.text_area("Notes for the front desk", max_chars=2000, height=68, key="book_notes")
    errors.slot("notes")
    if st.button("Book appointment", type="primary", key="book_submit"):
        ok, row = attempt(scheduling.book_appointment, errors=errors, data={
            "patient_id": patient_id, "doctor_id": doctor_id, "date": day, "time": time,
            "duration_minutes": int(minutes), "session_type": session_type, "reason": reason or None,
            "notes": notes or None})
        if ok and row:
            st.session_state.pop(PICKED_PATIENT, None)
            st.session_state["_fd_appt_flash"] = (f"Booked {patient_label(row.mrn, row.patient_name)} with "
                                                  f"{row.doctor_name} on {local(row.starts_at, '%d %b %Y at %H:%M')}.")
            st.rerun()


def reminders_view() -> None:
    tomorrow = scheduling.clinic_today() + dt.timedelta(days=1)
    day = st.date_input("Appointments on", value=tomorrow, format="DD/MM/YYYY", key="remind_day")
    ok, rows = attempt(scheduling.reminders, day=day)
    if ok and not rows:
        st.info("Nobody to remind for that day.")
    for row in rows or []:
        c1, c2, c3 = st.columns([3, 2, 2])
        c1.write(f"**{local(row.starts_at)}** {patient_label(row.mrn, row.patient_name)} · {row.doctor_name}")
        c2.write(f"Phone: {row.phone or '—'}")
        if row.reminded_at:
            c3.write(f"✓ reminded {local(row.reminded_at, '%d %b %H:%M')} by {row.reminded_by or '—'}")
        elif c3.button("Mark reminded", key=f"remind_{row.id}"):
            if attempt(scheduling.mark_reminded, appointment_id=row.id)[0]:
                st.rerun()


def hours_form(actor: Actor, doctor_select) -> None:  # type: ignore[no-untyped-def]
    doctor_id = actor.user_id if actor.role == Role.DOCTOR else doctor_select("Doctor", "hours_doctor")
    if doctor_id is None:
        return
    ok, week = attempt(scheduling.working_week, doctor_id=doctor_id)
    if not ok or week is None:
        return
    if week[0].default:
        st.caption("No hours set yet: the clinic's default week applies (Mon–Sat 09:00–18:00, break 13:00–14:00).")
    errors = FieldErrors()
    days = {}
    with st.form(f"hours_{doctor_id}"):
        st.caption("Times as HH:MM-HH:MM, several separated by commas; empty hours = day off.")
        for d in week:
            c1, c2, c3 = st.columns([1, 3, 3])
            c1.write(f"**{WEEKDAYS[d.weekday]}**")
            hours = c2.text_input(f"{WEEKDAYS[d.weekday]} hours", value=scheduling.intervals_text(d.hours).replace("–", "-"),
                                  max_chars=200, key=f"hours_{doctor_id}_{d.weekday}")
            breaks = c3.text_input(f"{WEEKDAYS[d.weekday]} breaks", value=scheduling.intervals_text(d.breaks).replace("–", "-"),
                                   max_chars=200, key=f"breaks_{doctor_id}_{d.weekday}")
            errors.slot(f"hours_{d.weekday}")
            errors.slot(f"breaks_{d.weekday}")
            days[d.weekday] = {"hours": hours, "breaks": breaks}
        if st.form_submit_button("Save hours", type="primary"):
            if attempt(scheduling.set_working_week, errors=errors, doctor_id=doctor_id, days=days)[0]:
                st.session_state["_fd_appt_flash"] = "Working hours saved."
                st.rerun()
