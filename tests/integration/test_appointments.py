"""Appointments on SQLite and PostgreSQL: booking within working hours and breaks, clear per-field refusals that
write nothing, no double booking (also under concurrent requests, and by the database itself on PostgreSQL),
the appointment's life (check-in, no-show, completion, reschedule, cancel), views per role, reminders, .ics
export and starting the linked consultation."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from core.config import reset_settings
from core.db import unit_of_work
from core.errors import Conflict, PermissionDenied, ValidationError
from core.models import Appointment, AuditEvent, WorkingHours
from core.services import consultations, scheduling
from tests.integration.frontdesk import (
    IST,
    MONDAY,
    Clinic,
    clinic,
    clock_fixture,  # noqa: F401 - the `clock` fixture
    count,
)

TUESDAY, SUNDAY = MONDAY + dt.timedelta(days=1), MONDAY + dt.timedelta(days=6)


def book(c: Clinic, **data):  # type: ignore[no-untyped-def]
    values = {"patient_id": c.patient_id, "doctor_id": c.doctor.user_id, "date": TUESDAY, "time": "10:00"} | data
    actor = values.pop("actor", c.desk)
    with unit_of_work() as session:
        return scheduling.book_appointment(session=session, actor=actor, data=values)


def refused(c: Clinic, **data) -> dict[str, str]:  # type: ignore[no-untyped-def]
    before = count(Appointment)
    with pytest.raises(ValidationError) as err:
        book(c, **data)
    assert count(Appointment) == before
    return err.value.fields


def test_booking_defaults_duration_by_session_type_and_encrypts_reason(database, clock):
    c = clinic()
    first = book(c, session_type="new_patient", reason="First visit, referred by GP", notes="Needs a wheelchair")
    assert first.minutes == 60 and first.status == "booked" and first.mrn == c.patient_mrn
    assert first.starts_at.astimezone(IST).strftime("%Y-%m-%d %H:%M") == "2030-01-08 10:00"
    assert (first.reason, first.notes) == ("First visit, referred by GP", "Needs a wheelchair")
    assert book(c, time="11:00", session_type="follow_up", patient_id=c.other_patient_id).minutes == 20
    assert book(c, time="15:00", duration_minutes=45).minutes == 45
    with database.engine.connect() as conn:
        stored = conn.execute(text("SELECT reason, notes FROM appointments WHERE id = :i"),
                              {"i": first.id if database.kind == "postgres" else first.id.hex}).one()
    assert "referred" not in stored[0] and "wheelchair" not in stored[1]
    with unit_of_work() as session:
        actions = session.exec(select(AuditEvent.action).where(AuditEvent.entity_id == str(first.id))).scalars().all()
    assert actions == ["appointment.book"]


def test_outside_working_hours_or_in_a_break_is_refused_with_the_reason(database, clock):
    c = clinic()
    assert refused(c, date=SUNDAY) == {"time": "Dr. Meera Rao does not work on Sundays."}
    assert refused(c, time="17:45") == {
        "time": "17:45–18:15 is outside Dr. Meera Rao's hours on Tuesdays (09:00–18:00)."}
    assert refused(c, time="12:45") == {
        "time": "12:45–13:15 overlaps Dr. Meera Rao's break on Tuesdays (13:00–14:00)."}
    assert refused(c, time="08:30") == {
        "time": "08:30–09:00 is outside Dr. Meera Rao's hours on Tuesdays (09:00–18:00)."}
    assert book(c, time="12:30").minutes == 30  # ends exactly when the break begins


def test_bad_input_names_each_field_and_writes_nothing(database, clock):
    c = clinic()
    fields = refused(c, patient_id=None, doctor_id=None)
    assert fields["patient_id"] == "Choose the patient." and fields["doctor_id"] == "Choose the doctor."
    assert refused(c, date=MONDAY - dt.timedelta(days=1))["date"].startswith("The date is in the past")
    assert refused(c, date=MONDAY, time="07:30")["time"] == "That time has already passed: choose a later time."
    assert refused(c, time="25:00")["time"] == "Type the time as HH:MM (24-hour), e.g. 14:30."
    assert refused(c, time="10:07")["time"] == "Appointments start on a 5-minute mark (e.g. 10:05)."
    assert refused(c, duration_minutes=7)["duration_minutes"] == "The duration must be 5 to 240 minutes, in steps of 5."
    assert refused(c, duration_minutes=-30)["duration_minutes"].startswith("The duration must be")
    assert refused(c, reason="two\nlines")["reason"] == "The reason must be on one line."
    assert refused(c, doctor_id=c.desk.user_id)["doctor_id"] == "Choose an active doctor."
    assert refused(c, date=MONDAY + dt.timedelta(days=400))["date"] == "Book at most a year ahead."
    assert refused(c, session_type="massage")["session_type"]


def test_double_booking_is_a_conflict_back_to_back_is_fine_and_cancelling_frees_the_time(database, clock):
    c = clinic()
    first = book(c, time="10:00")
    with pytest.raises(Conflict) as err:
        book(c, time="10:15", patient_id=c.other_patient_id)
    assert err.value.message == ("Dr. Meera Rao already has an appointment at 10:00–10:30 on 08 Jan 2030. "
                                 "Choose another time.")
    book(c, time="10:30", patient_id=c.other_patient_id)  # back to back
    book(c, time="10:15", doctor_id=c.other_doctor.user_id, patient_id=c.other_patient_id, duration_minutes=15)
    with pytest.raises(Conflict, match="already has an appointment at 10:00–10:30"):
        book(c, time="10:00", doctor_id=c.other_doctor.user_id, duration_minutes=15)  # the patient is busy then
    with unit_of_work() as session:
        scheduling.cancel_appointment(session=session, actor=c.desk, appointment_id=first.id, reason="Patient unwell")
    assert book(c, time="10:00", duration_minutes=30).status == "booked"


def test_concurrent_bookings_of_one_slot_exactly_one_wins(database, clock):
    c = clinic()
    from tests.factories import make_patient

    with unit_of_work() as session:
        patients = [make_patient(session, actor=c.desk).id for _ in range(4)]
    barrier = threading.Barrier(len(patients))
    results: list[object] = []

    def go(patient_id, minute: int) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        try:
            results.append(book(c, patient_id=patient_id, time=f"11:{minute:02d}"))
        except Conflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=go, args=(p, 5 * i)) for i, p in enumerate(patients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    booked = [r for r in results if isinstance(r, scheduling.AppointmentRow)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(booked) == 1 and len(conflicts) == len(patients) - 1, results
    assert all(e.message.startswith("Dr. Meera Rao already has an appointment at") for e in conflicts)
    assert count(Appointment) == 1


def test_the_database_itself_keeps_overlaps_out(database, clock):
    """Beyond the service's check. PostgreSQL: the exclusion constraint refuses a direct overlapping INSERT.
    SQLite: a unit of work holds the write lock from BEGIN IMMEDIATE, so another booking's check cannot run
    between this booking's check and its insert; it waits, then sees the row and gets a Conflict."""
    c = clinic()
    if database.kind == "sqlite":
        _sqlite_write_lock(c)
    else:
        _postgres_exclusion_constraint(database, c)


def _sqlite_write_lock(c: Clinic) -> None:
    outcome: list[object] = []

    def second() -> None:
        try:
            outcome.append(book(c, time="10:15", patient_id=c.other_patient_id))
        except Conflict as exc:
            outcome.append(exc)

    with unit_of_work() as session:
        scheduling.book_appointment(session=session, actor=c.desk, data={
            "patient_id": c.patient_id, "doctor_id": c.doctor.user_id, "date": TUESDAY, "time": "10:00"})
        waiting = threading.Thread(target=second)
        waiting.start()
        waiting.join(timeout=1.5)
        assert waiting.is_alive() and outcome == []  # blocked at BEGIN IMMEDIATE, before its check
    waiting.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
    assert count(Appointment) == 1


def _postgres_exclusion_constraint(database, c: Clinic) -> None:  # type: ignore[no-untyped-def]
    first = book(c, time="10:00")
    insert = text("INSERT INTO appointments (id, patient_id, doctor_id, starts_at, ends_at, session_type, status, "
                  "reschedules, booked_by, created_at, updated_at) VALUES (gen_random_uuid(), :p, :d, :s, :e, "
                  "'consultation', :status, 0, :d, now(), now())")
    start = first.starts_at + dt.timedelta(minutes=10)
    values = {"p": c.other_patient_id, "d": c.doctor.user_id, "s": start, "e": start + dt.timedelta(minutes=30)}
    with pytest.raises(IntegrityError, match="ex_appointments_no_overlap"):
        with database.engine.begin() as conn:
            conn.execute(insert, values | {"status": "booked"})
    with database.engine.begin() as conn:  # released statuses do not hold the time; other doctors are separate
        conn.execute(insert, values | {"status": "cancelled"})
        conn.execute(insert, values | {"status": "booked", "d": c.other_doctor.user_id})
        conn.execute(insert, values | {"status": "booked", "s": first.ends_at,
                                       "e": first.ends_at + dt.timedelta(minutes=15)})  # touching, not overlapping
    assert count(Appointment) == 4


def test_check_in_complete_no_show_reschedule_and_cancel(database, clock):
    c = clinic()
    today = book(c, date=MONDAY, time="09:00")
    later = book(c, date=TUESDAY, time="09:00", patient_id=c.other_patient_id)

    def act(fn, appointment, **kw):  # type: ignore[no-untyped-def]
        with unit_of_work() as session:
            return fn(session=session, actor=c.desk, appointment_id=appointment.id, **kw)

    with pytest.raises(Conflict, match="Check-in is for today's appointments; this one is on 08 Jan 2030"):
        act(scheduling.check_in, later)
    with pytest.raises(Conflict, match="once the appointment time has come"):
        act(scheduling.mark_no_show, today)
    assert act(scheduling.check_in, today).status == "checked_in"
    with pytest.raises(Conflict, match="Only a booked appointment can be moved"):
        act(scheduling.reschedule_appointment, today, data={"date": TUESDAY, "time": "11:00"})
    assert act(scheduling.complete_appointment, today).status == "completed"

    with unit_of_work() as session:
        scheduling.mark_reminded(session=session, actor=c.desk, appointment_id=later.id)
    moved = act(scheduling.reschedule_appointment, later, data={"date": TUESDAY, "time": "16:00"})
    assert moved.starts_at.astimezone(IST).strftime("%H:%M") == "16:00" and moved.minutes == 30
    assert moved.reminded_at is None  # a new time needs a new reminder
    with pytest.raises(ValidationError) as err:
        act(scheduling.reschedule_appointment, later, data={"date": TUESDAY, "time": "13:30"})
    assert "break" in err.value.fields["time"]
    with pytest.raises(ValidationError) as err:
        act(scheduling.cancel_appointment, later, reason=" ")
    assert err.value.fields == {"reason": "Enter the reason for cancelling."}
    cancelled = act(scheduling.cancel_appointment, later, reason="Travelling")
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "Travelling")

    clock.set(dt.datetime(2030, 1, 9, 10, 0, tzinfo=IST))
    missed = book(c, date=dt.date(2030, 1, 9), time="10:30", patient_id=c.other_patient_id)
    clock.set(dt.datetime(2030, 1, 9, 10, 40, tzinfo=IST))
    assert act(scheduling.mark_no_show, missed).status == "no_show"


def test_working_hours_set_per_weekday_with_per_field_errors(database, clock):
    c = clinic()
    with unit_of_work() as session:
        week = scheduling.set_working_week(session=session, actor=c.doctor, doctor_id=c.doctor.user_id, days={
            0: {"hours": "10:00-14:00, 15:00-19:00", "breaks": "12:00-12:15"}, 2: {"hours": "08:00 to 12:00"}})
    assert week[0].hours == [(600, 840), (900, 1140)] and week[0].breaks == [(720, 735)]
    assert week[1].hours == [] and week[2].hours == [(480, 720)] and not week[0].default
    assert book(c, date=MONDAY, time="18:30").minutes == 30
    assert refused(c, date=TUESDAY)["time"] == "Dr. Meera Rao does not work on Tuesdays."
    before = count(WorkingHours)
    with unit_of_work() as session, pytest.raises(ValidationError) as err:
        scheduling.set_working_week(session=session, actor=c.desk, doctor_id=c.doctor.user_id, days={
            1: {"hours": "9 to 5"}, 3: {"hours": "09:00-12:00", "breaks": "12:00-12:30"},
            4: {"hours": "09:00-12:00, 11:00-13:00"}, 5: {"hours": "12:00-09:00"}})
    assert err.value.fields == {
        "hours_1": "Type the working hours as HH:MM-HH:MM, separated by commas (e.g. 09:00-13:00, 14:00-18:00).",
        "breaks_3": "The break 12:00–12:30 is not inside the working hours.",
        "hours_4": "The working hours 09:00–12:00 and 11:00… overlap.",
        "hours_5": "12:00–09:00 ends before it starts."}
    assert count(WorkingHours) == before
    with unit_of_work() as session, pytest.raises(PermissionDenied):
        scheduling.set_working_week(session=session, actor=c.other_doctor, doctor_id=c.doctor.user_id, days={})


def test_day_week_today_and_who_sees_whom(database, clock):
    c = clinic()
    manager = c.manager
    book(c, date=MONDAY, time="09:00", reason="Medication review")
    book(c, date=TUESDAY, time="10:00", patient_id=c.other_patient_id)
    with unit_of_work() as session:
        day = scheduling.day_schedule(session=session, actor=c.desk, doctor_id=c.doctor.user_id, day=MONDAY)
        week = scheduling.week_schedule(session=session, actor=c.doctor, doctor_id=c.doctor.user_id, day=TUESDAY)
        today = scheduling.upcoming_today(session=session, actor=c.desk)
        managed = scheduling.week_schedule(session=session, actor=manager, doctor_id=c.doctor.user_id, day=MONDAY)
    assert [(a.mrn, a.patient_name, a.reason) for a in day.appointments] == [(c.patient_mrn, "Sunita Patil",
                                                                              "Medication review")]
    assert day.hours == [(540, 1080)] and day.breaks == [(780, 840)]
    assert [d.date for d in week] == [MONDAY + dt.timedelta(days=i) for i in range(7)]
    assert [len(d.appointments) for d in week] == [1, 1, 0, 0, 0, 0, 0]
    assert [a.mrn for a in today] == [c.patient_mrn]
    flat = [a for d in managed for a in d.appointments]
    assert len(flat) == 2 and all(a.patient_id is None and a.mrn is None and a.patient_name is None
                                  and a.reason is None and a.notes is None for a in flat)
    assert "Sunita" not in str([a.model_dump() for a in flat])
    with unit_of_work() as session, pytest.raises(PermissionDenied):
        scheduling.reminders(session=session, actor=manager)
    with unit_of_work() as session, pytest.raises(PermissionDenied):
        scheduling.book_appointment(session=session, actor=manager, data={})


def test_reminders_list_tomorrow_with_phone_and_a_reminded_flag(database, clock):
    c = clinic()
    tomorrow = book(c, date=TUESDAY, time="09:30")
    book(c, date=TUESDAY + dt.timedelta(days=1), time="09:30")
    with unit_of_work() as session:
        rows = scheduling.reminders(session=session, actor=c.desk)
    assert [(r.id, r.phone is not None, r.reminded_at) for r in rows] == [(tomorrow.id, True, None)]
    with unit_of_work() as session:
        scheduling.mark_reminded(session=session, actor=c.desk, appointment_id=tomorrow.id)
        rows = scheduling.reminders(session=session, actor=c.desk)
    assert rows[0].reminded_at is not None and rows[0].reminded_by == c.desk.full_name


def test_free_slots_skip_breaks_bookings_and_the_past(database, clock):
    c = clinic()
    book(c, date=MONDAY, time="09:30")
    clock.set(dt.datetime(2030, 1, 7, 9, 10, tzinfo=IST))
    with unit_of_work() as session:
        slots = scheduling.free_slots(session=session, actor=c.desk, doctor_id=c.doctor.user_id, day=MONDAY,
                                      duration_minutes=30)
    assert slots[:3] == ["10:00", "10:15", "10:30"] and "12:30" in slots and "12:45" not in slots
    assert "13:30" not in slots and "14:00" in slots and slots[-1] == "17:30"


def test_ics_export_uses_the_mrn_not_the_name(database, clock, monkeypatch):
    c = clinic()
    row = book(c, reason="Private reason", session_type="follow_up")
    with unit_of_work() as session:
        ics = scheduling.appointment_ics(session=session, actor=c.desk, appointment_id=row.id)
    assert ics.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and ics.endswith("END:VCALENDAR\r\n")
    assert "DTSTART:20300108T043000Z\r\n" in ics and "DTEND:20300108T045000Z\r\n" in ics
    assert f"SUMMARY:Follow-up: {c.patient_mrn} with Dr. Meera Rao\r\n" in ics
    assert "Sunita" not in ics and "Private reason" not in ics
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    monkeypatch.setenv("SYNAPSE_CALENDAR_PATIENT_NAMES", "true")
    monkeypatch.setenv("SYNAPSE_CLINIC_ADDRESS", "12, MG Road; Pune|411001")
    reset_settings()
    try:
        with unit_of_work() as session:
            ics = scheduling.appointment_ics(session=session, actor=c.desk, appointment_id=row.id)
    finally:
        monkeypatch.undo()
        reset_settings()
    unfolded = ics.replace("\r\n ", "")
    assert f"SUMMARY:Follow-up: Sunita Patil ({c.patient_mrn}) with Dr. Meera Rao" in unfolded
    assert "LOCATION:Synapse Clinic\\, 12\\, MG Road\\; Pune\\, 411001" in unfolded


def test_start_consultation_from_a_checked_in_appointment_links_them(database, clock):
    c = clinic()
    row = book(c, date=MONDAY, time="09:00", reason="Low mood for months", session_type="follow_up")

    def start(actor, **kw):  # type: ignore[no-untyped-def]
        with unit_of_work() as session:
            return scheduling.start_consultation_from_appointment(session=session, actor=actor,
                                                                  appointment_id=row.id, **kw)

    with pytest.raises(Conflict, match="Check the patient in first"):
        start(c.doctor)
    with unit_of_work() as session:
        scheduling.check_in(session=session, actor=c.desk, appointment_id=row.id)
    with pytest.raises(PermissionDenied):
        start(c.desk)
    with pytest.raises(PermissionDenied, match="Only the doctor this appointment is with"):
        start(c.other_doctor)
    summary = start(c.doctor, record=False)
    assert summary.session_type == "follow_up" and summary.status == "in_progress"
    with pytest.raises(Conflict, match="already been started"):
        start(c.doctor)
    with unit_of_work() as session:
        seen = scheduling.get_appointment(session=session, actor=c.desk, appointment_id=row.id)
        assert seen.consultation_id == summary.id
        with pytest.raises(PermissionDenied):  # the receptionist still cannot read the consultation
            consultations.get_consultation(session=session, actor=c.desk, consultation_id=summary.id)
        detail = consultations.get_consultation(session=session, actor=c.doctor, consultation_id=summary.id)
    assert detail.chief_complaint == "Low mood for months"
    with unit_of_work() as session, pytest.raises(Conflict):
        scheduling.cancel_appointment(session=session, actor=c.desk, appointment_id=row.id, reason="too late")
