"""The front desk in a real browser against a real Streamlit server (fixtures in tests/e2e/server.py): reception
books an appointment for today from the free slots, checks the patient in, starts a bill, adds a line from the
price list, issues it (a consecutive invoice number) and records the payment. Screenshots of every step go to
test-artifacts/e2e/."""

from __future__ import annotations

import re
import subprocess
import textwrap

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import Locator, Page, expect

from tests.e2e.server import PYTHON, REPO_ROOT
from tests.e2e.test_intake_browser import open_sidebar_page, signed_in_reception
from tests.e2e.test_sign_in import no_app_errors, settled

pytestmark = pytest.mark.e2e

PATIENT, DOCTOR_NAME = "Arjun Mehta", "Dr. Meera Rao"

# Dr. Rao works round the clock in this test's clinic, so that a slot later today exists whenever it runs.
_ROUND_THE_CLOCK = textwrap.dedent("""
    from sqlalchemy import select
    from core.db import unit_of_work
    from core.models import User
    from core.services import scheduling
    from core.services.auth import actor_for
    with unit_of_work() as session:
        desk = actor_for(session.exec(select(User).where(User.username == "reception")).scalars().one())
        doctor = session.exec(select(User).where(User.username == "dr.rao")).scalars().one()
        scheduling.set_working_week(session=session, actor=desk, doctor_id=doctor.id,
                                    days={d: {"hours": "00:00-24:00"} for d in range(7)})
""")


def segment(page: Page, name: str) -> None:
    choice = page.get_by_role("radio", name=name, exact=True)  # st.segmented_control: a radio group of buttons
    choice.click()
    expect(choice).to_have_attribute("aria-checked", "true")
    settled(page)
    no_app_errors(page)


def selectbox(page: Page, label: str) -> Locator:
    return page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True)).get_by_role("combobox")


def find_patient(page: Page, text: str) -> None:
    search = page.get_by_label("Find the patient")
    search.fill(text)
    search.press("Enter")
    settled(page)
    expect(selectbox(page, "Patient")).to_have_value(re.compile(rf"^P-\d{{6}} · {text}"))
    no_app_errors(page)


def success(page: Page, pattern: str) -> str:
    box = page.get_by_test_id("stAlertContentSuccess").filter(has_text=re.compile(pattern))
    expect(box).to_be_visible()
    settled(page)
    no_app_errors(page)
    return box.inner_text()


def test_reception_books_checks_in_bills_and_takes_payment(page: Page, synapse_server, shot) -> None:
    done = subprocess.run([PYTHON, "-c", _ROUND_THE_CLOCK], cwd=REPO_ROOT, env=synapse_server.env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    signed_in_reception(page, synapse_server)

    # Book: today, the first free slot.
    open_sidebar_page(page, "Appointments")
    segment(page, "Book")
    find_patient(page, PATIENT)
    time_box = selectbox(page, "Time (free slots)")
    time_box.click()
    slots = page.get_by_role("option", name=re.compile(r"^\d\d:\d\d$"))
    if slots.count() == 0:
        pytest.skip("no slot left today (the test runs within the last half hour before midnight)")
    slot = slots.first.inner_text()
    slots.first.click()
    expect(time_box).to_have_value(slot)
    page.get_by_label("Reason for the visit").fill("Follow-up of low mood")
    settled(page)
    shot("booking-filled")
    page.get_by_role("button", name="Book appointment").click()
    booked = success(page, rf"^Booked P-\d{{6}} · {PATIENT} with {DOCTOR_NAME} on .* at {slot}\.$")
    mrn = re.search(r"P-\d{6}", booked).group(0)  # type: ignore[union-attr]
    shot("booked")

    # Check in from today's list.
    segment(page, "Today")
    appointment = selectbox(page, "Appointment")
    expect(appointment).to_have_value(re.compile(rf"^{slot}–\d\d:\d\d · {mrn} · {PATIENT} · Consultation · Booked$"))
    page.get_by_role("button", name="Check in", exact=True).click()
    success(page, r"^Checked in\.$")
    expect(selectbox(page, "Appointment")).to_have_value(re.compile(r"· Checked in$"))
    expect(page.get_by_role("button", name="Check in", exact=True)).to_be_disabled()
    shot("checked-in")

    # Bill: start, add the consultation from the price list, issue, take the payment.
    open_sidebar_page(page, "Billing")
    find_patient(page, PATIENT)
    page.get_by_role("button", name="Start the bill").click()
    expect(page.get_by_role("heading", name="Draft bill · Bill of supply · Draft")).to_be_visible()
    settled(page)
    item = selectbox(page, "Item")
    item.click()
    page.get_by_role("option", name="Consultation: Follow-up consultation · ₹800.00", exact=True).click()
    expect(item).to_have_value("Consultation: Follow-up consultation · ₹800.00")
    page.get_by_role("button", name="Add line").click()
    expect(page.get_by_text(re.compile(r"Discount: ₹0\.00 · Total: ₹800\.00$"))).to_be_visible()
    settled(page)
    no_app_errors(page)
    shot("draft-with-line")

    page.get_by_role("button", name="Issue bill").click()
    number = success(page, r"^Issued INV/\d{4}/\d{6}\.$").removeprefix("Issued ").rstrip(".")
    expect(page.get_by_role("heading", name=f"{number} · Bill of supply · Issued")).to_be_visible()
    expect(page.get_by_label("Amount (₹)")).to_have_value("800.00")
    shot("issued")

    page.get_by_role("button", name="Record payment").click()
    success(page, r"^Payment recorded\.$")
    expect(page.get_by_role("heading", name=f"{number} · Bill of supply · Paid")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Paid: ₹800\.00 · Balance due: ₹0\.00"))).to_be_visible()
    shot("paid")
