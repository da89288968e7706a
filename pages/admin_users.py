"""Users: create staff accounts, change roles, deactivate, issue reset codes, professional details."""

import streamlit as st

from core import ui
from core.services import users

ui.current_actor()
st.title("Users")

ok, people = ui.attempt(users.list_users)
if ok and people:
    st.dataframe(
        [{"Username": u.username, "Name": u.full_name, "Role": u.role.value, "Active": u.is_active,
          "Two-step": u.totp_enabled, "Signed in now": u.active_sessions, "Last sign-in": ui.fmt_datetime(u.last_login_at)}
         for u in people],
        hide_index=True, width="stretch",
    )

st.subheader("Add a user")
errors = ui.FieldErrors()
with st.form("add_user", clear_on_submit=False):
    username = st.text_input("Username", max_chars=40, help="3–40 lower-case letters, digits, . _ -")
    errors.slot("username")
    full_name = st.text_input("Full name", max_chars=120)
    errors.slot("full_name")
    role = st.selectbox("Role", ["doctor", "receptionist", "manager", "admin"])
    errors.slot("role")
    password = st.text_input("Password (leave empty to give a one-time set-up code instead)", type="password", max_chars=256)
    errors.slot("password")
    added = st.form_submit_button("Add user", type="primary")
if added:
    ok, created = ui.attempt(users.create_user, errors=errors, data={
        "username": username, "full_name": full_name, "role": role, "password": password or None})
    if ok and created:
        st.success(f"{created.user.username} added as {created.user.role.value}.")
        if created.setup_code:
            st.warning(f"One-time set-up code, shown only now (valid 72 hours): **{created.setup_code}**. "
                       "The user enters it under 'Have a reset code?' on the sign-in page.")

if ok and people:
    st.subheader("Change a user")
    chosen = st.selectbox("User", people, format_func=lambda u: f"{u.username} — {u.full_name} ({u.role.value})")
    col_role, col_state, col_code = st.columns(3)
    with col_role:
        new_role = st.selectbox("New role", ["admin", "doctor", "receptionist", "manager"],
                                index=["admin", "doctor", "receptionist", "manager"].index(chosen.role.value))
        if st.button("Change role"):
            if ui.attempt(users.set_role, user_id=chosen.id, role=new_role)[0]:
                st.success(f"{chosen.username} is now {new_role}; their sessions were ended.")
    with col_state:
        label = "Deactivate" if chosen.is_active else "Reactivate"
        if st.button(label):
            if ui.attempt(users.set_active, user_id=chosen.id, active=not chosen.is_active)[0]:
                st.success(f"{chosen.username} {'deactivated' if chosen.is_active else 'reactivated'}.")
    with col_code:
        if st.button("Issue reset code"):
            ok_code, code = ui.attempt(users.issue_reset_code, user_id=chosen.id)
            if ok_code:
                st.warning(f"Reset code for {chosen.username}, shown only now (valid 72 hours): **{code}**")

    with st.form("profile"):
        st.write("Professional details (printed on signed reports)")
        p_errors = ui.FieldErrors()
        reg = st.text_input("Registration number", value=chosen.registration_number or "", max_chars=60)
        p_errors.slot("registration_number")
        qual = st.text_input("Qualification", value=chosen.qualification or "", max_chars=200)
        p_errors.slot("qualification")
        spec = st.text_input("Specialty", value=chosen.specialty or "", max_chars=120)
        p_errors.slot("specialty")
        sig = st.text_input("Signature line", value=chosen.signature_line or "", max_chars=200)
        p_errors.slot("signature_line")
        if st.form_submit_button("Save details"):
            if ui.attempt(users.update_profile, errors=p_errors, user_id=chosen.id, data={
                    "registration_number": reg, "qualification": qual, "specialty": spec, "signature_line": sig})[0]:
                st.success("Saved.")
