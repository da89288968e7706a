"""My account: password and two-step sign-in."""

import streamlit as st

from core import ui
from core.services import auth

actor = ui.current_actor()
st.title("My account")
st.write(f"Signed in as **{actor.username}** ({actor.role.value}).")

st.subheader("Change password")
errors = ui.FieldErrors()
with st.form("change_password", clear_on_submit=True):
    current = st.text_input("Current password", type="password", max_chars=1024)
    errors.slot("current_password")
    new = st.text_input("New password (at least 12 characters)", type="password", max_chars=256)
    errors.slot("new_password")
    again = st.text_input("New password again", type="password", max_chars=256)
    errors.slot("confirm_password")
    changed = st.form_submit_button("Change password")
if changed:
    ok, _ = ui.attempt(auth.change_password, errors=errors, current_password=current, new_password=new,
                       confirm_password=again)
    if ok:
        st.success("Password changed. Your other sessions have been signed out.")

st.subheader("Two-step sign-in")
st.write("An authenticator app (Google Authenticator, Aegis, 1Password…) adds a 6-digit code to each sign-in.")
enrollment = st.session_state.get("_totp_enrollment")
if enrollment is None:
    if st.button("Set up an authenticator app"):
        ok, result = ui.attempt(auth.begin_totp_enrollment)
        if ok:
            st.session_state["_totp_enrollment"] = result
            st.rerun()
else:
    st.write("Add this key to your app (or open the link on your phone), then enter the code it shows.")
    st.code(enrollment.secret)
    st.caption(enrollment.uri)
    code_errors = ui.FieldErrors()
    with st.form("confirm_totp"):
        code = st.text_input("Code from the app", max_chars=10)
        code_errors.slot("code")
        confirmed = st.form_submit_button("Turn on two-step sign-in")
    if confirmed:
        ok, _ = ui.attempt(auth.confirm_totp, errors=code_errors, code=code)
        if ok:
            st.session_state.pop("_totp_enrollment", None)
            st.success("Two-step sign-in is on.")

with st.expander("Turn two-step sign-in off"):
    off_errors = ui.FieldErrors()
    with st.form("disable_totp", clear_on_submit=True):
        password = st.text_input("Password", type="password", max_chars=1024)
        off_errors.slot("password")
        disabled = st.form_submit_button("Turn off")
    if disabled:
        ok, _ = ui.attempt(auth.disable_totp, errors=off_errors, password=password)
        if ok:
            st.success("Two-step sign-in is off.")
