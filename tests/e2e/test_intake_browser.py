"""Reception's intake in a real browser against a real Streamlit server (fixtures in tests/e2e/server.py):
register a patient with a presenting symptom, find them on the Patients page by the phone typed another way,
open their record from the table; and a validation error shown, fixed and registered. Screenshots of every
step go to test-artifacts/e2e/."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import Locator, Page, expect  # noqa: E402

from tests.e2e.test_sign_in import no_app_errors, open_app, settled, sign_in_as  # noqa: E402

pytestmark = pytest.mark.e2e

RECEPTION, RECEPTION_NAME = "reception", "Ravi Frontdesk"
DOCTOR_NAME = "Dr. Meera Rao"
MRN = re.compile(r"P-\d{6}")


def signed_in_reception(page: Page, synapse_server) -> None:  # type: ignore[no-untyped-def]
    open_app(page)
    sign_in_as(page, RECEPTION, synapse_server.passwords[RECEPTION], RECEPTION_NAME)


def open_sidebar_page(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    settled(page)
    no_app_errors(page)


def intake_form(page: Page) -> Locator:
    return page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="Register patient"))


def next_frames(page: Page) -> None:
    """Let the browser deliver pending scroll events (they fire on the next animation frame)."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def choose(page: Page, scope: Locator, label: str, option: str) -> None:
    """Pick an option of an st.selectbox: open its list, click the option, check the box shows it.

    The list (a react-aria ComboBox) closes when the page scrolls; Playwright's click scrolls the box into
    view just before clicking, and that scroll event arrives a frame later and would close the list it
    opened. So scroll first, as a person does, then click."""
    box = scope.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True))
    combobox = box.get_by_role("combobox")
    combobox.scroll_into_view_if_needed()
    next_frames(page)
    combobox.click()
    # While the list is open react-aria hides the rest of the page from the accessibility tree.
    listbox = page.get_by_role("listbox", name=label)
    expect(listbox).to_be_visible()
    listbox.get_by_role("option", name=option, exact=True).click()
    expect(listbox).to_have_count(0)
    expect(combobox).to_have_value(option)


def tick(scope: Page | Locator, label: str) -> None:
    """Tick an st.checkbox by its label (the input itself is visually hidden; the label takes the click)."""
    box = scope.get_by_test_id("stCheckbox").filter(has_text=re.compile(rf"^{re.escape(label)}$"))
    box.get_by_text(label, exact=True).click()
    expect(box.get_by_role("checkbox")).to_be_checked()


def type_date(scope: Locator, label: str, ddmmyyyy: str) -> None:
    """Type a date into an st.date_input (format DD/MM/YYYY) as a person does: into its day segment, the
    field moving on by itself to month and year, then Enter."""
    day = scope.get_by_role("spinbutton", name=f"day, {label}")
    day.click()
    day.press_sequentially(ddmmyyyy)
    scope.get_by_role("spinbutton", name=f"year, {label}").press("Enter")
    d, m, y = ddmmyyyy.split("/")
    for segment, value in (("day", d), ("month", m), ("year", y)):
        expect(scope.get_by_role("spinbutton", name=f"{segment}, {label}")).to_have_text(value)


def register(page: Page) -> None:
    intake_form(page).get_by_role("button", name="Register patient").click()


def registered_mrn(page: Page, full_name: str) -> str:
    done = page.get_by_test_id("stAlertContentSuccess").filter(has_text=f"Registered {full_name} as")
    expect(done).to_have_text(re.compile(rf"^Registered {re.escape(full_name)} as P-\d{{6}}\.$"))
    settled(page)
    no_app_errors(page)
    done.scroll_into_view_if_needed()  # the app scrolls inside its own container; show it in the screenshot
    match = MRN.search(done.inner_text())
    assert match, done.inner_text()
    return match.group(0)


def select_first_row(page: Page, grid: Locator) -> None:
    """Click the selection cell (the first column, a checkbox) of the first data row of an st.dataframe.

    The grid is drawn on a canvas under glide-data-grid's scroller, which takes the pointer events, so click
    the page at the cell's position as a person's mouse does: Streamlit's rows (and the header) are 35 px."""
    canvas = grid.get_by_test_id("data-grid-canvas")
    canvas.scroll_into_view_if_needed()
    next_frames(page)
    box = canvas.bounding_box()
    assert box is not None
    header_height = row_height = 35
    page.mouse.click(box["x"] + 17, box["y"] + header_height + row_height / 2)


def test_reception_registers_finds_and_opens_patient(page: Page, synapse_server, shot) -> None:
    name, phone = "Leela Kulkarni", "098220 11223"
    signed_in_reception(page, synapse_server)
    open_sidebar_page(page, "Intake")
    shot("intake-empty")

    # Presenting symptom: search the catalogue, tick the hit; the page lists it as chosen.
    search = page.get_by_label("Search symptoms (ICD-11)")
    search.fill("depressed mood")
    search.press("Enter")
    settled(page)
    tick(page, "Depressed mood (MB24.5, symptom)")
    expect(page.get_by_text(re.compile(r"^Chosen: Depressed mood$"))).to_be_visible()
    settled(page)
    no_app_errors(page)
    shot("symptom-chosen")

    form = intake_form(page)
    form.get_by_label("Full name *").fill(name)
    type_date(form, "Date of birth", "14/02/1990")
    choose(page, form, "Sex", "Female")
    form.get_by_label("Phone", exact=True).fill(phone)
    choose(page, form, "Assigned doctor", DOCTOR_NAME)
    tick(form, "Consents to consultations being recorded")
    shot("intake-filled")

    register(page)
    mrn = registered_mrn(page, name)
    expect(page.get_by_text("Chosen: none yet")).to_be_visible()  # a fresh form for the next patient
    expect(intake_form(page).get_by_label("Full name *")).to_have_value("")
    shot("registered")

    # The Patients page finds them by the same phone number written another way.
    open_sidebar_page(page, "Patients")
    query = page.get_by_role("textbox", name="Search", exact=True)
    query.fill("+91 98220 11223")
    query.press("Enter")
    expect(page.get_by_text("1 patient matching by phone · page 1 of 1")).to_be_visible()
    settled(page)
    no_app_errors(page)

    # st.dataframe draws on a canvas; glide-data-grid keeps an accessible copy of the cells in a table.
    grid = page.get_by_test_id("stDataFrame")
    rows = grid.locator("tbody tr")
    expect(rows).to_have_count(1)
    for text in (mrn, name, "Female", DOCTOR_NAME):
        expect(rows.first.locator("td", has_text=re.compile(rf"^{re.escape(text)}$"))).to_be_attached()
    shot("patients-found-by-phone")

    select_first_row(page, grid)
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/patient$"))
    settled(page)
    no_app_errors(page)
    expect(page.get_by_role("tab", name="Demographics")).to_have_attribute("aria-selected", "true")
    summary = (rf"^{re.escape(mrn)} · \d+ y · Female · doctor: {re.escape(DOCTOR_NAME)}"
               " · recording consent: yes")
    expect(page.get_by_text(re.compile(summary))).to_be_visible()
    expect(page.get_by_text("Date of birth: 14 Feb 1990")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Phone: \+91 ?98220 ?11223$"))).to_be_visible()
    shot("patient-record")

    # The symptom ticked at intake is on the record.
    page.get_by_role("tab", name="Presenting symptoms").click()
    symptoms = page.get_by_test_id("stTabPanel").filter(visible=True).get_by_test_id("stDataFrame")
    expect(symptoms.locator("tbody tr")).to_have_count(1)
    expect(symptoms.locator("td", has_text=re.compile(r"^Depressed mood$"))).to_be_attached()
    expect(symptoms.locator("td", has_text=re.compile(r"^MB24\.5$"))).to_be_attached()
    no_app_errors(page)
    shot("patient-record-symptoms")


def test_intake_shows_a_missing_name_and_registers_once_fixed(page: Page, synapse_server, shot) -> None:
    name = "Farhan Qureshi"
    signed_in_reception(page, synapse_server)
    open_sidebar_page(page, "Intake")

    register(page)
    form = intake_form(page)
    errors = form.get_by_test_id("stAlertContentError")
    missing = errors.filter(has_text=re.compile(r"^Enter the full name\.$"))
    expect(missing).to_be_visible()
    no_date = "Enter the date of birth, or the age if the date is not known."
    expect(errors.filter(has_text=no_date)).to_be_visible()
    expect(page.get_by_test_id("stAlertContentError").filter(
        has_text=re.compile(r"^Please correct the highlighted fields\."))).to_be_visible()  # under the button
    settled(page)
    no_app_errors(page)
    expect(page.get_by_test_id("stAlertContentSuccess")).to_have_count(0)
    missing.scroll_into_view_if_needed()
    shot("missing-name")

    form.get_by_label("Full name *").fill(name)
    age = form.get_by_label("…or age in years, if the date is not known")
    age.fill("34")
    choose(page, form, "Sex", "Male")
    shot("name-and-age-given")

    register(page)
    registered_mrn(page, name)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
    shot("registered")
    # Not followed here: the "Open the patient's record" button under the message does nothing (the page
    # pops the message before the click's rerun, so the button is gone by then); reported, not tested.
