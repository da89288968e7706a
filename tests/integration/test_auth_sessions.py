"""Sign-in, lockout before the password check, server-side sessions and their timeouts, TOTP, reset codes."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from sqlalchemy import func, select, update

from core.db import unit_of_work
from core.errors import SessionExpired, ValidationError
from core.models import AuditEvent, LoginThrottle, User, UserSession
from core.models.base import utcnow
from core.security.rbac import Role, system_actor
from core.services import auth, users
from tests.factories import DEFAULT_PASSWORD, make_user


def _login(username: str, password: str = DEFAULT_PASSWORD, code: str | None = None) -> auth.LoginResult:
    with unit_of_work() as session:
        return auth.login(session=session, username=username, password=password, totp_code=code)


def _authenticate(token: str):
    with unit_of_work() as session:
        check = auth.authenticate(session=session, token=token)
    return check.require()


def _actions(outcome: str | None = None) -> list[str]:
    with unit_of_work() as session:
        query = select(AuditEvent.action).order_by(AuditEvent.seq)
        if outcome:
            query = query.where(AuditEvent.outcome == outcome)
        return list(session.exec(query).scalars())


def test_login_creates_a_server_side_session_storing_only_the_token_hash(database):
    with unit_of_work() as session:
        make_user(session, role=Role.DOCTOR, username="doc")
    result = _login("doc")
    assert result.ok and result.actor.role == Role.DOCTOR
    with unit_of_work() as session:
        row = session.exec(select(UserSession)).scalars().one()
    assert row.token_hash == auth.hash_token(result.token) and result.token not in row.token_hash
    assert _authenticate(result.token).username == "doc"
    assert _actions("success")[-1] == "auth.login"


def test_username_is_case_insensitive_and_unknown_users_get_the_same_message(database):
    with unit_of_work() as session:
        make_user(session, role=Role.DOCTOR, username="doc")
    assert _login("DOC").ok
    assert _login("doc", "wrong-password-123").error == auth.WRONG_CREDENTIALS
    assert _login("ghost", "wrong-password-123").error == auth.WRONG_CREDENTIALS


def test_lockout_engages_before_the_password_is_checked(database):
    with unit_of_work() as session:
        make_user(session, role=Role.DOCTOR, username="doc")
    results = [_login("doc", f"wrong-password-{i}") for i in range(5)]
    assert [r.error for r in results[:4]] == [auth.WRONG_CREDENTIALS] * 4
    assert "locked" in results[4].error
    # The right password during lockout does not sign in, and no session is created.
    during = _login("doc")
    assert not during.ok and "locked" in during.error
    with unit_of_work() as session:
        assert session.exec(select(func.count()).select_from(UserSession)).scalar_one() == 0
    assert "auth.lockout" in _actions("locked") and _actions("locked")[-1] == "auth.login"


def test_lockout_grows_with_each_further_failure_and_clears_on_success(database):
    with unit_of_work() as session:
        make_user(session, role=Role.DOCTOR, username="doc")
    for i in range(5):
        _login("doc", f"wrong-password-{i}")

    def lock_length() -> dt.timedelta:
        with unit_of_work() as session:
            row = session.exec(select(LoginThrottle)).scalars().one()
            return row.locked_until - utcnow()

    first = lock_length()
    assert dt.timedelta(seconds=50) < first <= dt.timedelta(minutes=1)
    # Let the lock lapse (as time would), then fail again: the next lock is twice as long.
    with unit_of_work() as session:
        session.exec(update(LoginThrottle).values(locked_until=utcnow() - dt.timedelta(seconds=1)))
    assert "locked" in _login("doc", "wrong-again-123").error
    second = lock_length()
    assert dt.timedelta(seconds=110) < second <= dt.timedelta(minutes=2)
    with unit_of_work() as session:
        session.exec(update(LoginThrottle).values(locked_until=utcnow() - dt.timedelta(seconds=1)))
    assert _login("doc").ok
    with unit_of_work() as session:
        assert session.exec(select(LoginThrottle)).scalars().all() == []


def test_unknown_usernames_lock_out_too(database):
    for i in range(5):
        result = _login("nobody-here", f"guess-number-{i}")
    assert "locked" in result.error


def test_token_refused_after_logout(database):
    with unit_of_work() as session:
        make_user(session, role=Role.MANAGER, username="boss")
    token = _login("boss").token
    with unit_of_work() as session:
        assert auth.logout(session=session, token=token)
    with pytest.raises(SessionExpired):
        _authenticate(token)
    assert "auth.logout" in _actions()


@pytest.mark.parametrize("column, minutes_ago", [("last_seen_at", 31), ("expires_at", 1)])
def test_token_refused_after_idle_or_absolute_timeout(database, column, minutes_ago):
    with unit_of_work() as session:
        make_user(session, role=Role.MANAGER, username="boss")
    token = _login("boss").token
    with unit_of_work() as session:
        session.exec(update(UserSession).values({column: utcnow() - dt.timedelta(minutes=minutes_ago)}))
    with pytest.raises(SessionExpired) as err:
        _authenticate(token)
    assert "timed out" in err.value.message
    with unit_of_work() as session:
        assert session.exec(select(UserSession)).scalars().all() == []


def test_activity_keeps_a_session_alive(database):
    with unit_of_work() as session:
        make_user(session, role=Role.MANAGER, username="boss")
    token = _login("boss").token
    with unit_of_work() as session:
        session.exec(update(UserSession).values(last_seen_at=utcnow() - dt.timedelta(minutes=29)))
    _authenticate(token)
    with unit_of_work() as session:
        row = session.exec(select(UserSession)).scalars().one()
    assert utcnow() - row.last_seen_at < dt.timedelta(seconds=5)


def test_absolute_expiry_is_twelve_hours_by_default(database):
    with unit_of_work() as session:
        make_user(session, role=Role.MANAGER, username="boss")
    _login("boss")
    with unit_of_work() as session:
        row = session.exec(select(UserSession)).scalars().one()
    assert abs((row.expires_at - row.created_at) - dt.timedelta(hours=12)) < dt.timedelta(seconds=1)


def test_deactivation_and_role_change_end_sessions(database):
    with unit_of_work() as session:
        user = make_user(session, role=Role.RECEPTIONIST, username="desk")
        make_user(session, role=Role.ADMIN, username="root1")
    token = _login("desk").token
    with unit_of_work() as session:
        users.set_role(session=session, actor=system_actor(), user_id=user.id, role="manager")
    with pytest.raises(SessionExpired):
        _authenticate(token)
    token = _login("desk").token
    assert _authenticate(token).role == Role.MANAGER
    with unit_of_work() as session:
        users.set_active(session=session, actor=system_actor(), user_id=user.id, active=False)
    with pytest.raises(SessionExpired):
        _authenticate(token)
    assert _login("desk").error == auth.WRONG_CREDENTIALS


def test_totp_second_factor(database):
    with unit_of_work() as session:
        make_user(session, role=Role.DOCTOR, username="doc")
    first = _login("doc")
    with unit_of_work() as session:
        enrollment = auth.begin_totp_enrollment(session=session, actor=first.actor)
    with pytest.raises(ValidationError):
        with unit_of_work() as session:
            auth.confirm_totp(session=session, actor=first.actor, code="000000")
    with unit_of_work() as session:
        auth.confirm_totp(session=session, actor=first.actor, code=pyotp.TOTP(enrollment.secret).now())
    assert "6-digit code" in _login("doc").error
    assert "wrong" in _login("doc", code="123456").error
    assert _login("doc", code=pyotp.TOTP(enrollment.secret).now()).ok
    with unit_of_work() as session:
        raw = session.exec(select(User)).scalars().one()
    assert raw.totp_enabled


def test_admins_need_totp_when_the_clinic_requires_it(database, monkeypatch):
    from core.config import reset_settings

    with unit_of_work() as session:
        make_user(session, role=Role.ADMIN, username="root1")
    monkeypatch.setenv("SYNAPSE_REQUIRE_ADMIN_TOTP", "true")
    reset_settings()
    try:
        result = _login("root1")
        assert not result.ok and "authenticator" in result.error
        with unit_of_work() as session:
            secret, _ = users.enroll_totp_for(session=session, actor=system_actor(), username="root1")
        assert _login("root1", code=pyotp.TOTP(secret).now()).ok
    finally:
        monkeypatch.delenv("SYNAPSE_REQUIRE_ADMIN_TOTP")
        reset_settings()


def test_reset_code_sets_a_new_password_once(database):
    with unit_of_work() as session:
        user = make_user(session, role=Role.DOCTOR, username="doc")
        code = users.issue_reset_code(session=session, actor=system_actor(), user_id=user.id)
    old_token = _login("doc").token
    new_password = "a-brand-new-passphrase-42"
    with unit_of_work() as session:
        assert auth.redeem_reset_code(session=session, username="doc", code="WRONG-CODE-X",
                                      new_password=new_password, confirm_password=new_password)
    with unit_of_work() as session:
        assert auth.redeem_reset_code(session=session, username="doc", code=code,
                                      new_password=new_password, confirm_password=new_password) is None
    with pytest.raises(SessionExpired):
        _authenticate(old_token)
    assert _login("doc", new_password).ok
    with unit_of_work() as session:  # used up
        assert auth.redeem_reset_code(session=session, username="doc", code=code,
                                      new_password=new_password + "x", confirm_password=new_password + "x")


def test_change_password_checks_policy_and_ends_other_sessions(database):
    with unit_of_work() as session:
        make_user(session, role=Role.DOCTOR, username="doc")
    other = _login("doc").token
    mine = _login("doc")
    with unit_of_work() as session, pytest.raises(ValidationError) as err:
        auth.change_password(session=session, actor=mine.actor, current_password=DEFAULT_PASSWORD,
                             new_password="short", confirm_password="short")
    assert "new_password" in err.value.fields
    with unit_of_work() as session:
        auth.change_password(session=session, actor=mine.actor, current_password=DEFAULT_PASSWORD,
                             new_password="another-good-passphrase", confirm_password="another-good-passphrase")
    with pytest.raises(SessionExpired):
        _authenticate(other)
    assert _authenticate(mine.token).username == "doc"


def test_one_address_trying_many_usernames_is_throttled(database):
    with unit_of_work() as session:
        make_user(session, role=Role.DOCTOR, username="doc")
    for i in range(20):  # spraying: never five failures on one username
        with unit_of_work() as session:
            result = auth.login(session=session, username=f"user{i % 10}", password=f"guess-{i}-password",
                                client_address="203.0.113.7")
        assert result.error == auth.WRONG_CREDENTIALS
    with unit_of_work() as session:  # the right password of another account, from the same address
        blocked = auth.login(session=session, username="doc", password=DEFAULT_PASSWORD, client_address="203.0.113.7")
        elsewhere = auth.login(session=session, username="doc", password=DEFAULT_PASSWORD, client_address="198.51.100.4")
    assert not blocked.ok and "device or network" in blocked.error
    assert elsewhere.ok


def test_failures_are_forgotten_after_a_quiet_window(database):
    with unit_of_work() as session:
        make_user(session, role=Role.DOCTOR, username="doc")
    for i in range(5):
        _login("doc", f"wrong-password-{i}")
    long_ago = utcnow() - dt.timedelta(hours=2)
    with unit_of_work() as session:
        session.exec(update(LoginThrottle).values(window_started_at=long_ago, locked_until=long_ago))
    assert _login("doc", "wrong-again-123").error == auth.WRONG_CREDENTIALS  # counting afresh, not relocked
