"""Bad input to every service of the foundation gives a clear domain error naming the field, and writes nothing.

Each refusal runs in its own unit of work, as a page's call does, and the database is compared before and
after. SQL and HTML fragments that are valid values are stored verbatim and read back identical: escaping
is the driver's and the page's job, not validation's.

Cases are grouped in loops (one world of users per test) to keep the file fast on both databases; each bug
this file found has its own test, named after the input that used to break the service.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import pyotp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from core.db import unit_of_work
from core.errors import Conflict, DomainError, NotFound, ValidationError
from core.models import AuditEvent, Counter, EmergencyAccess, LoginThrottle, Patient, User, UserProfile, UserSession
from core.security.rbac import Actor, Role
from core.services import access, audit, auth, patients, users
from core.validation import clean_text
from tests.factories import DEFAULT_PASSWORD, make_actor, make_patient

SQL = "' OR 1=1 --"
HTML = "<script>alert(1)</script>"
HUGE = "x" * 10_000
FRAGMENT_NAMES = ["Robert'); DROP TABLE patients;--", "<b>x</b>", HTML + " Rao", "O'Brien \"Bob\" D'Souza",
                  "Asha' OR '1'='1", "Ravi; DELETE FROM users WHERE '1'='1"]
LONE_SURROGATE = "caf\xe9".encode("latin-1").decode("utf-8", "surrogateescape")  # invalid UTF-8, as Python reads it
HYPO = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NO_NUL_TEXT = st.text(max_size=60)  # NUL included: it must be refused like any control character


# --- the world and what "nothing was written" means ------------------------------------------------

_under_test = False  # True while a service call under test runs: the world must not grow inside it


@contextmanager
def _service_call() -> Iterator[None]:
    global _under_test
    _under_test = True
    try:
        yield
    finally:
        _under_test = False


class World:
    """Accounts and a patient, each made on first use (an account costs an argon2 hash, so only what a test
    touches is made). Touch what a test needs before the call under test."""

    def __init__(self) -> None:
        self._made: dict[str, Any] = {}

    def _get(self, key: str, make: Callable[[Any], Any]) -> Any:
        if key not in self._made:
            assert not _under_test, f"touch world.{key} before the call under test"
            with unit_of_work() as session:
                self._made[key] = make(session)
        return self._made[key]

    @property
    def admin(self) -> Actor:
        return self._get("admin", lambda s: make_actor(s, role=Role.ADMIN, username="boss"))

    @property
    def desk(self) -> Actor:
        return self._get("desk", lambda s: make_actor(s, role=Role.RECEPTIONIST, username="desk"))

    @property
    def doctor(self) -> Actor:
        return self._get("doctor", lambda s: make_actor(s, role=Role.DOCTOR, username="doc"))

    @property
    def patient_id(self) -> uuid.UUID:
        desk = self.desk
        return self._get("patient", lambda s: make_patient(
            s, actor=desk, full_name="Asha Rao", phone="+91 98765 43210", email="asha.rao@example.org").id)


@pytest.fixture
def world(database) -> World:  # noqa: ARG001 - the database is installed as the process's engine
    return World()


def snapshot() -> dict[str, Any]:
    """Row counts, the MRN counter and every account's security state: what a bad call must not change."""
    def count(model, *where):  # type: ignore[no-untyped-def]
        return select(func.count()).select_from(model).where(*where).scalar_subquery()

    counts = {
        "users": count(User),
        "profiles": count(UserProfile),
        "sessions": count(UserSession),
        "throttles": count(LoginThrottle),
        "patients": count(Patient),
        "emergency_access": count(EmergencyAccess),
        # Refusals are audited on purpose; what must not appear is a successful action.
        "audit": count(AuditEvent, AuditEvent.outcome == "success"),
        "audit creates": count(AuditEvent, AuditEvent.action.like("%.create")),
        "mrn": select(func.coalesce(func.max(Counter.value), 0)).where(Counter.name == "mrn").scalar_subquery(),
    }
    with unit_of_work() as session:
        row = session.exec(select(*(c.label(k.replace(" ", "_")) for k, c in counts.items()))).one()
        return {
            **dict(zip(counts, row, strict=True)),
            "accounts": sorted(
                (u.username, u.role, u.is_active, u.password_hash, u.reset_code_hash, u.totp_enabled, u.full_name)
                for u in session.exec(select(User)).scalars()
            ),
            "profile rows": sorted(
                (str(p.user_id), p.registration_number, p.qualification, p.specialty, p.signature_line)
                for p in session.exec(select(UserProfile)).scalars()
            ),
        }


def _plain(message: str) -> None:
    assert isinstance(message, str) and message.strip()
    for internal in ("Traceback", "sqlalchemy", "psycopg", "sqlite", "SELECT ", "Error:"):
        assert internal not in message, message


def refused(call: Callable[[Any], Any], error: type[DomainError] = ValidationError, *, field: str | None = None,
            case: object = "") -> DomainError:
    """Run `call(session)` in its own unit of work; it must raise `error` (naming `field`) and write nothing."""
    before = snapshot()
    try:
        with _service_call(), unit_of_work() as session:
            call(session)
    except error as exc:
        caught = exc
    except Exception as exc:  # noqa: BLE001 - the point: nothing but the domain error may escape
        pytest.fail(f"{case!r}: expected {error.__name__}, got {type(exc).__name__}: {exc}")
    else:
        pytest.fail(f"{case!r}: expected {error.__name__}, the call succeeded")
    _plain(caught.message)
    if field is not None:
        assert isinstance(caught, ValidationError)
        assert field in caught.fields, f"{case!r}: {caught.fields} does not name {field!r}"
        for message in caught.fields.values():
            _plain(message)
    assert snapshot() == before, f"{case!r}: something was written"
    return caught



# --- users.create_user ------------------------------------------------------------------------------

NEW_USER = {"username": "newdoc", "full_name": "New Doctor", "role": "doctor", "password": "long-enough-Secret-7"}

CREATE_USER_CASES = [
    ({"username": ""}, "username"), ({"username": "   "}, "username"), ({"username": None}, "username"),
    ({"username": 12}, "username"), ({"username": ["newdoc"]}, "username"), ({"username": HUGE}, "username"),
    ({"username": "ab"}, "username"), ({"username": SQL}, "username"), ({"username": HTML}, "username"),
    ({"username": "new\x00doc"}, "username"), ({"username": "new doc"}, "username"),
    ({"username": "doc"}, "username"), ({"username": " DOC "}, "username"),  # taken, whatever the case
    ({"username": "new" + LONE_SURROGATE}, "username"),
    ({"full_name": ""}, "full_name"), ({"full_name": "  \t "}, "full_name"), ({"full_name": None}, "full_name"),
    ({"full_name": 5}, "full_name"), ({"full_name": {"first": "A"}}, "full_name"), ({"full_name": "x" * 121}, "full_name"),
    ({"full_name": HUGE}, "full_name"), ({"full_name": "Ann\x00Lee"}, "full_name"), ({"full_name": "Ann\nLee"}, "full_name"),
    ({"full_name": "Ann\x1bLee"}, "full_name"), ({"full_name": "Ann " + LONE_SURROGATE}, "full_name"),
    ({"role": "superuser"}, "role"), ({"role": None}, "role"), ({"role": 1}, "role"), ({"role": SQL}, "role"),
    ({"role": ""}, "role"),
    ({"password": "short"}, "password"), ({"password": HUGE}, "password"), ({"password": 123456789012345}, "password"),
    ({"password": "x-newdoc-long-enough"}, "password"), ({"password": "x-NEWDOC-long-enough"}, "password"),
    ({"password": "aaaaaaaaaaaaaaaa"}, "password"), ({"password": ""}, "password"),
    ({"password": "long-enough-" + LONE_SURROGATE}, "password"),
]


def test_create_user_refuses_bad_fields(world):
    admin, _ = world.admin, world.doctor  # "doc" exists, so that username is taken
    for override, field in CREATE_USER_CASES:
        refused(lambda s, o=override: users.create_user(session=s, actor=admin, data={**NEW_USER, **o}),
                field=field, case=override)


def test_create_user_refuses_what_is_not_a_complete_form(world):
    admin = world.admin
    for data in [None, [], "username=newdoc", 42, ("newdoc", "New Doctor"), {"username": "x"}, {}]:
        error = refused(lambda s, d=data: users.create_user(session=s, actor=admin, data=d), case=data)
        expected = {"form"} if not isinstance(data, dict) else {"full_name", "role"}
        assert expected <= set(error.fields), (data, error.fields)


def test_create_user_stores_sql_and_html_names_verbatim(world):
    admin, _ = world.admin, world.patient_id
    for i, name in enumerate([*FRAGMENT_NAMES[:4], SQL]):
        with unit_of_work() as session:  # no password: no argon2 hash of a password, only of the set-up code
            created = users.create_user(session=session, actor=admin,
                                        data={"username": f"frag{i}", "full_name": name, "role": "receptionist"})
        assert created.user.full_name == name
        with unit_of_work() as session:
            assert users.get_user_by_username(session=session, actor=admin, username=f"frag{i}").full_name == name
            assert session.exec(select(User.full_name).where(User.username == f"frag{i}")).scalar_one() == name
    with unit_of_work() as session:
        assert session.exec(select(func.count()).select_from(Patient)).scalar_one() == 1  # nothing was dropped
        assert session.exec(select(func.count()).select_from(User)).scalar_one() == 2 + 5


# --- users.set_role, set_active, issue_reset_code, update_profile -------------------------------------

BAD_IDS = [None, "", "not-a-uuid", 12, 12.5, uuid.uuid4(), str(uuid.uuid4()), SQL, HTML, HUGE, b"\xff\xfe", [], {},
           "doc", "P-000001", str(uuid.uuid4()) + "\x00"]


def test_user_services_refuse_unknown_ids_with_not_found(world):
    admin = world.admin
    calls = {
        "set_role": lambda s, i: users.set_role(session=s, actor=admin, user_id=i, role="manager"),
        "set_active": lambda s, i: users.set_active(session=s, actor=admin, user_id=i, active=False),
        "issue_reset_code": lambda s, i: users.issue_reset_code(session=s, actor=admin, user_id=i),
        "update_profile": lambda s, i: users.update_profile(session=s, actor=admin, user_id=i,
                                                            data={"specialty": "Psychiatry"}),
    }
    for name, fn in calls.items():
        for bad in BAD_IDS:
            refused(lambda s, f=fn, b=bad: f(s, b), NotFound, case=(name, bad))


def test_set_role_refuses_bad_roles(world):
    admin, doctor = world.admin, world.doctor
    for role in [None, "", "root", "DOCTOR ", 3, ["doctor"], {"role": "admin"}, SQL, HTML, HUGE, "admin\x00"]:
        error = refused(lambda s, r=role: users.set_role(session=s, actor=admin, user_id=doctor.user_id, role=r),
                        field="role", case=role)
        assert "doctor" in error.fields["role"]
    with unit_of_work() as session:
        assert not session.exec(select(AuditEvent).where(AuditEvent.action == "user.role_change")).first()


def test_set_active_refuses_a_flag_that_is_not_a_bool(world):
    admin, doctor = world.admin, world.doctor
    for flag in ["false", "no", "", 0, None]:
        refused(lambda s, f=flag: users.set_active(session=s, actor=admin, user_id=doctor.user_id, active=f),
                field="active", case=flag)


PROFILE_CASES = [
    ({"registration_number": "x" * 61}, "registration_number"), ({"registration_number": 12345}, "registration_number"),
    ({"registration_number": "MMC\x00123"}, "registration_number"), ({"qualification": HUGE}, "qualification"),
    ({"qualification": ["MBBS"]}, "qualification"), ({"specialty": "x" * 121}, "specialty"),
    ({"specialty": "Psy\nchiatry"}, "specialty"), ({"specialty": "Psy" + LONE_SURROGATE}, "specialty"),
    ({"signature_line": "x" * 201}, "signature_line"), ({"signature_line": "Dr\x07 Rao"}, "signature_line"),
    ({"signature_line": True}, "signature_line"),
]


def test_update_profile_refuses_bad_fields(world):
    admin, doctor = world.admin, world.doctor
    for data, field in PROFILE_CASES:
        refused(lambda s, d=data: users.update_profile(session=s, actor=admin, user_id=doctor.user_id, data=d),
                field=field, case=data)
    for data in [None, "specialty=x", [("specialty", "x")], 3]:
        refused(lambda s, d=data: users.update_profile(session=s, actor=doctor, user_id=doctor.user_id, data=d),
                field="form", case=data)


def test_update_profile_stores_sql_and_html_verbatim(world):
    admin, doctor = world.admin, world.doctor
    values = {"registration_number": "MMC/2020'--", "qualification": HTML, "specialty": "<b>x</b>",
              "signature_line": "Robert'); DROP TABLE user_profiles;--"}
    with unit_of_work() as session:
        users.update_profile(session=session, actor=doctor, user_id=doctor.user_id, data=values)
    with unit_of_work() as session:
        shown = users.get_user_by_username(session=session, actor=admin, username="doc")
        row = session.get(UserProfile, doctor.user_id)
    assert {k: getattr(shown, k) for k in values} == values
    assert {k: getattr(row, k) for k in values} == values


# --- auth.login ------------------------------------------------------------------------------------

WRONG_TYPES = [(None, "x"), ("doc", None), (None, None), (1, 2), (["doc"], [DEFAULT_PASSWORD]), ({"u": 1}, {}),
               (b"doc", b"pw"), ("", ""), ("   ", DEFAULT_PASSWORD), ("doc", "")]
LOGIN_CASES = [
    (HUGE, DEFAULT_PASSWORD), ("doc", HUGE), (HUGE, HUGE), ("doc", "pass\x00word"), ("doc", DEFAULT_PASSWORD + "\x00"),
    (SQL, SQL), ("doc' --", "x"), ("doc", SQL), ("' OR '1'='1", "' OR '1'='1"), (HTML, HTML), ("<b>doc</b>", "<b>x</b>"),
    ("doc", "doc"), ("doc", DEFAULT_PASSWORD.upper()), ("admin\"; --", "x"), ("doc", "%"), ("%", "%"), ("doc_", "_"),
]


def _login_refused(username: object, password: object, **kwargs: Any) -> auth.LoginResult:
    before = snapshot()
    try:
        with _service_call(), unit_of_work() as session:
            result = auth.login(session=session, username=username, password=password, **kwargs)
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"login({username!r:.40}, {password!r:.40}) raised {type(exc).__name__}: {exc}")
    assert isinstance(result, auth.LoginResult)
    assert not result.ok and result.token is None and result.actor is None, (username, password)
    _plain(result.error or "")
    after = snapshot()
    # A failed sign-in writes only its audit row and throttle counter: no session, no account change.
    for key in ("users", "sessions", "patients", "accounts", "audit creates"):
        assert after[key] == before[key], (key, username, password)
    return result


def test_login_returns_an_error_for_bad_input_and_never_raises(world):
    _ = world.doctor
    for username, password in WRONG_TYPES:
        before = snapshot()
        assert _login_refused(username, password).error == "Enter your username and password."
        assert snapshot() == before  # not even an audit row or a throttle counter
    for username, password in LOGIN_CASES:
        with unit_of_work() as session:
            session.exec(delete(LoginThrottle))  # so every case reaches the password check, not the lock
        assert _login_refused(username, password).error == auth.WRONG_CREDENTIALS, (username, password)


def _enable_totp(actor: Actor) -> None:
    with unit_of_work() as session:
        enrollment = auth.begin_totp_enrollment(session=session, actor=actor)
    with unit_of_work() as session:
        auth.confirm_totp(session=session, actor=actor, code=pyotp.TOTP(enrollment.secret).now())


def test_login_with_a_second_factor_refuses_bad_codes(world):
    _enable_totp(world.doctor)
    for code in [None, 123456, "", "      ", "abcdef", SQL, HTML, "1" * 10_000, "١٢٣٤٥٦", "12\x003456", ["123456"]]:
        with unit_of_work() as session:
            session.exec(delete(LoginThrottle))
        result = _login_refused("doc", DEFAULT_PASSWORD, totp_code=code)
        assert "authenticator" in (result.error or ""), (code, result.error)


@given(username=st.one_of(st.none(), st.integers(), NO_NUL_TEXT, st.binary(max_size=10)),
       password=st.one_of(st.none(), st.integers(), NO_NUL_TEXT, st.sampled_from([SQL, HTML, HUGE])))
@HYPO
def test_login_never_raises_for_arbitrary_input(database, username, password):
    _login_refused(username, password)


def test_login_with_text_that_is_not_valid_unicode(world):
    _enable_totp(world.doctor)
    for username, password, code in [("nobody", "secret-" + LONE_SURROGATE, None),
                                     ("doc" + LONE_SURROGATE, DEFAULT_PASSWORD, None),
                                     ("doc", DEFAULT_PASSWORD, "12" + LONE_SURROGATE)]:
        with unit_of_work() as session:
            session.exec(delete(LoginThrottle))
        _login_refused(username, password, totp_code=code)


def test_login_with_a_nul_in_the_username(request, database, world):
    _ = world.doctor
    assert _login_refused("doc\x00", DEFAULT_PASSWORD).error == auth.WRONG_CREDENTIALS


# --- auth.redeem_reset_code -------------------------------------------------------------------------

def _redeem(username: object, code: object, new: object = "brand-New-passw0rd", confirm: object = "__same__") -> str:
    before = snapshot()
    try:
        with _service_call(), unit_of_work() as session:
            message = auth.redeem_reset_code(session=session, username=username, code=code, new_password=new,
                                             confirm_password=new if confirm == "__same__" else confirm)
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"redeem_reset_code({username!r:.40}, {code!r:.40}) raised {type(exc).__name__}: {exc}")
    assert isinstance(message, str), (username, code, new, confirm)
    _plain(message)
    after = snapshot()
    for key in ("users", "sessions", "accounts", "audit creates"):  # password and reset code unchanged
        assert after[key] == before[key], (key, username, code)
    return message


def _reset_code(world: World) -> str:
    admin, desk = world.admin, world.desk
    with unit_of_work() as session:
        return users.issue_reset_code(session=session, actor=admin, user_id=desk.user_id)


def test_redeem_reset_code_returns_an_error_for_bad_input(world):
    code, _ = _reset_code(world), world.doctor
    for username, typed in [(None, code), ("desk", None), (1, 2), ("", ""), ("desk", "   "), (HUGE, code),
                            ("desk", HUGE), ("desk", SQL), (SQL, code), (HTML, HTML), ("desk", code + "\x00"),
                            ("doc", code), ("desk", code.lower() + "0"), ("desk", "%"), ([], {})]:
        with unit_of_work() as session:
            session.exec(delete(LoginThrottle))
        _redeem(username, typed)
    # The right code with an unacceptable new password: refused, and the code still works afterwards.
    for new, confirm, words in [(None, None, "Enter a password"), ("short", "short", "12 characters"),
                                (123456789012345, 123456789012345, "Enter a password"),
                                ("desk-is-my-name-9", "desk-is-my-name-9", "username"), (HUGE, HUGE, "at most"),
                                ("brand-New-passw0rd", "brand-New-passw0rd!", "differ"),
                                ("brand-New-passw0rd", None, "differ")]:
        assert words in _redeem(" DESK ", code, new, confirm), (new, confirm)
    with unit_of_work() as session:
        assert auth.redeem_reset_code(session=session, username="desk", code=code,
                                      new_password="brand-New-passw0rd", confirm_password="brand-New-passw0rd") is None


def test_redeem_reset_code_with_text_that_is_not_valid_unicode(world):
    _reset_code(world)
    for username, code in [("desk", LONE_SURROGATE), ("nobody", "AB-" + LONE_SURROGATE), ("de" + LONE_SURROGATE, "ABC")]:
        _redeem(username, code)


def test_redeem_reset_code_with_a_nul_in_the_username(request, database, world):
    _redeem("desk\x00", _reset_code(world))


# --- auth.change_password ---------------------------------------------------------------------------

GOOD_NEW = "brand-New-passw0rd"
CHANGE_PASSWORD_CASES = [
    ((None, GOOD_NEW, GOOD_NEW), "current_password"), ((12345678, GOOD_NEW, GOOD_NEW), "current_password"),
    (("", GOOD_NEW, GOOD_NEW), "current_password"), (("wrong-password-1", GOOD_NEW, GOOD_NEW), "current_password"),
    ((HUGE, GOOD_NEW, GOOD_NEW), "current_password"), ((SQL, GOOD_NEW, GOOD_NEW), "current_password"),
    ((DEFAULT_PASSWORD + "\x00", GOOD_NEW, GOOD_NEW), "current_password"),
    ((DEFAULT_PASSWORD, None, None), "new_password"),
    ((DEFAULT_PASSWORD, 123456789012345, 123456789012345), "new_password"),
    ((DEFAULT_PASSWORD, "", ""), "new_password"), ((DEFAULT_PASSWORD, "short", "short"), "new_password"),
    ((DEFAULT_PASSWORD, HUGE, HUGE), "new_password"),
    ((DEFAULT_PASSWORD, "my-name-is-DESK-1", "my-name-is-DESK-1"), "new_password"),
    ((DEFAULT_PASSWORD, DEFAULT_PASSWORD, DEFAULT_PASSWORD), "new_password"),
    ((DEFAULT_PASSWORD, GOOD_NEW, GOOD_NEW + " "), "confirm_password"), ((DEFAULT_PASSWORD, GOOD_NEW, None), "confirm_password"),
    ((DEFAULT_PASSWORD, GOOD_NEW, [GOOD_NEW]), "confirm_password"),
]


def test_change_password_refuses_bad_input(world):
    desk = world.desk
    for (current, new, confirm), field in CHANGE_PASSWORD_CASES:
        refused(lambda s, c=current, n=new, f=confirm: auth.change_password(
            session=s, actor=desk, current_password=c, new_password=n, confirm_password=f),
            field=field, case=(current, new, confirm))
    new = "Robert'); DROP TABLE users;-- <b>x</b>"  # a valid password, however it looks
    with unit_of_work() as session:
        auth.change_password(session=session, actor=desk, current_password=DEFAULT_PASSWORD, new_password=new,
                             confirm_password=new)
    with unit_of_work() as session:
        assert auth.login(session=session, username="desk", password=new).ok
        assert session.exec(select(func.count()).select_from(User)).scalar_one() == 1


def test_change_password_with_text_that_is_not_valid_unicode(world):
    desk = world.desk
    for current, new, field in [(LONE_SURROGATE, GOOD_NEW, "current_password"),
                                (DEFAULT_PASSWORD, GOOD_NEW + LONE_SURROGATE, "new_password")]:
        refused(lambda s, c=current, n=new: auth.change_password(session=s, actor=desk, current_password=c,
                                                                 new_password=n, confirm_password=n), field=field)


def test_change_password_with_a_wrong_current_password_is_audited(world):
    desk = world.desk
    with pytest.raises(ValidationError), unit_of_work() as session:
        auth.change_password(session=session, actor=desk, current_password="wrong-password-1",
                             new_password=GOOD_NEW, confirm_password=GOOD_NEW)
    with unit_of_work() as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "auth.password_change",
                                                     AuditEvent.outcome == "failure")).first() is not None


# --- auth.confirm_totp ------------------------------------------------------------------------------

BAD_CODES = [None, 123456, "", "   ", "abcdef", "12345", "1234567", SQL, HTML, HUGE, "١٢٣٤٥٦", "12\x003456",
             ["123456"], {"code": "123456"}, b"123456", 12.0]


def test_confirm_totp_refuses_bad_codes(world):
    doctor = world.doctor
    for code in [None, "123456", HUGE]:  # nothing pending yet
        refused(lambda s, c=code: auth.confirm_totp(session=s, actor=doctor, code=c), field="code", case=code)
    with unit_of_work() as session:
        auth.begin_totp_enrollment(session=session, actor=doctor)
    for code in BAD_CODES:
        refused(lambda s, c=code: auth.confirm_totp(session=s, actor=doctor, code=c), field="code", case=code)
    with unit_of_work() as session:
        assert not session.get(User, doctor.user_id).totp_enabled


def test_confirm_totp_with_a_code_that_is_not_valid_unicode(world):
    doctor = world.doctor
    with unit_of_work() as session:
        auth.begin_totp_enrollment(session=session, actor=doctor)
    refused(lambda s: auth.confirm_totp(session=s, actor=doctor, code="12" + LONE_SURROGATE), field="code")


# --- patients.register_patient ---------------------------------------------------------------------

NEW_PATIENT = {"full_name": "Meera Iyer", "date_of_birth": "1985-03-02", "sex": "female", "phone": "+91 91234 56789",
               "email": "meera@example.org", "address": "12 MG Road\nPune", "preferred_language": "Marathi"}


def _in_two_days() -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).date().isoformat()


def register_cases(desk: Actor) -> list[tuple[dict, str]]:
    return [
        ({"full_name": ""}, "full_name"), ({"full_name": "   "}, "full_name"), ({"full_name": None}, "full_name"),
        ({"full_name": 42}, "full_name"), ({"full_name": ["Meera"]}, "full_name"), ({"full_name": "x" * 201}, "full_name"),
        ({"full_name": HUGE}, "full_name"), ({"full_name": "Meera\x00Iyer"}, "full_name"),
        ({"full_name": "Meera\nIyer"}, "full_name"), ({"full_name": "A"}, "full_name"), ({"full_name": "<>"}, "full_name"),
        ({"full_name": "!!!"}, "full_name"), ({"full_name": "Meera " + LONE_SURROGATE}, "full_name"),
        ({"date_of_birth": "not a date"}, "date_of_birth"), ({"date_of_birth": "2020-02-30"}, "date_of_birth"),
        ({"date_of_birth": _in_two_days()}, "date_of_birth"), ({"date_of_birth": "1800-01-01"}, "date_of_birth"),
        ({"date_of_birth": SQL}, "date_of_birth"), ({"date_of_birth": [1985, 3, 2]}, "date_of_birth"),
        ({"age_years": 40}, "age_years"),  # together with the date of birth
        ({"date_of_birth": None, "age_years": -1}, "age_years"), ({"date_of_birth": None, "age_years": 121}, "age_years"),
        ({"date_of_birth": None, "age_years": 10**30}, "age_years"), ({"date_of_birth": None, "age_years": "ten"}, "age_years"),
        ({"date_of_birth": None, "age_years": 3.5}, "age_years"),
        ({"sex": "other"}, "sex"), ({"sex": SQL}, "sex"), ({"sex": 1}, "sex"), ({"sex": ""}, "sex"),
        ({"phone": "12345"}, "phone"), ({"phone": SQL}, "phone"), ({"phone": HTML}, "phone"), ({"phone": "9" * 41}, "phone"),
        ({"phone": 9876543210}, "phone"), ({"phone": "+1 555 0100"}, "phone"), ({"phone": "98765" + LONE_SURROGATE}, "phone"),
        ({"email": "not-an-email"}, "email"), ({"email": "a@b"}, "email"), ({"email": HTML + "@example.org"}, "email"),
        ({"email": "x" * 250 + "@x.org"}, "email"), ({"email": 5}, "email"), ({"email": "a\x00@example.org"}, "email"),
        ({"email": SQL + "@example.org"}, "email"),
        ({"address": "x" * 501}, "address"), ({"address": "12 MG\x00 Road"}, "address"), ({"address": 12}, "address"),
        ({"preferred_language": "x" * 21}, "preferred_language"), ({"preferred_language": "en\nhi"}, "preferred_language"),
        ({"preferred_language": 7}, "preferred_language"),
        ({"assigned_doctor_id": "not-a-uuid"}, "assigned_doctor_id"),
        ({"assigned_doctor_id": str(uuid.uuid4())}, "assigned_doctor_id"),
        ({"assigned_doctor_id": str(desk.user_id)}, "assigned_doctor_id"), ({"assigned_doctor_id": SQL}, "assigned_doctor_id"),
        ({"assigned_doctor_id": 12}, "assigned_doctor_id"),
        ({"consent_recording": True, "consent_date": _in_two_days()}, "consent_date"),
        ({"consent_recording": True, "consent_date": "yesterday"}, "consent_date"),
        ({"consent_recording": "maybe"}, "consent_recording"), ({"consent_recording": [True]}, "consent_recording"),
    ]


def test_register_patient_refuses_bad_fields(world):
    desk, _ = world.desk, world.patient_id
    for override, field in register_cases(desk):
        refused(lambda s, o=override: patients.register_patient(session=s, actor=desk, data={**NEW_PATIENT, **o}),
                field=field, case=override)


def test_register_patient_refuses_what_is_not_a_form_and_names_every_bad_field(world):
    desk = world.desk
    for data in [None, [], "full_name=Meera", 42, ("Meera", "1985-03-02"), {}]:
        error = refused(lambda s, d=data: patients.register_patient(session=s, actor=desk, data=d), case=data)
        assert set(error.fields) == ({"full_name"} if data == {} else {"form"}), (data, error.fields)
    error = refused(lambda s: patients.register_patient(session=s, actor=desk, data={
        "full_name": "", "phone": "12", "email": "nope", "date_of_birth": _in_two_days()}))
    assert set(error.fields) == {"full_name", "phone", "email", "date_of_birth"}


def test_register_patient_stores_sql_and_html_verbatim(world):
    desk = world.desk
    address = "<img src=x onerror=alert(1)>\n'; DELETE FROM patients; --"
    names = [*FRAGMENT_NAMES, SQL]
    with unit_of_work() as session:
        created = [patients.register_patient(session=session, actor=desk, data={
            "full_name": name, "date_of_birth": "1990-01-01", "address": address, "email": "o'brien+x@example.org",
            "preferred_language": "Hindi"}) for name in names]
    assert [p.full_name for p in created] == names
    with unit_of_work() as session:
        for shown, name in zip(created, names, strict=True):
            back = patients.get_patient(session=session, actor=desk, patient_id=shown.id)
            assert (back.full_name, back.address, back.email) == (name, address, "o'brien+x@example.org")
        page = patients.list_patients(session=session, actor=desk, page_size=100)
        assert page.total == len(names) and {r.full_name for r in page.rows} == set(names)
        found = patients.find_patients(session=session, actor=desk, query="O'Brien+X@example.org")
        assert {r.id for r in found} == {p.id for p in created}
        assert session.exec(select(func.count()).select_from(User)).scalar_one() == 1


PATIENT_FIELDS = set(patients.PatientCreate.model_fields)


@given(data=st.fixed_dictionaries({}, optional={
    "full_name": st.one_of(NO_NUL_TEXT, st.sampled_from(FRAGMENT_NAMES), st.integers()),
    "date_of_birth": st.one_of(st.dates().map(str), NO_NUL_TEXT, st.none()),
    "age_years": st.one_of(st.integers(-5, 200), st.none()),
    "sex": st.sampled_from(["female", "male", "unknown", "x", "", None]),
    "phone": st.one_of(st.from_regex(r"(\+91)?[ -]?[6-9][0-9]{4}[ -]?[0-9]{5}", fullmatch=True), NO_NUL_TEXT),
    "email": st.one_of(st.emails(), NO_NUL_TEXT),
    "address": st.one_of(NO_NUL_TEXT, st.text(max_size=600)),
    "preferred_language": st.one_of(NO_NUL_TEXT, st.sampled_from(["Hindi", "Marathi", "English"])),
    "consent_recording": st.one_of(st.booleans(), NO_NUL_TEXT),
}))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_register_patient_gives_a_patient_or_per_field_errors(world, data):
    desk = world.desk
    with unit_of_work() as session:
        before = session.exec(select(func.count()).select_from(Patient)).scalar_one()
    try:
        with _service_call(), unit_of_work() as session:
            shown = patients.register_patient(session=session, actor=desk, data=data)
    except (ValidationError, Conflict) as exc:  # Conflict: a likely duplicate of an earlier example
        _plain(exc.message)
        if isinstance(exc, ValidationError):
            assert exc.fields and set(exc.fields) <= PATIENT_FIELDS | {"form"}, exc.fields
            for message in exc.fields.values():
                _plain(message)
        with unit_of_work() as session:
            assert session.exec(select(func.count()).select_from(Patient)).scalar_one() == before
        return
    with unit_of_work() as session:
        back = patients.get_patient(session=session, actor=desk, patient_id=shown.id)
        assert session.exec(select(func.count()).select_from(Patient)).scalar_one() == before + 1
    assert back.full_name == shown.full_name == clean_text(data["full_name"], field="name", max_length=200)
    assert (back.address, back.email, back.phone) == (shown.address, shown.email, shown.phone)


# --- patients.find_patients, list_patients, get_patient --------------------------------------------

def test_find_patients_refuses_bad_queries_and_sql_matches_nothing(world):
    desk, patient_id = world.desk, world.patient_id
    for query in [None, 5, "", "   ", ["P-000001"], "x" * 255, HUGE, SQL, HTML, "not a number", "a@b", "%", "_",
                  "%@%", "'; DROP TABLE patients; --", "9" * 41, "1 OR 1=1"]:
        refused(lambda s, q=query: patients.find_patients(session=s, actor=desk, query=q), field="query", case=query)
    for query in ["P-000001' OR '1'='1", "P-%", "P-_00001", "p-000001; DROP TABLE patients", "x' OR 1=1 --@example.org",
                  "asha.rao@example.org' --", "P-" + HTML, "P-\x00", "P-000001\x00", "98765\x0043210",
                  "asha\x00@example.org", "as\x00ha"]:
        try:
            with unit_of_work() as session:
                found = patients.find_patients(session=session, actor=desk, query=query)
        except ValidationError as exc:
            assert list(exc.fields) == ["query"], query
            continue
        assert found == [], query
    with unit_of_work() as session:
        assert [r.id for r in patients.find_patients(session=session, actor=desk, query="P-000001")] == [patient_id]
        assert session.exec(select(func.count()).select_from(Patient)).scalar_one() == 1


@given(query=NO_NUL_TEXT)
@HYPO
def test_find_patients_gives_rows_or_a_query_error(world, query):
    desk, patient_id = world.desk, world.patient_id
    try:
        with _service_call(), unit_of_work() as session:
            rows = patients.find_patients(session=session, actor=desk, query=query)
    except ValidationError as exc:
        assert list(exc.fields) == ["query"]
        return
    assert all(r.id == patient_id for r in rows)


def test_list_patients_refuses_bad_pages_and_sorts(world):
    desk, _ = world.desk, world.patient_id
    for page in [0, -1, "1", None, 1.5, SQL, [1]]:
        refused(lambda s, p=page: patients.list_patients(session=s, actor=desk, page=p), field="page", case=page)
    for size in [0, 10, -25, "25", None, 1000, 10**9, HUGE]:
        refused(lambda s, z=size: patients.list_patients(session=s, actor=desk, page_size=z), field="page_size", case=size)
    for sort in ["mrn; DROP TABLE patients", "", None, "MRN", 1, SQL]:
        refused(lambda s, o=sort: patients.list_patients(session=s, actor=desk, sort=o), field="sort", case=sort)
    with unit_of_work() as session:
        beyond = patients.list_patients(session=session, actor=desk, page=10_000)
    assert beyond.rows == [] and beyond.total == 1


def test_list_patients_with_an_absurd_page_number(world):
    desk = world.desk
    try:
        with unit_of_work() as session:
            result = patients.list_patients(session=session, actor=desk, page=10**20)
    except ValidationError as exc:
        assert "page" in exc.fields
    else:
        assert result.rows == []


def test_get_patient_refuses_bad_ids_with_not_found(world):
    desk, doctor, patient_id = world.desk, world.doctor, world.patient_id
    for bad in [*BAD_IDS, 2**128, -1, doctor.user_id, str(patient_id)[:-1], str(patient_id) + "0"]:
        refused(lambda s, b=bad: patients.get_patient(session=s, actor=desk, patient_id=b), NotFound, case=bad)
    with unit_of_work() as session:  # the id in any of uuid's spellings is fine
        for spelling in (patient_id, str(patient_id).upper(), "{%s}" % patient_id, patient_id.hex):
            assert patients.get_patient(session=session, actor=desk, patient_id=spelling).id == patient_id


# --- access.grant_emergency_access ------------------------------------------------------------------

REASON = "Patient unconscious in casualty; need history."


def test_grant_emergency_access_refuses_bad_reasons_and_ids(world):
    doctor, patient_id = world.doctor, world.patient_id
    for reason in [None, "", "   ", 42, ["x" * 20], "too short", "x" * 14, "  " + "x" * 14 + "  ", "x" * 501, HUGE,
                   "because\x00 reasons long enough", "\x1b[2J and more words to pass"]:
        refused(lambda s, r=reason: access.grant_emergency_access(session=s, actor=doctor, patient_id=patient_id, reason=r),
                field="reason", case=reason)
    for bad in BAD_IDS:
        refused(lambda s, b=bad: access.grant_emergency_access(session=s, actor=doctor, patient_id=b, reason=REASON),
                NotFound, case=bad)
    reason = "Robert'); DROP TABLE emergency_access;-- <b>urgent</b>\nsecond line"  # valid, kept verbatim
    with unit_of_work() as session:
        grant = access.grant_emergency_access(session=session, actor=doctor, patient_id=patient_id, reason=reason)
    with unit_of_work() as session:
        assert session.get(EmergencyAccess, grant.id).reason == reason
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "emergency_access.grant")).scalars().one()
        assert event.reason == reason
        assert audit.verify_chain(session).ok


def test_grant_emergency_access_with_a_reason_that_is_not_valid_unicode(world):
    doctor, patient_id = world.doctor, world.patient_id
    refused(lambda s: access.grant_emergency_access(session=s, actor=doctor, patient_id=patient_id,
                                                    reason=REASON + LONE_SURROGATE), field="reason")


# --- audit.list_events ------------------------------------------------------------------------------

def _events(admin: Actor, **kwargs: Any):  # type: ignore[no-untyped-def]
    kwargs.setdefault("filters", audit.AuditFilter())
    with unit_of_work() as session:
        return audit.list_events(session=session, actor=admin, **kwargs)


def test_list_events_refuses_bad_sort_limit_and_dates(world):
    admin = world.admin
    everything = audit.AuditFilter()
    for sort in ["bogus", "", None, "seq; DROP TABLE audit_log", SQL, "SEQ", "at desc", 1]:
        refused(lambda s, o=sort: audit.list_events(session=s, actor=admin, filters=everything, sort=o),
                field="sort", case=sort)
    for limit in [0, -1, 1001, 10**9, -(10**20)]:
        refused(lambda s, n=limit: audit.list_events(session=s, actor=admin, filters=everything, limit=n),
                field="limit", case=limit)
    backwards = audit.AuditFilter(date_from=dt.date(2026, 5, 2), date_to=dt.date(2026, 5, 1))
    refused(lambda s: audit.list_events(session=s, actor=admin, filters=backwards), field="date_to")
    refused(lambda s: audit.export_csv(session=s, actor=admin, filters=backwards), field="date_to")
    total = _events(admin)[1]
    assert total > 0
    for flt in [audit.AuditFilter(username=SQL), audit.AuditFilter(username="boss' OR '1'='1"),
                audit.AuditFilter(entity=HTML), audit.AuditFilter(entity_id="' OR ''='"),
                audit.AuditFilter(outcome="success' --"), audit.AuditFilter(action="user.create' OR 1=1 --")]:
        assert _events(admin, filters=flt) == ([], 0), flt
    assert _events(admin)[1] == total


def test_list_events_refuses_wrong_types_for_limit_and_offset(world):
    admin = world.admin
    for kwargs, field in [({"limit": "10"}, "limit"), ({"limit": None}, "limit"), ({"offset": None}, "offset"),
                          ({"offset": "0"}, "offset")]:
        refused(lambda s, k=kwargs: audit.list_events(session=s, actor=admin, filters=audit.AuditFilter(), **k),
                field=field, case=kwargs)


def test_list_events_negative_offset_names_the_offset(world):
    admin = world.admin
    refused(lambda s: audit.list_events(session=s, actor=admin, filters=audit.AuditFilter(), offset=-1), field="offset")


def test_list_events_with_an_absurd_offset(world):
    try:
        rows, _ = _events(world.admin, offset=10**20)
    except ValidationError as exc:
        assert "offset" in exc.fields
    else:
        assert rows == []


def test_list_events_with_extreme_dates(world):
    admin = world.admin
    for flt, zone in [(audit.AuditFilter(date_to=dt.date.max), dt.timezone.utc),
                      (audit.AuditFilter(date_from=dt.date.min), ZoneInfo("Asia/Kolkata"))]:
        try:
            rows, _ = _events(admin, filters=flt, zone=zone)
        except ValidationError as exc:
            assert {"date_from", "date_to"} & set(exc.fields)
        else:
            assert isinstance(rows, list)


def test_list_events_action_filter_treats_wildcards_literally(world):
    assert _events(world.admin, filters=audit.AuditFilter(action="%")) == ([], 0)


def test_list_events_with_a_nul_in_a_filter(request, database, world):
    with unit_of_work() as session, pytest.raises(ValidationError) as err:
        audit.list_events(session=session, actor=world.admin, filters=audit.AuditFilter(username="boss\x00"))
    assert list(err.value.fields) == ["username"]
