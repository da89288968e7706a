"""How errors reach a person: next to the field, or a short message with an error id. Never a traceback."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy.exc import DBAPIError, OperationalError

from core.errors import ValidationError

log = logging.getLogger("synapse.ui")


class FieldErrors:
    """Reserve a slot under each field while the form is drawn; fill the slots when the service refuses."""

    def __init__(self) -> None:
        self._slots: dict[str, object] = {}

    def slot(self, field: str) -> None:
        self._slots[field] = st.empty()

    def show(self, exc: ValidationError) -> None:
        unplaced = []
        for field, message in exc.fields.items():
            slot = self._slots.get(field)
            if slot is not None:
                slot.error(message)  # type: ignore[attr-defined]
            else:
                unplaced.append(message)
        st.error(exc.message + (" " + " ".join(unplaced) if unplaced else ""))


def show_unexpected(exc: BaseException) -> str:
    error_id = secrets.token_hex(4).upper()
    # Logged with its id for the administrator; messages from drivers may quote values, so no PHI
    # reaches the browser, only the id.
    log.error("unexpected error %s", error_id, exc_info=exc)
    if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        st.error(f"The database did not answer. Nothing was half-saved; please retry in a moment. (error id {error_id})")
    else:
        st.error(f"Something went wrong and it was logged (error id {error_id}). Please retry, or tell your administrator this id.")
    return error_id


@contextmanager
def unexpected_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - st.stop/st.rerun are BaseException and pass through
        show_unexpected(exc)
