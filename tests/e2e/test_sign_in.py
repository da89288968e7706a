"""Sign-in, role navigation, sign-out and the audit trail, driven through a real browser against a real
Streamlit server (fixtures in tests/e2e/server.py). Screenshots of every step go to test-artifacts/e2e/."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import Locator, Page, expect  # noqa: E402

pytestmark = pytest.mark.e2e

DOCTOR, DOCTOR_NAME = "dr.rao", "Dr. Meera Rao"
ADMIN, ADMIN_NAME = "admin", "Asha Admin"
DOCTOR_PAGES = ("Home", "Patients", "Symptoms", "Consultation", "Reports", "Appointments", "My account")
ADMIN_ONLY_PAGES = ("Audit log", "Users")


def settled(page: Page) -> None:
    """Wait until Streamlit has finished the current run and replaced every element of the previous one."""
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-connection-state", "CONNECTED")
    expect(page.locator('[data-stale="true"]')).to_have_count(0)


def no_app_errors(page: Page) -> None:
    """Neither a Streamlit exception box nor core.ui.errors' 'error id' message is on the page."""
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_text(re.compile(r"error id [0-9A-F]{8}"))).to_have_count(0)
    assert not [e for e in page.console_errors if e.startswith("pageerror")], page.console_errors


def sign_in_form(page: Page) -> Locator:
    return page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="Sign in"))


def expect_sign_in_form(page: Page) -> None:
    form = sign_in_form(page)
    expect(form.get_by_label("Username")).to_be_visible()
    expect(form.get_by_label("Password", exact=True)).to_be_visible()
    expect(form.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Welcome, "))).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)


def open_app(page: Page) -> None:
    page.goto("/")
    expect_sign_in_form(page)
    settled(page)


def sign_in(page: Page, username: str, password: str) -> None:
    form = sign_in_form(page)
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password", exact=True).fill(password)
    form.get_by_role("button", name="Sign in").click()


def sign_in_as(page: Page, username: str, password: str, full_name: str) -> None:
    sign_in(page, username, password)
    expect(page.get_by_role("heading", name=f"Welcome, {full_name}")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    settled(page)
    no_app_errors(page)


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    expect_sign_in_form(page)
    settled(page)
    no_app_errors(page)


def test_doctor_signs_in_sees_own_pages_and_signs_out(page: Page, synapse_server, shot) -> None:
    open_app(page)
    shot("sign-in-form")

    sign_in_as(page, DOCTOR, synapse_server.passwords[DOCTOR], DOCTOR_NAME)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(DOCTOR_NAME, exact=True)).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")
    for title in DOCTOR_PAGES:
        expect(nav.get_by_role("link", name=title)).to_be_visible()
    for title in ADMIN_ONLY_PAGES:
        expect(nav.get_by_role("link", name=title)).to_have_count(0)
    expect(page.get_by_text("Audit log")).to_have_count(0)  # not linked from the home page either
    shot("doctor-home")

    sign_out(page)
    shot("signed-out")

    page.reload()
    expect_sign_in_form(page)
    settled(page)
    expect(page.get_by_text("You have signed out.")).to_have_count(0)  # a new Streamlit session
    no_app_errors(page)
    shot("reloaded-after-sign-out")


def test_wrong_password_is_refused(page: Page, synapse_server, shot) -> None:
    open_app(page)
    sign_in(page, DOCTOR, synapse_server.passwords[DOCTOR] + "-wrong")
    expect(page.get_by_text("Wrong username or password.")).to_be_visible()
    settled(page)
    expect_sign_in_form(page)
    expect(page.get_by_text(DOCTOR_NAME)).to_have_count(0)
    no_app_errors(page)
    shot("wrong-password")


def test_admin_sees_doctor_login_in_audit_log(page: Page, synapse_server, shot) -> None:
    open_app(page)
    sign_in_as(page, DOCTOR, synapse_server.passwords[DOCTOR], DOCTOR_NAME)
    shot("doctor-signed-in")
    sign_out(page)

    sign_in_as(page, ADMIN, synapse_server.passwords[ADMIN], ADMIN_NAME)
    nav = page.get_by_test_id("stSidebarNav")
    for title in ADMIN_ONLY_PAGES:
        expect(nav.get_by_role("link", name=title)).to_be_visible()
    expect(nav.get_by_role("link", name="Consultation")).to_have_count(0)
    shot("admin-home")

    nav.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/admin_audit$"))
    settled(page)
    no_app_errors(page)

    # Narrow the list to the doctor's sign-ins with the page's own filter form.
    filters = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="Apply"))
    filters.get_by_label("User", exact=True).fill(DOCTOR)
    filters.get_by_label("Action starts with").fill("auth.login")
    filters.get_by_role("button", name="Apply").click()
    expect(page.get_by_text(re.compile(r"^[1-9]\d* matching events?; page 1 of 1\.$"))).to_be_visible()
    settled(page)
    no_app_errors(page)

    # st.dataframe draws on a canvas; glide-data-grid keeps an accessible copy of the cells in a table.
    grid = page.get_by_test_id("stDataFrame")
    expect(grid).to_be_visible()

    def cell(text: str) -> Locator:
        return page.locator("td", has_text=re.compile(rf"^{re.escape(text)}$"))

    rows = grid.locator("tbody tr").filter(has=cell(DOCTOR)).filter(has=cell("auth.login")).filter(has=cell("success"))
    expect(rows.first).to_be_attached()
    expect(grid.locator("tbody tr").filter(has_not=cell(DOCTOR))).to_have_count(0)
    shot("audit-log-doctor-login")
