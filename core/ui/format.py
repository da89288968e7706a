"""Display helpers: times in the clinic's zone, the placeholder for features still to come."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from core.config import get_settings


def fmt_datetime(value: dt.datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(get_settings().zone).strftime("%d %b %Y, %H:%M")


def coming_soon(title: str, what: str, items: list[str]) -> None:
    st.title(title)
    st.info(f"**Coming soon.** {what}")
    for item in items:
        st.markdown(f"- {item}")
