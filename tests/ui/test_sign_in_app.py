"""The app headless (AppTest): sign-in, wrong password, lockout, sign-out, role-filtered navigation."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.db import unit_of_work
from core.models import UserSession
from core.security.rbac import Role
from core.services.auth import WRONG_CREDENTIALS
from core.ui.auth import TOKEN_KEY
from core.ui.navigation import pages_for
from tests.factories import DEFAULT_PASSWORD, make_user

HOME = str(Path(__file__).resolve().parents[2] / "Home.py")


def _app() -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=30)
    at.run()
    return at


def _sign_in(at: AppTest, username: str, password: str) -> AppTest:
    fields = {t.label: t for t in at.text_input}
    fields["Username"].input(username)
    fields["Password"].input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    return at.run()


def _texts(at: AppTest) -> str:
    parts = [e.value for e in at.title] + [e.value for e in at.markdown] + [e.value for e in at.error] + \
            [e.value for e in at.info] + [e.value for e in at.warning]
    return "\n".join(str(p) for p in parts)


def test_sign_in_shows_the_role_home_page(sqlite_database):
    with unit_of_work() as session:
        make_user(session, role=Role.RECEPTIONIST, username="desk1", full_name="Ravi Desk")
    at = _sign_in(_app(), "desk1", DEFAULT_PASSWORD)
    assert not at.exception
    assert at.title[0].value == "Welcome, Ravi Desk"
    assert "Register patients" in _texts(at)
    assert TOKEN_KEY in at.session_state


def test_wrong_password_is_refused_with_a_plain_message(sqlite_database):
    with unit_of_work() as session:
        make_user(session, role=Role.DOCTOR, username="doc1")
    at = _sign_in(_app(), "doc1", "not-the-password-1")
    assert [e.value for e in at.error] == [WRONG_CREDENTIALS]
    assert at.title[0].value == "Synapse"
    assert TOKEN_KEY not in at.session_state


def test_unknown_user_gets_the_same_message(sqlite_database):
    at = _sign_in(_app(), "nobody", "not-the-password-1")
    assert [e.value for e in at.error] == [WRONG_CREDENTIALS]


def test_lockout_message_after_five_failures_even_with_right_password(sqlite_database):
    with unit_of_work() as session:
        make_user(session, role=Role.DOCTOR, username="doc2")
    at = _app()
    for _ in range(5):
        at = _sign_in(at, "doc2", "wrong-password-xyz")
    assert "locked" in at.error[0].value
    at = _sign_in(at, "doc2", DEFAULT_PASSWORD)
    assert "locked" in at.error[0].value
    assert TOKEN_KEY not in at.session_state


def test_sign_out_ends_the_session_on_the_server(sqlite_database):
    with unit_of_work() as session:
        make_user(session, role=Role.MANAGER, username="boss1")
    at = _sign_in(_app(), "boss1", DEFAULT_PASSWORD)
    token = at.session_state[TOKEN_KEY]
    with unit_of_work() as session:
        assert len(session.exec(select(UserSession)).scalars().all()) == 1
    next(b for b in at.button if b.label == "Sign out").click()
    at.run()
    assert at.title[0].value == "Synapse"
    assert "You have signed out." in _texts(at)
    with unit_of_work() as session:
        assert session.exec(select(UserSession)).scalars().all() == []
    # The old token, replayed into a new tab's state, is refused.
    replay = AppTest.from_file(HOME, default_timeout=30)
    replay.session_state[TOKEN_KEY] = token
    replay.run()
    assert replay.title[0].value == "Synapse"


@pytest.mark.parametrize("role", list(Role))
def test_navigation_lists_only_the_role_pages(sqlite_database, role):
    with unit_of_work() as session:
        make_user(session, role=role, username=f"nav-{role.value}")
    at = _sign_in(_app(), f"nav-{role.value}", DEFAULT_PASSWORD)
    assert not at.exception
    expected = {spec.title for specs in pages_for(role).values() for spec in specs if not spec.hidden}
    linked = {link.label for link in at.get("page_link")} | {"Home"}
    # Home links to every page of the role except itself, and to nothing else.
    assert linked == expected
    if role != Role.ADMIN:
        assert "Audit log" not in linked and "Users" not in linked
    if role != Role.DOCTOR:
        assert "Consultation" not in linked


def test_role_table_matches_design():
    titles = {role: {s.title for specs in pages_for(role).values() for s in specs} for role in Role}
    assert {"Users", "Audit log"} <= titles[Role.ADMIN] and "Consultation" not in titles[Role.ADMIN]
    assert {"Consultation", "Reports", "Patients"} <= titles[Role.DOCTOR] and "Billing" not in titles[Role.DOCTOR]
    assert {"Intake", "Patients", "Appointments", "Billing"} <= titles[Role.RECEPTIONIST]
    assert "Reports" not in titles[Role.RECEPTIONIST] and "Consultation" not in titles[Role.RECEPTIONIST]
    assert {"Analytics", "Billing"} <= titles[Role.MANAGER] and "Patients" not in titles[Role.MANAGER]


def test_admin_home_shows_system_and_speech_status(sqlite_database):
    with unit_of_work() as session:
        make_user(session, role=Role.ADMIN, username="root9")
    at = _sign_in(_app(), "root9", DEFAULT_PASSWORD)
    assert not at.exception
    shown = "\n".join(m.value for m in at.markdown)
    assert "**database** — reachable" in shown and "speech engine:" in shown and "stored consultation audio" in shown
