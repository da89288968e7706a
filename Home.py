"""Synapse: the entry point. Signs the user in, then shows only the pages their role may use."""

import logging

import streamlit as st

from core import ui
from core.config import ConfigurationError, get_settings

# A local icon: a ":material/..." page icon makes every browser fetch it from Google's font servers.
st.set_page_config(page_title="Synapse", page_icon=str(ui.ASSETS / "favicon.png"), layout="wide")
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

try:
    settings = get_settings()
except ConfigurationError as exc:
    st.error(f"Synapse cannot start: {exc}")
    st.stop()

with ui.unexpected_errors():
    actor = ui.signed_in_actor()
    if actor is None:
        ui.sign_in_navigation(ui.login_view).run()
        st.stop()

    page = ui.navigation_for(actor)
    with st.sidebar:
        st.caption(settings.clinic_name)
        st.write(f"**{actor.full_name}**  \n{actor.role.value.title()}")
        if st.button("Sign out", icon=":material/logout:", width="stretch"):
            ui.sign_out()
    page.run()
