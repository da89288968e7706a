"""Sign-in cost, and what a signed-in page rerun costs over an empty page's rerun, on SQLite.

(a) argon2id verify_password alone, and the full core.services.auth.login (throttle check, verify,
    session row, audit row) — the verify is the baseline of the login;
(b) AppTest rerun of Home.py with a valid session token (token re-checked, navigation, home page)
    vs the rerun of a one-line script. Target: signed-in rerun <= 1.3x the empty one.

    python -m bench.login_rerun [--size 30]
"""

from __future__ import annotations

import contextlib

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from bench.common import REPO_ROOT, app_environment, cli, median, ratio, timed, verdict
from core import db as core_db
from core.db import unit_of_work
from core.migrate import upgrade
from core.models import User
from core.security.passwords import hash_password, verify_password
from core.security.rbac import system_actor
from core.services import auth, users
from core.ui.auth import TOKEN_KEY

TARGET_RERUN_RATIO = 1.3
USERNAME, FULL_NAME, PASSWORD = "benchdoctor", "Bench Doctor", "bench-Doctor-pass-7"
EMPTY_PAGE = 'import streamlit as st\nst.write("x")\n'


def make_user() -> None:
    with unit_of_work() as session:
        users.create_user(session=session, actor=system_actor("bench"), data={
            "username": USERNAME, "full_name": FULL_NAME, "role": "doctor", "password": PASSWORD})
        assert session.exec(select(User).where(User.username == USERNAME)).scalars().one()


def sign_in() -> auth.LoginResult:
    with unit_of_work() as session:
        result = auth.login(session=session, username=USERNAME, password=PASSWORD, client="bench")
    if not result.ok:
        raise AssertionError(f"sign-in failed: {result.error}")
    return result


def login_samples(size: int) -> tuple[list[float], list[float]]:
    stored = hash_password(PASSWORD)
    verify, login = [], []
    for _ in range(size):
        seconds, ok = timed(verify_password, stored, PASSWORD)
        if ok is not True:
            raise AssertionError("verify_password refused the right password")
        verify.append(seconds)
        login.append(timed(sign_in)[0])
    return verify, login


def shown_title(at: AppTest) -> str:
    if at.exception:
        raise AssertionError(f"the page raised: {[e.message for e in at.exception]}")
    return at.title[0].value if at.title else ""


def rerun_samples(size: int, token: str) -> tuple[list[float], list[float], str]:
    empty = AppTest.from_string(EMPTY_PAGE, default_timeout=60)
    home = AppTest.from_file(str(REPO_ROOT / "Home.py"), default_timeout=60)
    home.session_state[TOKEN_KEY] = token
    empty_times, home_times, titles = [], [], set()
    for warmup in (True,) * 2 + (False,) * size:  # interleaved, so drift affects both alike
        t_empty, _ = timed(empty.run)
        t_home, _ = timed(home.run)
        if empty.markdown[0].value != "x":
            raise AssertionError("the empty page did not render")
        titles.add(shown_title(home))
        if not warmup:
            empty_times.append(t_empty)
            home_times.append(t_home)
    if len(titles) != 1:
        raise AssertionError(f"the signed-in page changed between reruns: {titles}")
    return empty_times, home_times, titles.pop()


def run(size: int = 30) -> dict:
    with app_environment() as tmp, contextlib.chdir(REPO_ROOT):
        engine = core_db.make_engine(f"sqlite:///{tmp / 'synapse.db'}")
        upgrade(engine)
        core_db.use_engine(engine)
        make_user()
        verify, login = login_samples(size)
        empty, home, title = rerun_samples(size, sign_in().token)  # type: ignore[arg-type]
    verify_ms, login_ms = median(verify) * 1e3, median(login) * 1e3
    empty_ms, home_ms = median(empty) * 1e3, median(home) * 1e3
    result = {
        "size": size, "verify_ms": verify_ms, "login_ms": login_ms, "login_ratio": ratio(login_ms, verify_ms),
        "empty_rerun_ms": empty_ms, "home_rerun_ms": home_ms, "rerun_ratio": ratio(home_ms, empty_ms),
        "home_title": title,
    }
    print(report(result))
    return result


def report(r: dict) -> str:
    return "\n".join([
        f"login_rerun: SQLite, {r['size']} repetitions",
        f"  (a) argon2id verify_password (baseline): median {r['verify_ms']:.1f} ms",
        f"      auth.login, full sign-in:            median {r['login_ms']:.1f} ms",
        f"      ratio login/verify: {r['login_ratio']:.2f}x",
        f"  (b) empty page rerun (baseline):           median {r['empty_rerun_ms']:.2f} ms",
        f"      signed-in Home.py rerun ({r['home_title']!r}): median {r['home_rerun_ms']:.2f} ms",
        f"      ratio signed-in/empty: {r['rerun_ratio']:.2f}x   "
        + f"target <= {TARGET_RERUN_RATIO:g}x: {verdict(r['rerun_ratio'] <= TARGET_RERUN_RATIO)}",
    ])


if __name__ == "__main__":
    cli(run, 30, "timed repetitions of each measurement")
