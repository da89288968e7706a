"""The Appointments and Billing pages headless (AppTest): booking and a refusal shown next to its field, the day
grid (and the manager's view of it without identities), a bill started, a line added, issued and paid, a
payment over the balance refused next to the amount, and the manager's totals-only reports."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from core.db import unit_of_work
from core.models import Appointment, Bill, Payment
from core.security.rbac import Role
from core.services import scheduling
from core.services.auth import actor_for
from tests.factories import DEFAULT_PASSWORD, make_appointment, make_patient, make_user
from tests.ui.test_sign_in_app import _app, _sign_in


def _clinic() -> dict:
    with unit_of_work() as session:
        desk = make_user(session, role=Role.RECEPTIONIST, username="desk1", full_name="Ravi Desk")
        doctor = make_user(session, role=Role.DOCTOR, username="doc1", full_name="Dr. Asha Kulkarni")
        patient = make_patient(session, actor=actor_for(desk), full_name="Sunita Patil", assigned_doctor_id=doctor.id)
    return {"desk": desk, "doctor": doctor, "patient": patient}


def _count(model) -> int:  # type: ignore[no-untyped-def]
    with unit_of_work() as session:
        return session.exec(select(func.count()).select_from(model)).scalar_one()


def _page(username: str, page: str, **state):  # type: ignore[no-untyped-def]
    at = _sign_in(_app(), username, DEFAULT_PASSWORD)
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _working_day() -> dt.date:
    day = scheduling.clinic_today() + dt.timedelta(days=1)
    return day + dt.timedelta(days=1) if day.weekday() == 6 else day


def _button(at, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def _book_page(clinic: dict):  # type: ignore[no-untyped-def]
    at = _page("desk1", "pages/appointments.py", appt_view="Book")
    at.text_input(key="book_query").input(clinic["patient"].mrn).run()
    at.date_input(key="book_day").set_value(_working_day()).run()
    assert not at.exception
    return at


def test_reception_books_an_appointment_from_the_free_slots(sqlite_database):
    clinic = _clinic()
    at = _book_page(clinic)
    patient_box = next(s for s in at.selectbox if s.label == "Patient")
    assert patient_box.value == str(clinic["patient"].id)
    slots = next(s for s in at.selectbox if s.label == "Time (free slots)")
    assert "13:00" not in slots.options and "09:00" in slots.options  # the default lunch break is not offered
    slots.set_value("10:00").run()
    at.text_input(key="book_reason").input("Follow-up of sleep problems").run()
    _button(at, "Book appointment").click().run()
    assert not at.exception
    day = _working_day().strftime("%d %b %Y")
    assert [s.value for s in at.success] == [
        f"Booked {clinic['patient'].mrn} · Sunita Patil with Dr. Asha Kulkarni on {day} at 10:00."]
    assert _count(Appointment) == 1


def test_booking_refusals_are_shown_next_to_their_fields(sqlite_database):
    clinic = _clinic()
    at = _page("desk1", "pages/appointments.py", appt_view="Book")
    _button(at, "Book appointment").click().run()
    assert any("Choose the patient." in e.value for e in at.error)
    at = _book_page(clinic)
    at.text_input(key="book_typed").input("19:00").run()
    _button(at, "Book appointment").click().run()
    messages = [e.value for e in at.error]
    assert any("19:00–19:30 is outside Dr. Asha Kulkarni's hours" in m for m in messages), messages
    assert _count(Appointment) == 0


def test_day_grid_with_actions_and_the_managers_view_without_names(sqlite_database):
    clinic = _clinic()
    day = _working_day()
    with unit_of_work() as session:
        make_user(session, role=Role.MANAGER, username="boss1")
        make_appointment(session, actor=actor_for(clinic["desk"]), patient_id=clinic["patient"].id,
                         doctor_id=clinic["doctor"].id, date=day, time="11:00", reason="Review")
    at = _page("desk1", "pages/appointments.py")
    at.date_input(key="appt_day").set_value(day).run()
    assert not at.exception
    grid = at.dataframe[0].value
    row = grid[grid["Time"] == "11:00"].iloc[0]
    assert f"{clinic['patient'].mrn} · Sunita Patil" in row["Appointment"] and "Booked" in row["Appointment"]
    assert grid[grid["Time"] == "13:00"].iloc[0]["Appointment"] == "— break —"
    assert {"Check in", "No-show", "Completed", "Prepare .ics"} <= {b.label for b in at.button}

    at = _page("boss1", "pages/appointments.py")
    assert [o for o in at.segmented_control[0].options] == ["Day", "Week", "Today"]
    at.date_input(key="appt_day").set_value(day).run()
    cell = at.dataframe[0].value.set_index("Time").loc["11:00", "Appointment"]
    assert cell.startswith("11:00–11:30 booked") and "Sunita" not in cell
    assert "Check in" not in {b.label for b in at.button}


def _billing_page():  # type: ignore[no-untyped-def]
    return _page("desk1", "pages/billing.py")


def _issued_bill(clinic: dict):  # type: ignore[no-untyped-def]
    at = _billing_page()
    at.text_input(key="bill_query").input(clinic["patient"].mrn).run()
    _button(at, "Start the bill").click().run()
    assert not at.exception
    assert at.subheader[0].value == "Draft bill · Bill of supply · Draft"
    at.selectbox(key="line_item").select_index(0)  # Consultation, ₹1,000.00
    at.number_input(key="line_qty").set_value(1)
    next(b for b in at.button if b.label == "Add line").click().run()
    assert not at.exception
    assert "Total: **₹1,000.00**" in " ".join(m.value for m in at.markdown)
    _button(at, "Issue bill").click().run()
    assert not at.exception
    return at


def test_reception_bills_issues_and_takes_payment(sqlite_database):
    clinic = _clinic()
    at = _issued_bill(clinic)
    year = at.success[0].value.split("/")[1]
    assert at.success[0].value == f"Issued INV/{year}/000001."
    assert at.subheader[0].value == f"INV/{year}/000001 · Bill of supply · Issued"
    assert at.text_input(key="pay_amount").value == "1,000.00"
    at.selectbox(key="pay_mode").set_value("upi")
    at.text_input(key="pay_reference").input("UPI-123456")
    next(b for b in at.button if b.label == "Record payment").click().run()
    assert not at.exception
    assert at.success[0].value == "Payment recorded."
    assert at.subheader[0].value == f"INV/{year}/000001 · Bill of supply · Paid"
    assert "Balance due: **₹0.00**" in " ".join(m.value for m in at.markdown)
    assert _count(Payment) == 1


def test_a_payment_over_the_balance_is_refused_next_to_the_amount(sqlite_database):
    clinic = _clinic()
    at = _issued_bill(clinic)
    at.text_input(key="pay_amount").input("5,000")
    next(b for b in at.button if b.label == "Record payment").click().run()
    assert not at.exception
    expected = ("₹5,000.00 is more than the balance due (₹1,000.00). Take what is due; to give money back, "
                "record a refund.")
    assert any(expected in e.value for e in at.error), [e.value for e in at.error]
    assert _count(Payment) == 0 and _count(Bill) == 1


def test_manager_sees_dues_and_collections_as_totals_only(sqlite_database):
    clinic = _clinic()
    _issued_bill(clinic)
    with unit_of_work() as session:
        make_user(session, role=Role.MANAGER, username="boss1")
    at = _page("boss1", "pages/billing.py")
    assert at.segmented_control[0].options == ["Dues", "Collections"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["0–30 days"] == "₹1,000.00" and metrics["Outstanding"] == "₹1,000.00"
    assert "Totals only" in " ".join(c.value for c in at.caption)
    assert "Sunita" not in str([d.value for d in at.dataframe]) + " ".join(m.value for m in at.markdown)


def test_admin_adds_to_the_price_list(sqlite_database):
    """Run as the page file itself: the navigation lists Billing for admins once PRICE_LIST_MANAGE is wired in."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from core.services import auth
    from core.ui.auth import TOKEN_KEY

    with unit_of_work() as session:
        make_user(session, role=Role.ADMIN, username="root1")
    with unit_of_work() as session:
        token = auth.login(session=session, username="root1", password=DEFAULT_PASSWORD, client="test").token
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "pages" / "billing.py"), default_timeout=30)
    at.session_state[TOKEN_KEY] = token
    at.run()
    assert not at.exception and at.segmented_control[0].options == ["Price list"]
    assert "CONS-FU" in set(at.dataframe[0].value["Code"])
    form = at.get("form")[0]
    inputs = {t.label: t for t in form.text_input}
    inputs["Code"].input("grp-1")
    inputs["Name"].input("Group therapy session")
    inputs["Price (₹)"].input("1,200.5")
    next(b for b in form.button if b.label == "Save").click().run()
    assert not at.exception
    assert at.success[0].value == "Price list saved."
    row = at.dataframe[0].value.set_index("Code").loc["GRP-1"]
    assert (row["Name"], row["Price"], row["GST"]) == ("Group therapy session", "₹1,200.50", "0%")
    inputs = {t.label: t for t in at.get("form")[0].text_input}
    inputs["Code"].input("GRP-2")
    inputs["Name"].input("Another")
    inputs["Price (₹)"].input("12.345")
    next(b for b in at.get("form")[0].button if b.label == "Save").click().run()
    assert any("at most two decimals" in e.value for e in at.error)
