"""The intake form headless: the happy path, each validation message next to its field, and the
duplicate warning — and that nothing is saved until the form is valid."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from core.db import unit_of_work
from core.models import Intake, Patient, PatientSymptom
from core.security.rbac import Role
from tests.factories import DEFAULT_PASSWORD, make_user
from tests.ui.test_sign_in_app import _app, _sign_in

FORM = "FormSubmitter:intake_0-Register patient"


def _intake_page(sqlite_database):
    with unit_of_work() as session:
        make_user(session, role=Role.RECEPTIONIST, username="desk1", full_name="Ravi Desk")
        make_user(session, role=Role.DOCTOR, username="doc1", full_name="Dr. Asha Kulkarni")
    at = _sign_in(_app(), "desk1", DEFAULT_PASSWORD)
    at.switch_page("pages/intake.py").run()
    assert not at.exception
    return at


def _count(model) -> int:
    with unit_of_work() as session:
        return session.exec(select(func.count()).select_from(model)).scalar_one()


def _errors_after(at, field_key: str) -> list[str]:
    """Error messages drawn directly after the widget with this key (its slot), in page order."""
    elements = list(at.main)
    out = []

    def walk(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    flat = [n for top in elements for n in walk(top)]
    for i, node in enumerate(flat):
        if getattr(node, "key", None) == field_key:
            for follower in flat[i + 1:i + 8]:
                if type(follower).__name__ == "Error":
                    out.append(follower.value)
    return out


def test_happy_path_registers_patient_intake_and_symptom(sqlite_database):
    at = _intake_page(sqlite_database)
    at.text_input(key="intake_sym_q_0").input("depressed mood").run()
    next(c for c in at.checkbox if c.label.startswith("Depressed mood")).check().run()
    at.text_input(key="intake0_name").input("Sunita Patil")
    at.date_input(key="intake0_dob").set_value(dt.date(1985, 3, 4))
    at.selectbox(key="intake0_sex").set_value("female")
    at.text_input(key="intake0_phone").input("098220 11223")
    at.text_input(key="intake0_email").input("Sunita.Patil@Example.com")
    at.selectbox(key="intake0_doctor").set_value(at.selectbox(key="intake0_doctor").options and
                                                  at.selectbox(key="intake0_doctor").value)
    at.checkbox(key="intake0_consent").check()
    at.text_input(key="inf_det_0_1").input("Husband, lives with her")
    at.number_input(key="dur_0").set_value(8)
    at.selectbox(key="unit_0").set_value("months")
    at.text_input(key="ref_0").input("Family physician")
    at.text_area(key="pc_0").input("Not sleeping, crying spells")
    at.button(key=FORM).click().run()
    assert not at.exception
    assert at.success[0].value == "Registered Sunita Patil as **P-000001**."
    assert (_count(Patient), _count(Intake), _count(PatientSymptom)) == (1, 1, 1)
    with unit_of_work() as session:
        p = session.exec(select(Patient)).scalars().one()
        assert (p.phone, p.email, p.consent_recording) == ("+919822011223", "sunita.patil@example.com", True)
    # The success message offers the new record; the button must still be there on the click's rerun.
    next(b for b in at.button if b.label == "Open the patient's record").click().run()
    assert not at.exception
    assert at.title[0].value == "Sunita Patil"


@pytest.mark.parametrize("fill, field, message", [
    ({}, "intake0_name", "Enter the full name."),
    ({"intake0_name": "Asha Rao"}, "intake0_dob", "Enter the date of birth, or the age if the date is not known."),
    ({"intake0_name": "Asha Rao", "intake0_age": 30, "intake0_dob": dt.date(1990, 1, 1)}, "intake0_age",
     "Give either the date of birth or the age, not both."),
    ({"intake0_name": "Asha Rao", "intake0_age": 30, "intake0_phone": "12345"}, "intake0_phone",
     "This phone number is not valid for its country."),
    ({"intake0_name": "Asha Rao", "intake0_age": 30, "intake0_phone": "call me"}, "intake0_phone",
     "This does not look like a phone number."),
    ({"intake0_name": "Asha Rao", "intake0_age": 30, "intake0_email": "asha@"}, "intake0_email",
     "This email address is not valid"),
    ({"intake0_name": "Asha Rao", "intake0_age": 30, "intake0_ec_name": "Ravi"}, "intake0_ec_phone",
     "Enter a phone number."),
    ({"intake0_name": "Asha Rao", "intake0_age": 30, "dur_0": 3}, "unit_0",
     "Give the illness duration as a number and a unit, or leave both empty."),
    ({"intake0_name": "A", "intake0_age": 30}, "intake0_name", "Enter the patient's name (at least two letters)."),
])
def test_each_validation_message_is_shown_and_nothing_saved(sqlite_database, fill, field, message):
    at = _intake_page(sqlite_database)
    for key, value in fill.items():
        widget = at.get_widget(key) if hasattr(at, "get_widget") else None
        for kind in ("text_input", "number_input", "date_input"):
            try:
                widget = getattr(at, kind)(key=key)
                break
            except KeyError:
                continue
        if hasattr(widget, "input"):
            widget.input(value)
        else:
            widget.set_value(value)
    at.button(key=FORM).click().run()
    assert not at.exception
    shown = [e.value for e in at.error]
    assert any(message in m for m in shown), shown
    assert any(message in m for m in _errors_after(at, field)), (field, shown)
    assert (_count(Patient), _count(Intake)) == (0, 0)


def test_likely_duplicate_is_flagged_before_saving(sqlite_database):
    at = _intake_page(sqlite_database)
    for round_ in range(2):
        at.text_input(key=f"intake{round_}_name").input("Kiran Joshi")
        at.number_input(key=f"intake{round_}_age").set_value(40)
        at.text_input(key=f"intake{round_}_phone").input("+91 99300 12345")
        at.button(key=f"FormSubmitter:intake_{round_}-Register patient").click().run()
    assert "This may be a patient who is already registered:" in [w.value for w in at.warning]
    assert any("P-000001" in m.value for m in at.markdown)
    assert _count(Patient) == 1
    next(b for b in at.button if b.label.startswith("It is a different person")).click().run()
    assert _count(Patient) == 2
    assert "as **P-000002**" in at.success[0].value
