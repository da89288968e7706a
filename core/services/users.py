"""Staff accounts, administered by admins (and by the server's command line)."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlmodel import Session

from core.errors import Conflict, NotFound, ValidationError
from core.models import User, UserProfile, UserSession
from core.models.base import utcnow
from core.security.passwords import hash_password, password_problems
from core.security.rbac import Actor, Permission, Role, require
from core.services import audit
from core.services.auth import revoke_sessions
from core.validation import FieldProblem, clean_text, normalise_username, parse_input

RESET_CODE_HOURS = 72


class UserCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    username: str = Field(max_length=40)
    full_name: str = Field(max_length=120)
    role: Role
    password: str | None = Field(default=None, max_length=256)


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    registration_number: str | None = Field(default=None, max_length=60)
    qualification: str | None = Field(default=None, max_length=200)
    specialty: str | None = Field(default=None, max_length=120)
    signature_line: str | None = Field(default=None, max_length=200)


class UserPublic(BaseModel):
    id: uuid.UUID
    username: str
    full_name: str
    role: Role
    is_active: bool
    totp_enabled: bool
    last_login_at: dt.datetime | None
    created_at: dt.datetime
    active_sessions: int = 0
    registration_number: str | None = None
    qualification: str | None = None
    specialty: str | None = None
    signature_line: str | None = None


class CreatedUser(BaseModel):
    user: UserPublic
    setup_code: str | None = None  # shown once when no password was given


def _public(session: Session, user: User) -> UserPublic:
    profile = session.get(UserProfile, user.id)
    count = session.exec(select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id)).scalar_one()
    return UserPublic(
        id=user.id, username=user.username, full_name=user.full_name, role=Role(user.role), is_active=user.is_active,
        totp_enabled=user.totp_enabled, last_login_at=user.last_login_at, created_at=user.created_at,
        active_sessions=count,
        **(ProfileUpdate.model_validate(profile, from_attributes=True).model_dump() if profile else {}),
    )


def _issue_code(user: User, now: dt.datetime) -> str:
    code = "-".join(secrets.token_hex(3).upper() for _ in range(3))
    user.reset_code_hash = hash_password(code)
    user.reset_code_expires_at = now + dt.timedelta(hours=RESET_CODE_HOURS)
    return code


def _create(session: Session, actor: Actor | None, data: object) -> CreatedUser:
    payload = parse_input(UserCreate, data)
    errors: dict[str, str] = {}
    try:
        username = normalise_username(payload.username)
    except FieldProblem as exc:
        errors["username"], username = str(exc), ""
    try:
        full_name = clean_text(payload.full_name, field="full name", max_length=120)
    except FieldProblem as exc:
        errors["full_name"], full_name = str(exc), ""
    if payload.password is not None:
        problems = password_problems(payload.password, username)
        if problems:
            errors["password"] = " ".join(problems)
    if username and session.exec(select(User.id).where(User.username == username)).first():
        errors["username"] = "This username is taken."
    if errors:
        raise ValidationError(errors)
    now = utcnow()
    user = User(username=username, full_name=full_name or username, role=payload.role.value,
                password_hash=hash_password(payload.password or secrets.token_urlsafe(32)),
                must_change_password=payload.password is None, created_at=now, updated_at=now)
    code = _issue_code(user, now) if payload.password is None else None
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="user.create", entity="user", entity_id=user.id,
                 details={"role": user.role, "setup_code": code is not None})
    return CreatedUser(user=_public(session, user), setup_code=code)


def create_user(*, session: Session, actor: Actor, data: object) -> CreatedUser:
    """Without a password, the result carries a one-time set-up code (valid 72 hours) for the new user."""
    require(actor, Permission.USER_MANAGE)
    return _create(session, actor, data)


def admin_exists(*, session: Session) -> bool:
    return session.exec(select(User.id).where(User.role == Role.ADMIN.value, User.is_active.is_(True))).first() is not None


def create_first_admin(*, session: Session, actor: Actor, data: object) -> CreatedUser:
    """Bootstrap (synapse init): allowed only from the server's command line and only while no admin exists."""
    require(actor, Permission.USER_MANAGE)
    if not actor.is_system:
        raise Conflict("The first administrator is created with `synapse init` on the server.")
    if admin_exists(session=session):
        raise Conflict("An administrator already exists.")
    payload = parse_input(UserCreate, data)
    if payload.role != Role.ADMIN:
        raise ValidationError({"role": "The first account must be an administrator."})
    return _create(session, actor, payload)


def list_users(*, session: Session, actor: Actor, include_inactive: bool = True) -> list[UserPublic]:
    require(actor, Permission.USER_MANAGE)
    query = select(User).order_by(User.role, User.username)
    if not include_inactive:
        query = query.where(User.is_active.is_(True))
    return [_public(session, u) for u in session.exec(query).scalars()]


def list_doctors(*, session: Session, actor: Actor) -> list[tuple[uuid.UUID, str]]:
    """Active doctors by name, for choosing whom a patient is assigned to (no PHI)."""
    require(actor, Permission.OWN_ACCOUNT)
    rows = session.exec(
        select(User.id, User.full_name).where(User.role == Role.DOCTOR.value, User.is_active.is_(True)).order_by(User.full_name)
    ).all()
    return [(r[0], r[1]) for r in rows]


def _get(session: Session, user_id: object) -> User:
    try:
        key = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
    except ValueError as exc:
        raise NotFound("No such user.") from exc
    user = session.get(User, key)
    if user is None:
        raise NotFound("No such user.")
    return user


def _find(session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username.strip().lower())).scalars().first()
    if user is None:
        raise NotFound(f"No user named {username.strip().lower()!r}.")
    return user


def get_user_by_username(*, session: Session, actor: Actor, username: str) -> UserPublic:
    require(actor, Permission.USER_MANAGE)
    return _public(session, _find(session, username))


def _other_active_admins(session: Session, user: User) -> int:
    return session.exec(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN.value, User.is_active.is_(True), User.id != user.id)
    ).scalar_one()


def set_role(*, session: Session, actor: Actor, user_id: object, role: object) -> UserPublic:
    require(actor, Permission.USER_MANAGE)
    user = _get(session, user_id)
    try:
        new_role = Role(role)
    except ValueError as exc:
        raise ValidationError({"role": "Choose one of: admin, doctor, receptionist, manager."}) from exc
    if user.role == Role.ADMIN.value and new_role != Role.ADMIN and _other_active_admins(session, user) == 0:
        raise Conflict("This is the last active administrator; make someone else an administrator first.")
    old = user.role
    user.role, user.updated_at = new_role.value, utcnow()
    session.add(user)
    # A role change takes effect now: the user's open sessions carry the old role.
    ended = revoke_sessions(session, user.id)
    audit.record(session, actor=actor, action="user.role_change", entity="user", entity_id=user.id,
                 details={"from": old, "to": new_role.value, "sessions_ended": ended})
    return _public(session, user)


def set_active(*, session: Session, actor: Actor, user_id: object, active: bool) -> UserPublic:
    require(actor, Permission.USER_MANAGE)
    if not isinstance(active, bool):
        raise ValidationError({"active": "Say whether the account is active (yes or no)."})
    user = _get(session, user_id)
    if not active:
        if actor.user_id == user.id:
            raise Conflict("You cannot deactivate your own account.")
        if user.role == Role.ADMIN.value and _other_active_admins(session, user) == 0:
            raise Conflict("This is the last active administrator.")
    user.is_active, user.updated_at = bool(active), utcnow()
    session.add(user)
    ended = revoke_sessions(session, user.id) if not active else 0
    audit.record(session, actor=actor, action="user.activate" if active else "user.deactivate", entity="user",
                 entity_id=user.id, details={"sessions_ended": ended})
    return _public(session, user)


def issue_reset_code(*, session: Session, actor: Actor, user_id: object) -> str:
    """A one-time code (shown once, valid 72 hours) the user redeems on the sign-in page."""
    require(actor, Permission.USER_MANAGE)
    user = _get(session, user_id)
    if not user.is_active:
        raise Conflict("Reactivate the account before issuing a reset code.")
    code = _issue_code(user, utcnow())
    session.add(user)
    audit.record(session, actor=actor, action="user.reset_code", entity="user", entity_id=user.id)
    return code


def update_profile(*, session: Session, actor: Actor, user_id: object, data: object) -> UserPublic:
    """Professional details; admins edit anyone's, a user their own."""
    user = _get(session, user_id)
    require(actor, Permission.USER_MANAGE if actor.user_id != user.id else Permission.OWN_ACCOUNT)
    payload = parse_input(ProfileUpdate, data)
    errors: dict[str, str] = {}
    values: dict[str, str | None] = {}
    for name, limit in (("registration_number", 60), ("qualification", 200), ("specialty", 120), ("signature_line", 200)):
        try:
            values[name] = clean_text(getattr(payload, name), field=name.replace("_", " "), max_length=limit, required=False)
        except FieldProblem as exc:
            errors[name] = str(exc)
    if errors:
        raise ValidationError(errors)
    profile = session.get(UserProfile, user.id) or UserProfile(user_id=user.id)
    for name, value in values.items():
        setattr(profile, name, value)
    profile.updated_at = utcnow()
    session.add(profile)
    session.flush()
    audit.record(session, actor=actor, action="user.profile_update", entity="user", entity_id=user.id,
                 details={"fields": sorted(values)})
    return _public(session, user)


def enroll_totp_for(*, session: Session, actor: Actor, username: str) -> tuple[str, str]:
    """CLI: set a user's authenticator secret directly (for admins who must have TOTP before signing in)."""
    import pyotp

    require(actor, Permission.USER_MANAGE)
    if not actor.is_system:
        raise Conflict("Only the server's command line sets another user's authenticator.")
    user = _find(session, username)
    secret = pyotp.random_base32()
    user.totp_secret, user.totp_enabled, user.updated_at = secret, True, utcnow()
    session.add(user)
    audit.record(session, actor=actor, action="user.totp_set", entity="user", entity_id=user.id)
    return secret, pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="Synapse")


def find_user_id(*, session: Session, actor: Actor, username: str) -> uuid.UUID:
    require(actor, Permission.USER_MANAGE)
    return _find(session, username).id
