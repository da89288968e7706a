"""Appointments: doctors' working hours and breaks, booking (never double: a database constraint on
PostgreSQL, one BEGIN IMMEDIATE unit of work on SQLite), reschedule, cancel with reason, check-in, no-show,
completion, day and week views, today's list, tomorrow's reminders, .ics export, and starting the linked
consultation from a checked-in appointment.

Who sees what: receptionists and doctors see patients' MRN and name, the reason and notes (front-desk
information, typed at booking, encrypted at rest); managers see the schedule's shape (times, types,
statuses) with no patient identity. Every list that shows patients is one audit row."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from core.config import get_settings
from core.documents import ical
from core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from core.models import Appointment, Patient, User, WorkingHours
from core.models.base import utcnow
from core.models.scheduling import RELEASED_STATUSES
from core.security.crypto import is_undecryptable
from core.security.rbac import Actor, Permission, Role, permitted, require
from core.services import audit
from core.services.access import as_uuid, load_patient
from core.validation import FieldProblem, clean_text, parse_input

SessionType = Literal["new_patient", "follow_up", "consultation", "emergency"]
SESSION_LABELS = {"new_patient": "New patient", "follow_up": "Follow-up", "consultation": "Consultation",
                  "emergency": "Emergency"}
DEFAULT_MINUTES = {"new_patient": 60, "follow_up": 20, "consultation": 30, "emergency": 30}
STATUS_LABELS = {"booked": "Booked", "checked_in": "Checked in", "completed": "Completed", "cancelled": "Cancelled",
                 "no_show": "No-show"}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
STEP_MINUTES = 5          # appointments start on a 5-minute mark
OFFER_STEP_MINUTES = 15   # free slots offered on the booking page
MAX_DAYS_AHEAD = 366
# A doctor with no hours set works the clinic's default week: Monday–Saturday 09:00–18:00, lunch 13:00–14:00.
DEFAULT_WEEK = {day: ([(540, 1080)], [(780, 840)]) for day in range(6)} | {6: ([], [])}
_TIME_RE = re.compile(r"^(\d{1,2})[:.](\d{2})$")
_RANGE_RE = re.compile(r"^\s*(\d{1,2}[:.]\d{2})\s*(?:-|–|—|to)\s*(\d{1,2}[:.]\d{2})\s*$")

Interval = tuple[int, int]


class AppointmentCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    patient_id: uuid.UUID | None = None
    doctor_id: uuid.UUID | None = None
    date: dt.date | None = None
    time: dt.time | str | None = None
    duration_minutes: int | None = None
    session_type: SessionType = "consultation"
    reason: str | None = Field(default=None, max_length=300)
    notes: str | None = Field(default=None, max_length=2000)


class AppointmentMove(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    date: dt.date | None = None
    time: dt.time | str | None = None
    duration_minutes: int | None = None


class AppointmentRow(BaseModel):
    """An appointment as a page receives it. Identity, reason and notes are None for managers."""

    id: uuid.UUID
    patient_id: uuid.UUID | None
    mrn: str | None
    patient_name: str | None
    doctor_id: uuid.UUID
    doctor_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    session_type: str
    status: str
    reason: str | None = None
    notes: str | None = None
    cancel_reason: str | None = None
    checked_in_at: dt.datetime | None = None
    reminded_at: dt.datetime | None = None
    reminded_by: str | None = None
    consultation_id: uuid.UUID | None = None
    phone: str | None = None  # reminders only

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


class DaySchedule(BaseModel):
    doctor_id: uuid.UUID
    doctor_name: str
    date: dt.date
    hours: list[Interval]
    breaks: list[Interval]
    appointments: list[AppointmentRow]


class WeekDay(BaseModel):
    weekday: int
    hours: list[Interval]
    breaks: list[Interval]
    default: bool


# --- time helpers ------------------------------------------------------------------------------------

def zone() -> dt.tzinfo:
    return get_settings().zone


def clinic_today() -> dt.date:
    return utcnow().astimezone(zone()).date()


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def intervals_text(intervals: list[Interval]) -> str:
    return ", ".join(f"{hhmm(s)}–{hhmm(e)}" for s, e in intervals)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), zone())
    return start.astimezone(dt.UTC), dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone()).astimezone(dt.UTC)


def local_minute(value: dt.datetime) -> int:
    local = value.astimezone(zone())
    return local.hour * 60 + local.minute


def parse_time(value: object) -> dt.time:
    if isinstance(value, dt.time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    if isinstance(value, str) and (m := _TIME_RE.fullmatch(value.strip())):
        hour, minute = int(m.group(1)), int(m.group(2))
        if hour < 24 and minute < 60:
            return dt.time(hour, minute)
    raise FieldProblem("Type the time as HH:MM (24-hour), e.g. 14:30.")


def _clock_minute(text: str) -> int:
    m = _TIME_RE.fullmatch(text.strip())
    if not m or int(m.group(2)) >= 60 or int(m.group(1)) * 60 + int(m.group(2)) > 1440:
        raise FieldProblem(f"{text.strip()!r} is not a time of day (HH:MM, 00:00 to 24:00).")
    return int(m.group(1)) * 60 + int(m.group(2))


def parse_intervals(text: object, what: str) -> list[Interval]:
    """'09:00-13:00, 14:00-18:00' -> [(540, 780), (840, 1080)], sorted, non-overlapping."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return []
    if not isinstance(text, str) or len(text) > 200:
        raise FieldProblem(f"Type the {what} as HH:MM-HH:MM, separated by commas.")
    intervals = []
    for part in text.split(","):
        m = _RANGE_RE.fullmatch(part)
        if not m:
            raise FieldProblem(f"Type the {what} as HH:MM-HH:MM, separated by commas (e.g. 09:00-13:00, 14:00-18:00).")
        start, end = _clock_minute(m.group(1)), _clock_minute(m.group(2))
        if start >= end:
            raise FieldProblem(f"{hhmm(start)}–{hhmm(end)} ends before it starts.")
        intervals.append((start, end))
    intervals.sort()
    for (s1, e1), (s2, _) in itertools.pairwise(intervals):
        if s2 < e1:
            raise FieldProblem(f"The {what} {hhmm(s1)}–{hhmm(e1)} and {hhmm(s2)}… overlap.")
    return intervals


# --- working hours -----------------------------------------------------------------------------------

def _load_doctor(session: Session, doctor_id: object) -> User:
    doctor = session.get(User, as_uuid(doctor_id, "doctor"))
    if doctor is None or doctor.role != Role.DOCTOR.value:
        raise NotFound("No such doctor.")
    return doctor


def week_hours(session: Session, doctor_id: uuid.UUID) -> tuple[dict[int, tuple[list[Interval], list[Interval]]], bool]:
    """({weekday: (working intervals, breaks)}, whether this is the clinic's default week)."""
    rows = session.exec(select(WorkingHours.weekday, WorkingHours.kind, WorkingHours.start_minute, WorkingHours.end_minute)
                        .where(WorkingHours.doctor_id == doctor_id)).all()
    if not rows:
        return DEFAULT_WEEK, True
    week: dict[int, tuple[list[Interval], list[Interval]]] = {d: ([], []) for d in range(7)}
    for weekday, kind, start, end in rows:
        week[weekday][0 if kind == "work" else 1].append((start, end))
    for hours, breaks in week.values():
        hours.sort()
        breaks.sort()
    return week, False


def working_week(*, session: Session, actor: Actor, doctor_id: object) -> list[WeekDay]:
    require(actor, Permission.SCHEDULE_READ)
    doctor = _load_doctor(session, doctor_id)
    week, default = week_hours(session, doctor.id)
    return [WeekDay(weekday=d, hours=week[d][0], breaks=week[d][1], default=default) for d in range(7)]


def set_working_week(*, session: Session, actor: Actor, doctor_id: object, days: dict) -> list[WeekDay]:
    """days: {weekday (0 = Monday): {"hours": "09:00-13:00, 14:00-18:00", "breaks": "11:00-11:15"}}; a
    weekday left out or with empty hours is a day off. Errors name the field hours_<d> or breaks_<d>."""
    require(actor, Permission.APPOINTMENT_BOOK)
    doctor = _load_doctor(session, doctor_id)
    if actor.role == Role.DOCTOR and actor.user_id != doctor.id:
        raise PermissionDenied("Doctors set their own hours; reception sets anyone's.")
    if not isinstance(days, dict) or any(not isinstance(k, int) or not 0 <= k <= 6 for k in days):
        raise ValidationError({"form": "Give the hours per weekday, 0 (Monday) to 6 (Sunday)."})
    errors: dict[str, str] = {}
    parsed: dict[int, tuple[list[Interval], list[Interval]]] = {}
    for weekday in range(7):
        spec = days.get(weekday) or {}
        try:
            hours = parse_intervals(spec.get("hours"), "working hours")
        except FieldProblem as exc:
            errors[f"hours_{weekday}"] = str(exc)
            continue
        try:
            breaks = parse_intervals(spec.get("breaks"), "breaks")
        except FieldProblem as exc:
            errors[f"breaks_{weekday}"] = str(exc)
            continue
        for start, end in breaks:
            if not any(s <= start and end <= e for s, e in hours):
                errors[f"breaks_{weekday}"] = f"The break {hhmm(start)}–{hhmm(end)} is not inside the working hours."
        parsed[weekday] = (hours, breaks)
    if errors:
        raise ValidationError(errors)
    for row in session.exec(select(WorkingHours).where(WorkingHours.doctor_id == doctor.id)).scalars():
        session.delete(row)
    session.flush()
    now = utcnow()
    for weekday, (hours, breaks) in parsed.items():
        for kind, intervals in (("work", hours), ("break", breaks)):
            for start, end in intervals:
                session.add(WorkingHours(doctor_id=doctor.id, weekday=weekday, kind=kind, start_minute=start,
                                         end_minute=end, updated_at=now))
    audit.record(session, actor=actor, action="schedule.hours", entity="user", entity_id=doctor.id)
    session.flush()
    return working_week(session=session, actor=actor, doctor_id=doctor.id)


def hours_problem(week: dict, doctor_name: str, day: dt.date, start: int, end: int) -> str | None:
    """Why [start, end) minutes on this day is outside the doctor's hours, or None."""
    hours, breaks = week[day.weekday()]
    dayname = WEEKDAYS[day.weekday()] + "s"
    if not hours:
        return f"{doctor_name} does not work on {dayname}."
    if not any(s <= start and end <= e for s, e in hours):
        return (f"{hhmm(start)}–{hhmm(end)} is outside {doctor_name}'s hours on {dayname} "
                f"({intervals_text(hours)}).")
    for s, e in breaks:
        if start < e and s < end:
            return f"{hhmm(start)}–{hhmm(end)} overlaps {doctor_name}'s break on {dayname} ({hhmm(s)}–{hhmm(e)})."
    return None


# --- rows --------------------------------------------------------------------------------------------

def _sees_identity(actor: Actor) -> bool:
    return permitted(actor.role, Permission.APPOINTMENT_BOOK)


def _plain(value: object) -> str | None:
    if value is None:
        return None
    return str(value) if is_undecryptable(value) else value  # type: ignore[return-value]


def _rows(session: Session, actor: Actor, appointments: list[Appointment], *, phones: bool = False,
          people: dict | None = None, names: dict | None = None) -> list[AppointmentRow]:
    """Rows for a page; `people` (patient id -> (mrn, name[, phone])) and `names` (user id -> name) when the
    caller already has them, saving a round trip each."""
    identity = _sees_identity(actor)
    patient_ids = {a.patient_id for a in appointments}
    if people is None:
        people = {}
        if identity and patient_ids:
            columns = [Patient.id, Patient.mrn, Patient.full_name] + ([Patient.phone] if phones else [])
            people = {r[0]: tuple(r[1:]) for r in session.exec(select(*columns).where(Patient.id.in_(patient_ids))).all()}
    names = dict(names or {})
    missing = ({a.doctor_id for a in appointments} | {a.reminded_by for a in appointments if a.reminded_by}) - names.keys()
    if missing:
        names |= {r[0]: r[1] for r in session.exec(select(User.id, User.full_name).where(User.id.in_(missing))).all()}
    rows = []
    for a in appointments:
        person = people.get(a.patient_id, (None, None, None))
        rows.append(AppointmentRow(
            id=a.id, patient_id=a.patient_id if identity else None, mrn=person[0], patient_name=_plain(person[1]),
            doctor_id=a.doctor_id, doctor_name=names.get(a.doctor_id, "?"), starts_at=a.starts_at, ends_at=a.ends_at,
            session_type=a.session_type, status=a.status,
            reason=_plain(a.reason) if identity else None, notes=_plain(a.notes) if identity else None,
            cancel_reason=_plain(a.cancel_reason) if identity else None, checked_in_at=a.checked_in_at,
            reminded_at=a.reminded_at, reminded_by=names.get(a.reminded_by) if a.reminded_by else None,
            consultation_id=a.consultation_id, phone=_plain(person[2]) if phones and len(person) > 2 else None,
        ))
    return rows


def _load(session: Session, appointment_id: object, *, lock: bool = False) -> Appointment:
    query = select(Appointment).where(Appointment.id == as_uuid(appointment_id, "appointment"))
    row = session.exec(query.with_for_update() if lock else query).scalars().first()
    if row is None:
        raise NotFound("No such appointment.")
    return row


def _live_overlaps(session: Session, column, value: uuid.UUID, start: dt.datetime, end: dt.datetime,
                   exclude: uuid.UUID | None) -> Appointment | None:
    query = select(Appointment).where(column == value, Appointment.status.not_in(RELEASED_STATUSES),
                                      Appointment.starts_at < end, Appointment.ends_at > start)
    if exclude is not None:
        query = query.where(Appointment.id != exclude)
    return session.exec(query.order_by(Appointment.starts_at).limit(1)).scalars().first()


def _local_span(start: dt.datetime, end: dt.datetime) -> str:
    return f"{start.astimezone(zone()).strftime('%H:%M')}–{end.astimezone(zone()).strftime('%H:%M')}"


def _doctor_busy(doctor: User, other: Appointment) -> Conflict:
    return Conflict(f"{doctor.full_name} already has an appointment at {_local_span(other.starts_at, other.ends_at)} "
                    f"on {other.starts_at.astimezone(zone()).strftime('%d %b %Y')}. Choose another time.")


# --- booking -----------------------------------------------------------------------------------------

def _when(session: Session, doctor: User | None, date: object, time: object, duration: object,
          errors: dict[str, str]) -> tuple[dt.datetime, dt.datetime] | None:
    """Validate date, time and duration for a new or moved appointment; None if errors were added."""
    today = clinic_today()
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        errors["date"] = "Choose the date."
    elif date < today:
        errors["date"] = "The date is in the past: appointments are booked for today or later."
    elif date > today + dt.timedelta(days=MAX_DAYS_AHEAD):
        errors["date"] = "Book at most a year ahead."
    start_time = None
    try:
        start_time = parse_time(time) if time not in (None, "") else None
        if start_time is None:
            errors["time"] = "Choose the time."
        elif start_time.minute % STEP_MINUTES:
            errors["time"] = f"Appointments start on a {STEP_MINUTES}-minute mark (e.g. 10:05)."
    except FieldProblem as exc:
        errors["time"] = str(exc)
    if not isinstance(duration, int) or isinstance(duration, bool) or not 5 <= duration <= 240 or duration % STEP_MINUTES:
        errors["duration_minutes"] = "The duration must be 5 to 240 minutes, in steps of 5."
    if "date" in errors or "time" in errors or "duration_minutes" in errors or doctor is None:
        return None
    assert isinstance(date, dt.date) and start_time is not None and isinstance(duration, int)
    start_min = start_time.hour * 60 + start_time.minute
    if start_min + duration > 1440:
        errors["time"] = "An appointment must end by midnight."
        return None
    starts_at = dt.datetime.combine(date, start_time, zone()).astimezone(dt.UTC)
    if starts_at <= utcnow():
        errors["time"] = "That time has already passed: choose a later time."
        return None
    week, _ = week_hours(session, doctor.id)
    problem = hours_problem(week, doctor.full_name, date, start_min, start_min + duration)
    if problem:
        errors["time"] = problem
        return None
    return starts_at, starts_at + dt.timedelta(minutes=duration)


def _insert_or_conflict(session: Session, appointment: Appointment, doctor: User) -> None:
    """Flush inside a savepoint: on PostgreSQL the exclusion constraint refuses an overlap that a concurrent
    transaction committed after our check; we turn that into the same Conflict the check gives."""
    try:
        with session.begin_nested():
            session.add(appointment)
            session.flush()
    except IntegrityError as exc:
        if "ex_appointments_no_overlap" not in str(exc.orig):
            raise
        other = _live_overlaps(session, Appointment.doctor_id, doctor.id, appointment.starts_at, appointment.ends_at,
                               appointment.id)
        if other is not None:
            raise _doctor_busy(doctor, other) from None
        raise Conflict(f"{doctor.full_name} already has an appointment at that time. Choose another time.") from None


def book_appointment(*, session: Session, actor: Actor, data: object) -> AppointmentRow:
    require(actor, Permission.APPOINTMENT_BOOK)
    payload = parse_input(AppointmentCreate, data)
    errors: dict[str, str] = {}
    patient = doctor = None
    if payload.patient_id is None:
        errors["patient_id"] = "Choose the patient."
    else:
        patient = session.get(Patient, payload.patient_id)
        if patient is None:
            errors["patient_id"] = "No such patient."
    if payload.doctor_id is None:
        errors["doctor_id"] = "Choose the doctor."
    else:
        doctor = session.get(User, payload.doctor_id)
        if doctor is None or doctor.role != Role.DOCTOR.value or not doctor.is_active:
            errors["doctor_id"] = "Choose an active doctor."
            doctor = None
    texts = {}
    for field, limit, multiline in (("reason", 300, False), ("notes", 2000, True)):
        try:
            texts[field] = clean_text(getattr(payload, field), field=field, max_length=limit, required=False,
                                      multiline=multiline)
        except FieldProblem as exc:
            errors[field] = str(exc)
    duration = payload.duration_minutes if payload.duration_minutes is not None else DEFAULT_MINUTES[payload.session_type]
    span = _when(session, doctor, payload.date, payload.time, duration, errors)
    if errors or span is None or patient is None or doctor is None:
        raise ValidationError(errors or {"form": "Check the booking."})
    starts_at, ends_at = span
    other = _live_overlaps(session, Appointment.doctor_id, doctor.id, starts_at, ends_at, None)
    if other is not None:
        raise _doctor_busy(doctor, other)
    mine = _live_overlaps(session, Appointment.patient_id, patient.id, starts_at, ends_at, None)
    if mine is not None:
        raise Conflict(f"{patient.mrn} already has an appointment at {_local_span(mine.starts_at, mine.ends_at)} that day.")
    now = utcnow()
    row = Appointment(patient_id=patient.id, doctor_id=doctor.id, starts_at=starts_at, ends_at=ends_at,
                      session_type=payload.session_type, reason=texts["reason"], notes=texts["notes"],
                      booked_by=actor.user_id or doctor.id, created_at=now, updated_at=now)
    _insert_or_conflict(session, row, doctor)
    audit.record(session, actor=actor, action="appointment.book", entity="appointment", entity_id=row.id,
                 details={"patient": str(patient.id), "doctor": str(doctor.id)})
    return _rows(session, actor, [row])[0]


def reschedule_appointment(*, session: Session, actor: Actor, appointment_id: object, data: object) -> AppointmentRow:
    require(actor, Permission.APPOINTMENT_BOOK)
    row = _load(session, appointment_id, lock=True)
    if row.status != "booked":
        raise Conflict(f"Only a booked appointment can be moved; this one is {STATUS_LABELS[row.status].lower()}.")
    payload = parse_input(AppointmentMove, data)
    doctor = session.get(User, row.doctor_id)
    duration = payload.duration_minutes if payload.duration_minutes is not None else int(
        (row.ends_at - row.starts_at).total_seconds() // 60)
    errors: dict[str, str] = {}
    span = _when(session, doctor, payload.date, payload.time, duration, errors)
    if errors or span is None or doctor is None:
        raise ValidationError(errors or {"form": "Check the new time."})
    other = _live_overlaps(session, Appointment.doctor_id, doctor.id, span[0], span[1], row.id)
    if other is not None:
        raise _doctor_busy(doctor, other)
    before = row.starts_at
    row.starts_at, row.ends_at = span
    row.reschedules += 1
    row.reminded_at = row.reminded_by = None  # a new time needs a new reminder
    row.updated_at = utcnow()
    _insert_or_conflict(session, row, doctor)
    audit.record(session, actor=actor, action="appointment.reschedule", entity="appointment", entity_id=row.id,
                 details={"from": before.isoformat(), "to": row.starts_at.isoformat()})
    return _rows(session, actor, [row])[0]


def cancel_appointment(*, session: Session, actor: Actor, appointment_id: object, reason: object) -> AppointmentRow:
    require(actor, Permission.APPOINTMENT_BOOK)
    row = _load(session, appointment_id, lock=True)
    if row.status not in ("booked", "checked_in") or row.consultation_id is not None:
        raise Conflict(f"This appointment is {STATUS_LABELS[row.status].lower()}; it cannot be cancelled now.")
    try:
        text = clean_text(reason, field="reason for cancelling", max_length=300)
    except FieldProblem as exc:
        raise ValidationError({"reason": str(exc)}) from exc
    if text is None or len(text) < 3:
        raise ValidationError({"reason": "Say why it is cancelled (at least 3 characters)."})
    now = utcnow()
    row.status, row.cancel_reason, row.cancelled_at, row.cancelled_by, row.updated_at = "cancelled", text, now, actor.user_id, now
    session.add(row)
    audit.record(session, actor=actor, action="appointment.cancel", entity="appointment", entity_id=row.id)
    return _rows(session, actor, [row])[0]


def _transition(session: Session, actor: Actor, appointment_id: object, action: str) -> AppointmentRow:
    require(actor, Permission.APPOINTMENT_BOOK)
    row = _load(session, appointment_id, lock=True)
    now = utcnow()
    local_day = row.starts_at.astimezone(zone()).date()
    if action == "check_in":
        if row.status != "booked":
            raise Conflict(f"Only a booked appointment can be checked in; this one is {STATUS_LABELS[row.status].lower()}.")
        if local_day != clinic_today():
            raise Conflict(f"Check-in is for today's appointments; this one is on {local_day.strftime('%d %b %Y')}.")
        row.status, row.checked_in_at = "checked_in", now
    elif action == "no_show":
        if row.status != "booked":
            raise Conflict(f"Only a booked appointment can be a no-show; this one is {STATUS_LABELS[row.status].lower()}.")
        if row.starts_at > now:
            raise Conflict("You can mark a no-show once the appointment time has come.")
        row.status, row.finished_at = "no_show", now
    elif action == "complete":
        if row.status != "checked_in":
            raise Conflict("Only a checked-in appointment can be completed.")
        row.status, row.finished_at = "completed", now
    row.updated_at = now
    session.add(row)
    audit.record(session, actor=actor, action=f"appointment.{action}", entity="appointment", entity_id=row.id)
    return _rows(session, actor, [row])[0]


def check_in(*, session: Session, actor: Actor, appointment_id: object) -> AppointmentRow:
    return _transition(session, actor, appointment_id, "check_in")


def mark_no_show(*, session: Session, actor: Actor, appointment_id: object) -> AppointmentRow:
    return _transition(session, actor, appointment_id, "no_show")


def complete_appointment(*, session: Session, actor: Actor, appointment_id: object) -> AppointmentRow:
    return _transition(session, actor, appointment_id, "complete")


# --- views -------------------------------------------------------------------------------------------

def _between_query(start: dt.datetime, end: dt.datetime, doctor_id: uuid.UUID | None = None,
                   statuses: tuple[str, ...] | None = None):  # type: ignore[no-untyped-def]
    query = select(Appointment).where(Appointment.starts_at >= start, Appointment.starts_at < end)
    if doctor_id is not None:
        query = query.where(Appointment.doctor_id == doctor_id)
    if statuses:
        query = query.where(Appointment.status.in_(statuses))
    return query.order_by(Appointment.starts_at)


def _between(session: Session, start: dt.datetime, end: dt.datetime, doctor_id: uuid.UUID | None = None,
             statuses: tuple[str, ...] | None = None) -> list[Appointment]:
    return list(session.exec(_between_query(start, end, doctor_id, statuses)).scalars())


def _between_with_people(session: Session, actor: Actor, start: dt.datetime, end: dt.datetime,
                         doctor_id: uuid.UUID | None = None, statuses: tuple[str, ...] | None = None,
                         phones: bool = False) -> tuple[list[Appointment], dict | None]:
    """The appointments and, for the roles that see them, their patients' MRN and name (and phone), in one
    round trip."""
    query = _between_query(start, end, doctor_id, statuses)
    if not _sees_identity(actor):
        return list(session.exec(query).scalars()), None
    columns = [Patient.mrn, Patient.full_name] + ([Patient.phone] if phones else [])
    result = session.exec(query.add_columns(*columns).join(Patient, Patient.id == Appointment.patient_id)).all()
    return [r[0] for r in result], {r[0].patient_id: tuple(r[1:]) for r in result}


def _schedule(session: Session, actor: Actor, doctor: User, first: dt.date, days: int) -> list[DaySchedule]:
    start, _ = day_bounds(first)
    _, end = day_bounds(first + dt.timedelta(days=days - 1))
    appointments, people = _between_with_people(session, actor, start, end, doctor.id)
    rows = _rows(session, actor, appointments, people=people, names={doctor.id: doctor.full_name})
    week, _ = week_hours(session, doctor.id)
    out = []
    for i in range(days):
        day = first + dt.timedelta(days=i)
        hours, breaks = week[day.weekday()]
        out.append(DaySchedule(doctor_id=doctor.id, doctor_name=doctor.full_name, date=day, hours=hours, breaks=breaks,
                               appointments=[r for r in rows if r.starts_at.astimezone(zone()).date() == day]))
    audit.record(session, actor=actor, action="appointment.list", entity="user", entity_id=doctor.id,
                 details={"view": "day" if days == 1 else "week", "from": first.isoformat(), "rows": len(rows)})
    return out


def day_schedule(*, session: Session, actor: Actor, doctor_id: object, day: dt.date) -> DaySchedule:
    require(actor, Permission.SCHEDULE_READ)
    if not isinstance(day, dt.date):
        raise ValidationError({"day": "Choose a date."})
    return _schedule(session, actor, _load_doctor(session, doctor_id), day, 1)[0]


def week_schedule(*, session: Session, actor: Actor, doctor_id: object, day: dt.date) -> list[DaySchedule]:
    """Monday to Sunday of the week that contains `day`."""
    require(actor, Permission.SCHEDULE_READ)
    if not isinstance(day, dt.date):
        raise ValidationError({"day": "Choose a date."})
    return _schedule(session, actor, _load_doctor(session, doctor_id), day - dt.timedelta(days=day.weekday()), 7)


def upcoming_today(*, session: Session, actor: Actor, doctor_id: object = None) -> list[AppointmentRow]:
    """Today's appointments not yet over (booked or checked in), all doctors or one."""
    require(actor, Permission.SCHEDULE_READ)
    start, end = day_bounds(clinic_today())
    doctor = _load_doctor(session, doctor_id).id if doctor_id else None
    now = utcnow()
    appointments, people = _between_with_people(session, actor, start, end, doctor, ("booked", "checked_in"))
    rows = _rows(session, actor, [a for a in appointments if a.ends_at > now], people=people)
    audit.record(session, actor=actor, action="appointment.list", details={"view": "today", "rows": len(rows)})
    return rows


def reminders(*, session: Session, actor: Actor, day: dt.date | None = None) -> list[AppointmentRow]:
    """Who to call: booked appointments on `day` (default tomorrow) with the patient's phone."""
    require(actor, Permission.APPOINTMENT_BOOK)
    day = day or clinic_today() + dt.timedelta(days=1)
    start, end = day_bounds(day)
    appointments, people = _between_with_people(session, actor, start, end, None, ("booked",), phones=True)
    rows = _rows(session, actor, appointments, phones=True, people=people)
    audit.record(session, actor=actor, action="appointment.reminders", details={"day": day.isoformat(), "rows": len(rows)})
    return rows


def mark_reminded(*, session: Session, actor: Actor, appointment_id: object) -> AppointmentRow:
    require(actor, Permission.APPOINTMENT_BOOK)
    row = _load(session, appointment_id, lock=True)
    if row.status != "booked":
        raise Conflict("Only a booked appointment needs a reminder.")
    row.reminded_at, row.reminded_by, row.updated_at = utcnow(), actor.user_id, utcnow()
    session.add(row)
    audit.record(session, actor=actor, action="appointment.remind", entity="appointment", entity_id=row.id)
    return _rows(session, actor, [row])[0]


def patient_appointments(*, session: Session, actor: Actor, patient_id: object) -> list[AppointmentRow]:
    """A patient's appointments, newest first (for the patient record)."""
    require(actor, Permission.APPOINTMENT_BOOK)
    patient = load_patient(session, patient_id)
    appointments = list(session.exec(select(Appointment).where(Appointment.patient_id == patient.id)
                                     .order_by(Appointment.starts_at.desc()).limit(200)).scalars())
    audit.record(session, actor=actor, action="appointment.list", entity="patient", entity_id=patient.id,
                 details={"view": "patient", "rows": len(appointments)})
    return _rows(session, actor, appointments)


def get_appointment(*, session: Session, actor: Actor, appointment_id: object) -> AppointmentRow:
    require(actor, Permission.SCHEDULE_READ)
    row = _load(session, appointment_id)
    audit.record(session, actor=actor, action="appointment.view", entity="appointment", entity_id=row.id)
    return _rows(session, actor, [row])[0]


def free_slots(*, session: Session, actor: Actor, doctor_id: object, day: dt.date, duration_minutes: int,
               exclude_id: object = None, step: int = OFFER_STEP_MINUTES) -> list[str]:
    """Start times ('HH:MM') on `day` where an appointment of this length fits: inside the hours, clear of
    breaks and of live appointments, and not already past."""
    require(actor, Permission.APPOINTMENT_BOOK)
    doctor = _load_doctor(session, doctor_id)
    if not isinstance(duration_minutes, int) or not 5 <= duration_minutes <= 240:
        return []
    week, _ = week_hours(session, doctor.id)
    hours, breaks = week[day.weekday()]
    start, end = day_bounds(day)
    busy = [(local_minute(a.starts_at), local_minute(a.starts_at) + int((a.ends_at - a.starts_at).total_seconds() // 60))
            for a in _between(session, start, end, doctor.id)
            if a.status not in RELEASED_STATUSES and (exclude_id is None or str(a.id) != str(exclude_id))]
    now_min = local_minute(utcnow()) if day == clinic_today() else (-1 if day > clinic_today() else 1441)
    slots = []
    for s, e in hours:
        minute = s + (-s % step)
        while minute + duration_minutes <= e:
            end_min = minute + duration_minutes
            clear = all(not (minute < be and bs < end_min) for bs, be in breaks + busy)
            if clear and minute > now_min:
                slots.append(hhmm(minute))
            minute += step
    return slots


# --- calendar export and consultations ---------------------------------------------------------------

def appointment_ics(*, session: Session, actor: Actor, appointment_id: object) -> str:
    """An .ics file of one appointment. SUMMARY carries the MRN, not the name, unless the clinic sets
    SYNAPSE_CALENDAR_PATIENT_NAMES=true; reason and notes never leave the clinic."""
    require(actor, Permission.APPOINTMENT_BOOK)
    row = _load(session, appointment_id)
    public = _rows(session, actor, [row])[0]
    settings = get_settings()
    who = public.mrn or "patient"
    if settings.calendar_patient_names and public.patient_name:
        who = f"{public.patient_name} ({public.mrn})"
    location = ", ".join(p.strip() for p in [settings.clinic_name, *settings.clinic_address.split("|")] if p.strip())
    event = ical.Event(uid=f"{row.id}@synapse", start=row.starts_at, end=row.ends_at, stamp=utcnow(),
                       summary=f"{SESSION_LABELS[row.session_type]}: {who} with {public.doctor_name}",
                       description=f"Appointment at {settings.clinic_name}. Please arrive 10 minutes early.",
                       location=location or None, sequence=row.reschedules,
                       status="CANCELLED" if row.status in RELEASED_STATUSES else "CONFIRMED")
    audit.record(session, actor=actor, action="appointment.export", entity="appointment", entity_id=row.id)
    return ical.calendar([event])


def start_consultation_from_appointment(*, session: Session, actor: Actor, appointment_id: object,
                                        chief_complaint: object = None, record: bool = True):  # type: ignore[no-untyped-def]
    """Start the consultation of a checked-in appointment (its doctor only) and link the two."""
    from core.services import consultations

    require(actor, Permission.CONSULTATION_RUN)
    row = _load(session, appointment_id, lock=True)
    if row.doctor_id != actor.user_id:
        raise PermissionDenied("Only the doctor this appointment is with can start its consultation.")
    if row.consultation_id is not None:
        raise Conflict("This appointment's consultation has already been started.")
    if row.status != "checked_in":
        raise Conflict("Check the patient in first: a consultation starts from a checked-in appointment.")
    complaint = chief_complaint if chief_complaint not in (None, "") else _plain(row.reason)
    summary = consultations.start_consultation(session=session, actor=actor, patient_id=row.patient_id, data={
        "session_type": row.session_type, "chief_complaint": complaint or "", "record": record})
    row.consultation_id, row.updated_at = summary.id, utcnow()
    session.add(row)
    audit.record(session, actor=actor, action="appointment.consultation", entity="appointment", entity_id=row.id,
                 details={"consultation": str(summary.id)})
    return summary
