"""Pages call services through here: one unit of work per call, the signed-in actor passed in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from core.db import unit_of_work
from core.errors import DomainError, SessionExpired, ValidationError
from core.ui.auth import ACTOR_KEY, current_actor, forget_session
from core.ui.errors import FieldErrors

T = TypeVar("T")


def call(fn: Callable[..., T], **kwargs: Any) -> T:
    # The page checked the session at its top (current_actor); this run's actor is in session state.
    actor = st.session_state.get(ACTOR_KEY) or current_actor()
    with unit_of_work() as session:
        return fn(session=session, actor=actor, **kwargs)


def attempt(fn: Callable[..., T], *, errors: FieldErrors | None = None,
            passthrough: tuple[type[Exception], ...] = (), **kwargs: Any) -> tuple[bool, T | None]:
    """Call a service and show a refusal in plain words; returns (succeeded, result). Errors of the
    `passthrough` types are raised for the page to handle itself."""
    try:
        return True, call(fn, **kwargs)
    except passthrough:
        raise
    except SessionExpired as exc:
        forget_session(exc.message)
        st.rerun()
    except ValidationError as exc:
        if errors is not None:
            errors.show(exc)
        else:
            st.error(exc.message + " " + " ".join(exc.fields.values()))
    except DomainError as exc:
        st.error(exc.message)
    return False, None


OPEN_PATIENT_KEY = "_synapse_open_patient"


def open_patient(patient_id: str) -> None:
    """Go to the patient record page for this patient (the id stays on the server, not in the URL)."""
    from core.ui.navigation import PAGES_DIR

    st.session_state[OPEN_PATIENT_KEY] = str(patient_id)
    st.switch_page(PAGES_DIR / "patient.py")
