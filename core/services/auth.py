"""Sign-in, server-side sessions, sign-out, password changes, second factor, reset codes.

A session token is 256 random bits held only by the signed-in tab (in Streamlit's server-side session
state, never in a cookie or page script); the database keeps its SHA-256, so a copied table cannot be
replayed. Every rerun re-checks the token against idle and absolute timeouts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import pyotp
from sqlalchemy import delete, select
from sqlmodel import Session

from core.config import get_settings
from core.errors import AuthenticationFailed, SessionExpired, ValidationError
from core.models import LoginThrottle, User, UserSession
from core.models.base import utcnow
from core.security.crypto import blind_index, is_undecryptable
from core.security.passwords import (
    burn_verify_time,
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from core.security.rbac import Actor, Permission, Role, require
from core.services import audit
from core.validation import is_clean

WRONG_CREDENTIALS = "Wrong username or password."
# Sessions are touched at most this often, so a rerun costs one read, not a write.
TOUCH_INTERVAL = dt.timedelta(seconds=30)
MAX_LOCK = dt.timedelta(hours=1)
FIRST_LOCK = dt.timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class LoginResult:
    """A failed sign-in is an outcome, not an exception: its audit row and counters must commit."""

    token: str | None = None
    actor: Actor | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.token is not None


def _throttle_key(username: str) -> str:
    return blind_index("login", username.strip().casefold())


def _wait(until: dt.datetime, now: dt.datetime) -> str:
    minutes = max(1, int((until - now).total_seconds() // 60) + (1 if (until - now).total_seconds() % 60 else 0))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _lock_message(until: dt.datetime, now: dt.datetime) -> str:
    return f"Too many failed sign-ins. This account is locked; try again in {_wait(until, now)}."


def _check_lock(session: Session, key: str, now: dt.datetime) -> LoginThrottle | None:
    throttle = session.get(LoginThrottle, key)
    if throttle and throttle.locked_until and throttle.locked_until > now:
        return throttle
    return None


def _register_failure(session: Session, key: str, now: dt.datetime, threshold: int | None = None) -> LoginThrottle:
    settings = get_settings()
    threshold = threshold or settings.lockout_threshold
    throttle = session.get(LoginThrottle, key)
    window = dt.timedelta(minutes=settings.lockout_window_minutes)
    if throttle is None:
        throttle = LoginThrottle(username_key=key, failures=0, window_started_at=now, lockouts=0)
    elif now - throttle.window_started_at > window and (
            throttle.locked_until is None or throttle.locked_until <= now - window):
        # A quiet window after the last lock: start counting afresh.
        throttle.failures, throttle.lockouts, throttle.window_started_at, throttle.locked_until = 0, 0, now, None
    throttle.failures += 1
    if throttle.failures >= threshold:
        # Growing delay: 1, 2, 4, ... minutes, at most an hour, for each further failure.
        throttle.lockouts += 1
        throttle.locked_until = now + min(FIRST_LOCK * (2 ** (throttle.lockouts - 1)), MAX_LOCK)
    session.add(throttle)
    return throttle


def _clear_failures(session: Session, key: str) -> None:
    session.exec(delete(LoginThrottle).where(LoginThrottle.username_key == key))


def actor_for(user: User, session_id=None) -> Actor:  # type: ignore[no-untyped-def]
    return Actor(user_id=user.id, username=user.username, role=Role(user.role), full_name=user.full_name, session_id=session_id)


def _start_session(session: Session, user: User, client: str, now: dt.datetime) -> tuple[str, UserSession]:
    settings = get_settings()
    token = secrets.token_urlsafe(32)
    row = UserSession(
        user_id=user.id, token_hash=hash_token(token), client=client[:40], created_at=now, last_seen_at=now,
        expires_at=now + dt.timedelta(hours=settings.session_absolute_hours),
    )
    session.add(row)
    session.flush()
    return token, row


def _client_key(address: object) -> str | None:
    if not isinstance(address, str) or not address.strip() or not is_clean(address) or len(address) > 100:
        return None
    return blind_index("login_client", address.strip().lower())


def login(*, session: Session, username: object, password: object, totp_code: object = None,
          client: str = "browser", client_address: object = None) -> LoginResult:
    """Sign in. Failures are counted per username (5 in 15 minutes lock it) and per client address (20 lock
    the address), so neither guessing one account's password nor trying one password on many accounts
    gets far; both are checked before the password."""
    now = utcnow()
    if not isinstance(username, str) or not isinstance(password, str) or not username.strip() or not password:
        return LoginResult(error="Enter your username and password.")
    if len(username) > 40 or len(password) > 1024 or not is_clean(username) or not is_clean(password):
        burn_verify_time("x")
        return LoginResult(error=WRONG_CREDENTIALS)
    client_key = _client_key(client_address)
    client_locked = _check_lock(session, client_key, now) if client_key else None
    if client_locked is not None:
        audit.record(session, actor=None, action="auth.login", outcome="locked", details={"reason": "client_locked"})
        return LoginResult(error="Too many failed sign-ins from this device or network; try again in "
                                 f"{_wait(client_locked.locked_until, now)}.")  # type: ignore[arg-type]
    key = _throttle_key(username)
    locked = _check_lock(session, key, now)
    if locked is not None:
        # Checked before the password: a correct password during lockout does not sign in.
        audit.record(session, actor=None, action="auth.login", outcome="locked", username=None,
                     details={"reason": "locked"})
        return LoginResult(error=_lock_message(locked.locked_until, now))  # type: ignore[arg-type]

    user = session.exec(select(User).where(User.username == username.strip().lower())).scalars().first()
    if user is None or not user.is_active:
        burn_verify_time(password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password)

    error = WRONG_CREDENTIALS
    if ok and user is not None and user.totp_enabled:
        code = totp_code.strip().replace(" ", "") if is_clean(totp_code) else ""
        secret = user.totp_secret
        if not code:
            ok, error = False, "Enter the 6-digit code from your authenticator app."
        elif is_undecryptable(secret) or not secret or not pyotp.TOTP(secret).verify(code, valid_window=1):
            ok, error = False, "The authenticator code is wrong or has expired."
    if ok and user is not None and user.role == Role.ADMIN and get_settings().require_admin_totp and not user.totp_enabled:
        audit.record(session, actor=actor_for(user), action="auth.login", outcome="denied",
                     details={"reason": "admin_totp_required"})
        return LoginResult(error="Administrators must use an authenticator app here. "
                                 "Run `synapse user totp USERNAME` on the server to set it up.")

    if not ok or user is None:
        if client_key:
            _register_failure(session, client_key, now, get_settings().client_lockout_threshold)
        throttle = _register_failure(session, key, now)
        audit.record(session, actor=actor_for(user) if user else None, action="auth.login", outcome="failure",
                     entity="user", entity_id=user.id if user else None, details={"failures": throttle.failures})
        if throttle.locked_until and throttle.locked_until > now:
            audit.record(session, actor=actor_for(user) if user else None, action="auth.lockout", outcome="locked",
                         entity="user", entity_id=user.id if user else None,
                         details={"until": throttle.locked_until.isoformat()})
            return LoginResult(error=_lock_message(throttle.locked_until, now))
        return LoginResult(error=error)

    _clear_failures(session, key)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    session.add(user)
    token, row = _start_session(session, user, client, now)
    actor = actor_for(user, row.id)
    audit.record(session, actor=actor, action="auth.login", entity="user", entity_id=user.id, details={"client": row.client})
    return LoginResult(token=token, actor=actor)


@dataclass(frozen=True)
class SessionCheck:
    """The outcome of re-checking a token: an actor, or why the session ended (committed, audited)."""

    actor: Actor | None = None
    ended: str | None = None

    @property
    def message(self) -> str:
        if self.ended in ("idle_timeout", "absolute_timeout"):
            return "Your session timed out. Please sign in again."
        return SessionExpired().message

    def require(self) -> Actor:
        if self.actor is None:
            raise SessionExpired(self.message)
        return self.actor


def authenticate(*, session: Session, token: object) -> SessionCheck:
    """Check a session token on every rerun; an idle, too old or orphaned session is deleted here."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return SessionCheck(ended="unknown")
    now = utcnow()
    row = session.exec(select(UserSession).where(UserSession.token_hash == hash_token(token))).scalars().first()
    if row is None:
        return SessionCheck(ended="unknown")
    idle = dt.timedelta(minutes=get_settings().session_idle_minutes)
    user = session.get(User, row.user_id)
    reason = None
    if row.expires_at <= now:
        reason = "absolute_timeout"
    elif row.last_seen_at + idle <= now:
        reason = "idle_timeout"
    elif user is None or not user.is_active:
        reason = "account_inactive"
    if reason:
        session.delete(row)
        audit.record(session, actor=actor_for(user) if user else None, action="auth.session_end",
                     entity="user_session", entity_id=row.id, details={"reason": reason})
        return SessionCheck(ended=reason)
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
        session.add(row)
    return SessionCheck(actor=actor_for(user, row.id))  # type: ignore[arg-type]


def logout(*, session: Session, token: object) -> bool:
    if not isinstance(token, str) or not token:
        return False
    row = session.exec(select(UserSession).where(UserSession.token_hash == hash_token(token))).scalars().first()
    if row is None:
        return False
    user = session.get(User, row.user_id)
    session.delete(row)
    audit.record(session, actor=actor_for(user) if user else None, action="auth.logout", entity="user_session", entity_id=row.id)
    return True


def revoke_sessions(session: Session, user_id, except_session_id=None) -> int:  # type: ignore[no-untyped-def]
    query = delete(UserSession).where(UserSession.user_id == user_id)
    if except_session_id is not None:
        query = query.where(UserSession.id != except_session_id)
    return session.exec(query).rowcount or 0


def _current_user(session: Session, actor: Actor) -> User:
    user = session.get(User, actor.user_id) if actor.user_id else None
    if user is None or not user.is_active:
        raise SessionExpired()
    return user


def change_password(*, session: Session, actor: Actor, current_password: object, new_password: object, confirm_password: object) -> None:
    require(actor, Permission.OWN_ACCOUNT)
    user = _current_user(session, actor)
    if not isinstance(current_password, str) or not verify_password(user.password_hash, current_password):
        audit.record(session, actor=actor, action="auth.password_change", outcome="failure", entity="user", entity_id=user.id)
        raise ValidationError({"current_password": "The current password is wrong."})
    problems = password_problems(new_password, user.username)  # type: ignore[arg-type]
    if problems:
        raise ValidationError({"new_password": " ".join(problems)})
    if new_password != confirm_password:
        raise ValidationError({"confirm_password": "The two new passwords differ."})
    if verify_password(user.password_hash, new_password):  # type: ignore[arg-type]
        raise ValidationError({"new_password": "Choose a password different from the current one."})
    user.password_hash = hash_password(new_password)  # type: ignore[arg-type]
    user.password_changed_at = user.updated_at = utcnow()
    user.must_change_password = False
    session.add(user)
    ended = revoke_sessions(session, user.id, except_session_id=actor.session_id)
    audit.record(session, actor=actor, action="auth.password_change", entity="user", entity_id=user.id,
                 details={"other_sessions_ended": ended})


@dataclass(frozen=True)
class TotpEnrollment:
    secret: str
    uri: str


def begin_totp_enrollment(*, session: Session, actor: Actor, issuer: str = "Synapse") -> TotpEnrollment:
    """A new secret, not active until confirm_totp sees a valid code from it."""
    require(actor, Permission.OWN_ACCOUNT)
    user = _current_user(session, actor)
    if user.totp_enabled:
        raise ValidationError({"totp": "Two-step sign-in is already on. Turn it off first to change the app."})
    secret = pyotp.random_base32()
    user.totp_secret = secret
    session.add(user)
    audit.record(session, actor=actor, action="auth.totp_begin", entity="user", entity_id=user.id)
    return TotpEnrollment(secret=secret, uri=pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=issuer))


def confirm_totp(*, session: Session, actor: Actor, code: object) -> None:
    require(actor, Permission.OWN_ACCOUNT)
    user = _current_user(session, actor)
    secret = user.totp_secret
    if not secret or is_undecryptable(secret):
        raise ValidationError({"code": "Start the set-up again: no pending authenticator secret."})
    if not is_clean(code) or not pyotp.TOTP(secret).verify(code.strip().replace(" ", ""), valid_window=1):  # type: ignore[union-attr]
        raise ValidationError({"code": "That code is not right. Check the time on your phone and try again."})
    user.totp_enabled = True
    user.updated_at = utcnow()
    session.add(user)
    audit.record(session, actor=actor, action="auth.totp_enable", entity="user", entity_id=user.id)


def disable_totp(*, session: Session, actor: Actor, password: object) -> None:
    require(actor, Permission.OWN_ACCOUNT)
    user = _current_user(session, actor)
    if not isinstance(password, str) or not verify_password(user.password_hash, password):
        raise ValidationError({"password": "The password is wrong."})
    if user.role == Role.ADMIN and get_settings().require_admin_totp:
        raise ValidationError({"password": "Administrators must keep two-step sign-in on in this clinic."})
    user.totp_enabled, user.totp_secret = False, None
    session.add(user)
    audit.record(session, actor=actor, action="auth.totp_disable", entity="user", entity_id=user.id)


def redeem_reset_code(*, session: Session, username: object, code: object, new_password: object, confirm_password: object) -> str | None:
    """Set a new password with a one-time code from an admin; throttled like sign-in.

    Returns None on success, else the message to show (an outcome, so failures and counters commit)."""
    now = utcnow()
    if not isinstance(username, str) or not isinstance(code, str) or not username.strip() or not code.strip():
        return "Enter your username and the reset code."
    if len(username) > 40 or len(code) > 100 or not is_clean(username) or not is_clean(code):
        return "The username or reset code is wrong or has expired."
    key = _throttle_key(username)
    locked = _check_lock(session, key, now)
    if locked is not None:
        return _lock_message(locked.locked_until, now)  # type: ignore[arg-type]
    user = session.exec(select(User).where(User.username == username.strip().lower())).scalars().first()
    valid = (
        user is not None and user.is_active and user.reset_code_hash is not None
        and user.reset_code_expires_at is not None and user.reset_code_expires_at > now
        and verify_password(user.reset_code_hash, code.strip())
    )
    if not valid:
        if user is None or user.reset_code_hash is None:
            burn_verify_time(code)
        _register_failure(session, key, now)
        audit.record(session, actor=actor_for(user) if user else None, action="auth.reset_redeem", outcome="failure")
        return "The username or reset code is wrong or has expired."
    assert user is not None
    problems = password_problems(new_password, user.username)  # type: ignore[arg-type]
    if problems:
        return " ".join(problems)
    if new_password != confirm_password:
        return "The two new passwords differ."
    user.password_hash = hash_password(new_password)  # type: ignore[arg-type]
    user.reset_code_hash = user.reset_code_expires_at = None
    user.password_changed_at = user.updated_at = now
    user.must_change_password = False
    session.add(user)
    revoke_sessions(session, user.id)
    _clear_failures(session, key)
    audit.record(session, actor=actor_for(user), action="auth.reset_redeem", entity="user", entity_id=user.id)
    return None


def sessions_of(session: Session, user_id) -> list[UserSession]:  # type: ignore[no-untyped-def]
    return list(session.exec(select(UserSession).where(UserSession.user_id == user_id)).scalars())
