"""Front-desk demo data for the demo clinic (core.services.demo): Dr. Rao's week, a few appointments from
tomorrow on, and one issued, partly paid bill. Idempotent: does nothing once any appointment exists."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlmodel import Session

from core.models import Appointment, Patient, PriceItem, User
from core.security.rbac import Actor, Permission, require
from core.services import billing, scheduling
from core.services.auth import actor_for

# (days from tomorrow, among working days; time; session type; reason)
DEMO_APPOINTMENTS = ((0, "10:00", "follow_up", "Medication review"), (0, "11:00", "new_patient", "First assessment"),
                     (1, "09:30", "consultation", "Sleep problems"))


def _working_days(first: dt.date, count: int, week: dict) -> list[dt.date]:
    days, day = [], first
    while len(days) < count:
        if week[day.weekday()][0]:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def create_demo_front_desk(*, session: Session, actor: Actor) -> int:
    """Returns how many appointments were booked (0 when the demo already has some)."""
    require(actor, Permission.USER_MANAGE)
    if session.exec(select(Appointment.id).limit(1)).first() is not None:
        return 0
    doctor = session.exec(select(User).where(User.username == "dr.rao", User.role == "doctor")).scalars().first()
    reception = session.exec(select(User).where(User.username == "reception")).scalars().first()
    patients = session.exec(select(Patient).order_by(Patient.mrn).limit(3)).scalars().all()
    if doctor is None or reception is None or not patients:
        return 0
    desk = actor_for(reception)
    scheduling.set_working_week(session=session, actor=desk, doctor_id=doctor.id, days={
        d: {"hours": "09:00-18:00", "breaks": "13:00-14:00"} for d in range(6)})
    week, _ = scheduling.week_hours(session, doctor.id)
    days = _working_days(scheduling.clinic_today() + dt.timedelta(days=1), 2, week)
    booked = 0
    for (day_index, time, session_type, reason), patient in zip(DEMO_APPOINTMENTS, patients, strict=False):
        scheduling.book_appointment(session=session, actor=desk, data={
            "patient_id": patient.id, "doctor_id": doctor.id, "date": days[day_index], "time": time,
            "session_type": session_type, "reason": reason})
        booked += 1
    codes = ("CONS-NEW", "PROC-PSYT")
    items = session.exec(select(PriceItem.id, PriceItem.code).where(PriceItem.code.in_(codes))).all()
    if len(items) == len(codes):
        bill = billing.create_bill(session=session, actor=desk, data={
            "patient_id": patients[0].id, "items": [{"price_item_id": i[0]} for i in items]})
        bill = billing.issue_bill(session=session, actor=desk, bill_id=bill.id)
        billing.record_payment(session=session, actor=desk, bill_id=bill.id, amount="1,000", mode="upi",
                               reference="DEMO-UPI-0001")
    return booked
