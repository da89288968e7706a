"""The sign-in gate. The session token lives only in Streamlit's server-side session state: it never
reaches the browser, so page scripts cannot read it; a reload starts a new Streamlit session and asks
to sign in again."""

from __future__ import annotations

import streamlit as st

from core.db import unit_of_work
from core.security.rbac import Actor
from core.services import auth

TOKEN_KEY = "_synapse_token"
ACTOR_KEY = "_synapse_actor"
FLASH_KEY = "_synapse_flash"


def forget_session(message: str | None = None) -> None:
    for key in (TOKEN_KEY, ACTOR_KEY):
        st.session_state.pop(key, None)
    if message:
        st.session_state[FLASH_KEY] = message


def signed_in_actor() -> Actor | None:
    """Re-check the token on every rerun: a logged-out, idle or expired session is refused here."""
    token = st.session_state.get(TOKEN_KEY)
    if not token:
        return None
    with unit_of_work() as session:
        check = auth.authenticate(session=session, token=token)
    if check.actor is None:
        forget_session(check.message)
        return None
    st.session_state[ACTOR_KEY] = check.actor
    return check.actor


def current_actor() -> Actor:
    """For pages: the signed-in actor, re-checked against the server-side session (a page may be run
    without the entry point, e.g. by URL, so it never trusts a cached actor)."""
    actor = signed_in_actor()
    if actor is None:
        st.warning("Please sign in.")
        st.stop()
    return actor


def sign_out() -> None:
    token = st.session_state.get(TOKEN_KEY)
    with unit_of_work() as session:
        auth.logout(session=session, token=token)
    forget_session("You have signed out.")
    st.rerun()


def _client() -> str:
    agent = st.context.headers.get("User-Agent", "") if st.context.headers else ""
    return ("browser: " + agent.split(" ")[0])[:40] if agent else "browser"


def login_view() -> None:
    st.title("Synapse")
    st.caption("Sign in to the clinic dashboard.")
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        st.info(flash)
    with st.form("sign_in"):
        username = st.text_input("Username", max_chars=40, autocomplete="username")
        password = st.text_input("Password", type="password", max_chars=1024, autocomplete="current-password")
        code = st.text_input("Authenticator code (only if you set one up)", max_chars=10, autocomplete="one-time-code")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        with unit_of_work() as session:
            result = auth.login(session=session, username=username, password=password, totp_code=code,
                                client=_client(), client_address=st.context.ip_address)
        if result.ok:
            st.session_state[TOKEN_KEY] = result.token
            st.session_state[ACTOR_KEY] = result.actor
            st.rerun()
        st.error(result.error)

    with st.expander("Have a reset code?"):
        with st.form("reset_code"):
            r_user = st.text_input("Your username", key="reset_username", max_chars=40)
            r_code = st.text_input("Reset code from your administrator", key="reset_code", max_chars=100)
            r_new = st.text_input("New password (12+ characters)", type="password", key="reset_new", max_chars=256)
            r_again = st.text_input("New password again", type="password", key="reset_again", max_chars=256)
            reset = st.form_submit_button("Set new password")
        if reset:
            with unit_of_work() as session:
                problem = auth.redeem_reset_code(session=session, username=r_user, code=r_code,
                                                 new_password=r_new, confirm_password=r_again)
            if problem:
                st.error(problem)
            else:
                st.success("Your password is set. Sign in with it above.")
