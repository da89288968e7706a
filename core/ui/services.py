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


def attempt(fn: Callable[..., T], *, errors: FieldErrors | None = None, **kwargs: Any) -> tuple[bool, T | None]:
    """Call a service and show a refusal in plain words; returns (succeeded, result)."""
    try:
        return True, call(fn, **kwargs)
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
