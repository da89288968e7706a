"""Property tests of what people type: core.validation and the password policy.

Every validator either returns a value of the promised shape or raises FieldProblem with a readable
message; nothing else escapes. argon2 hashing is deliberately kept out of these loops (it is slow).
"""

from __future__ import annotations

import datetime as dt
import string
import unicodedata

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from core.errors import ValidationError
from core.security.passwords import MAX_LENGTH, MIN_LENGTH, common_passwords, password_problems
from core.services.patients import PatientCreate
from core.services.users import ProfileUpdate, UserCreate
from core.validation import (
    is_clean,
    USERNAME_RE,
    FieldProblem,
    check_past_date,
    clean_text,
    normalise_email,
    normalise_name,
    normalise_phone,
    normalise_username,
    parse_input,
)

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Anything a form, a CSV cell or a careless caller might hand over.
ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(), st.binary(max_size=20),
    st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.dates(), st.datetimes(),
)
C0_AND_DEL = {chr(c) for c in range(0x20)} | {"\x7f"}
FRAGMENTS = ["' OR 1=1 --", "Robert'); DROP TABLE patients;--", "<script>alert(1)</script>", "<b>x</b>",
             "\"; SELECT * FROM users; --", "%00", "${jndi:ldap://x}", "{{7*7}}"]


def _readable(message: str) -> None:
    """A message a receptionist can read: a sentence, no repr of internals, no traceback text."""
    assert isinstance(message, str) and message.strip(), message
    assert message[0].isupper() and message.rstrip()[-1] in ".?!:", message
    for internal in ("Traceback", "Error(", "<class", "None", "0x"):
        assert internal not in message, message


# --- clean_text --------------------------------------------------------------------------------------

@FAST
@given(value=st.text(), max_length=st.integers(1, 60), required=st.booleans(), multiline=st.booleans())
@example(value="  a\x00b  ", max_length=10, required=True, multiline=False)
@example(value="\u0065\u0301" * 5, max_length=5, required=True, multiline=False)  # NFC shortens before the check
@example(value="line one\nline two", max_length=40, required=True, multiline=False)
def test_clean_text_returns_short_clean_text_or_a_readable_problem(value, max_length, required, multiline):
    try:
        result = clean_text(value, field="full name", max_length=max_length, required=required, multiline=multiline)
    except FieldProblem as exc:
        _readable(str(exc))
        assert "full name" in str(exc)
        return
    if result is None:
        assert not required and not value.strip()
        return
    assert isinstance(result, str) and result
    assert len(result) <= max_length
    assert result == result.strip()
    assert unicodedata.is_normalized("NFC", result)
    forbidden = C0_AND_DEL - ({"\t", "\n", "\r"} if multiline else {"\t"})
    assert not (set(result) & forbidden), repr(result)


@FAST
@given(value=st.text(), max_length=st.integers(1, 60), multiline=st.booleans())
def test_clean_text_is_idempotent(value, max_length, multiline):
    try:
        once = clean_text(value, field="note", max_length=max_length, required=False, multiline=multiline)
    except FieldProblem:
        return
    assert clean_text(once, field="note", max_length=max_length, required=False, multiline=multiline) == once


@FAST
@given(value=st.text(min_size=1, max_size=30).filter(lambda s: s.strip() and is_clean(s) and not set(s) & set("\t\n\r")),
       extra=st.integers(1, 50))
def test_clean_text_over_long_is_refused_with_the_limit_in_the_message(value, extra):
    text = unicodedata.normalize("NFC", value).strip()
    assume(text)
    limit = len(text)
    assert clean_text(value, field="address", max_length=limit) == text
    too_long = text + "x" * extra
    with pytest.raises(FieldProblem) as err:
        clean_text(too_long, field="address", max_length=limit)
    assert f"at most {limit} characters" in str(err.value)
    _readable(str(err.value))


@FAST
@given(value=ANY_VALUE.filter(lambda v: v is not None and not isinstance(v, str)), required=st.booleans())
def test_clean_text_refuses_anything_but_text(value, required):
    with pytest.raises(FieldProblem, match="must be text"):
        clean_text(value, field="reason", max_length=100, required=required)


@pytest.mark.parametrize("value", ["", "   ", "\t\n ", None])
def test_clean_text_empty_is_required_or_none(value):
    with pytest.raises(FieldProblem, match="Enter the reason"):
        clean_text(value, field="reason", max_length=10, multiline=True)
    assert clean_text(value, field="reason", max_length=10, required=False, multiline=True) is None


@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_clean_text_keeps_sql_and_html_fragments_verbatim(fragment):
    # Escaping is the job of the SQL driver and the page, never of validation: the text stays as typed.
    assert clean_text(fragment, field="full name", max_length=200) == fragment


@pytest.mark.parametrize("char", ["\x85", "\x9b", "\x80"])
def test_clean_text_refuses_c1_control_characters(char):
    with pytest.raises(FieldProblem):
        clean_text(f"Ann{char}Lee", field="full name", max_length=120)


@pytest.mark.parametrize("value", ["Ann\udcff Lee", "\ud800", b"caf\xe9".decode("utf-8", "surrogateescape")])
def test_clean_text_refuses_text_that_is_not_valid_unicode(value):
    with pytest.raises(FieldProblem):
        clean_text(value, field="reason", max_length=120)


# --- usernames --------------------------------------------------------------------------------------

VALID_USERNAMES = st.from_regex(USERNAME_RE, fullmatch=True)


@FAST
@given(value=ANY_VALUE)
@example(value="' OR 1=1 --")
@example(value="<script>")
@example(value="a" * 41)
@example(value="ab")
def test_normalise_username_returns_a_valid_username_or_a_readable_problem(value):
    try:
        username = normalise_username(value)
    except FieldProblem as exc:
        _readable(str(exc))
        return
    assert USERNAME_RE.fullmatch(username)


@FAST
@given(username=VALID_USERNAMES, pad_left=st.sampled_from(["", " ", "  \t"]), pad_right=st.sampled_from(["", " ", "\t "]),
       upper=st.booleans())
def test_normalise_username_is_idempotent_and_ignores_case_and_padding(username, pad_left, pad_right, upper):
    typed = pad_left + (username.upper() if upper else username) + pad_right
    result = normalise_username(typed)
    assert result == username.lower()
    assert normalise_username(result) == result


# --- names ------------------------------------------------------------------------------------------

LATIN_NAME_ALPHABET = string.ascii_letters + "ÀÁÂÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÖØÙÚÛÜÝàáâäåæçèéêëìíîïñòóôöøùúûüý'.-"


@FAST
@given(value=st.text())
@example(value="\u0345")
@example(value="ﬁ")
@example(value="Ǆ")
def test_normalise_name_is_idempotent(value):
    once = normalise_name(value)
    assert normalise_name(once) == once
    assert once == " ".join(once.split())


@FAST
@given(words=st.lists(st.text(alphabet=LATIN_NAME_ALPHABET, min_size=1, max_size=12), min_size=1, max_size=4),
       case=st.sampled_from(["upper", "lower", "title", "swapcase"]),
       gaps=st.lists(st.sampled_from([" ", "  ", "\t", " \n ", "\u00a0", "\u2003"]), min_size=5, max_size=5))
def test_normalise_name_ignores_case_and_spacing(words, case, gaps):
    plain = " ".join(words)
    changed = getattr(plain, case)()
    respaced = gaps[0] + "".join(w + gaps[(i + 1) % len(gaps)] for i, w in enumerate(changed.split(" ")))
    assert normalise_name(respaced) == normalise_name(plain)
    assert normalise_name(changed) == normalise_name(plain)


def test_normalise_name_examples():
    assert normalise_name("  Dr.  PRIYA   Deshpande-Kulkarni ") == "dr priya deshpande kulkarni"
    assert normalise_name("Ｐｒｉｙａ") == normalise_name("priya")  # full-width letters fold (NFKC)
    assert normalise_name("José") == normalise_name("Jose\u0301")  # composed and decomposed accents agree


@pytest.mark.parametrize("first, second", [("सीमा", "सुमा"), ("सीमा", "सोमा"), ("मीना", "मोना"), ("राम", "रोम")])
def test_normalise_name_keeps_devanagari_names_apart(first, second):
    # Seema / Suma / Soma and Meena / Mona are different people's names.
    assert normalise_name(first) != normalise_name(second)


# --- phone numbers ----------------------------------------------------------------------------------

@st.composite
def indian_mobile_in_some_format(draw):
    """A valid Indian mobile number, and the same number typed the way people type it."""
    digits = draw(st.sampled_from("6789")) + "".join(draw(st.lists(st.sampled_from(string.digits), min_size=9, max_size=9)))
    try:
        canonical = normalise_phone("+91" + digits)
    except FieldProblem:
        assume(False)
    cuts = sorted(draw(st.sets(st.integers(1, 9), max_size=3)))
    groups = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, 10], strict=True)]
    separators = [draw(st.sampled_from([" ", "-", ".", "", " - "])) for _ in groups[1:]]
    if len(groups) > 1 and draw(st.booleans()):
        groups[0] = f"({groups[0]})"
        separators[0] = separators[0] or " "
    body = groups[0] + "".join(s + g for s, g in zip(separators, groups[1:], strict=True))
    prefix = draw(st.sampled_from(["", "+91", "+91 ", "+91-", "+91 (0) ", "0", "0 ", "91", "91 ", "0091 ", "+ 91 "]))
    padding = draw(st.sampled_from(["", " ", "  "]))
    return canonical, digits, padding + prefix + body + padding


@FAST
@given(case=indian_mobile_in_some_format())
@example(case=("+919876543210", "9876543210", "(987) 654 3210"))
@example(case=("+919876543210", "9876543210", "098765-43210"))
def test_normalise_phone_same_number_any_formatting_same_e164(case):
    canonical, digits, typed = case
    assert canonical == "+91" + digits
    assert normalise_phone(typed) == canonical
    assert normalise_phone(canonical) == canonical  # idempotent


@FAST
@given(value=st.one_of(ANY_VALUE, st.text(alphabet=string.digits + " +-()./#*xext", max_size=45),
                       st.text(max_size=45)))
@example(value="' OR 1=1 --")
@example(value="<script>alert(1)</script>")
@example(value="+91 98765 43210" + "0" * 30)
@example(value="1" * 41)
@example(value="\x00")
def test_normalise_phone_junk_is_a_field_problem_or_e164(value):
    try:
        result = normalise_phone(value)
    except FieldProblem as exc:
        _readable(str(exc))
        return
    assert result.startswith("+") and result[1:].isdigit() and len(result) <= 16
    assert normalise_phone(result) == result


# --- email ------------------------------------------------------------------------------------------

ASCII_EMAIL = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,20}[A-Za-z0-9]", fullmatch=True).filter(lambda s: ".." not in s),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,15}[A-Za-z0-9]", fullmatch=True),
    st.sampled_from(["org", "com", "IN", "co.in", "Example"]),
)


@FAST
@given(email=st.one_of(ASCII_EMAIL, st.emails()), pad=st.sampled_from(["", " ", "\t "]), upper=st.booleans())
def test_normalise_email_is_idempotent_and_lower_case(email, pad, upper):
    typed = pad + (email.upper() if upper else email) + pad
    try:
        result = normalise_email(typed)
    except FieldProblem:
        assume(False)
    assert result == result.lower() == result.strip()
    assert normalise_email(result) == result
    if email.isascii():
        assert result == normalise_email(email.lower())


@FAST
@given(value=st.one_of(ANY_VALUE, st.text(max_size=300), st.text(alphabet=string.printable + "@@@", max_size=80)))
@example(value="a@b")
@example(value="<script>alert(1)</script>@example.org")
@example(value="x' OR 1=1 --@example.org")
@example(value="a" * 250 + "@x.org")
@example(value="a\x00@example.org")
def test_normalise_email_junk_is_a_field_problem_or_an_address(value):
    try:
        result = normalise_email(value)
    except FieldProblem as exc:
        assert str(exc).strip()
        return
    assert result.count("@") == 1 and result == result.lower()
    assert len(result) <= 254


# --- dates ------------------------------------------------------------------------------------------

TODAY = dt.date(2026, 5, 17)


@FAST
@given(value=st.dates(), today=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 1, 1)),
       oldest=st.integers(0, 150))
@example(value=dt.date(2026, 5, 18), today=TODAY, oldest=120)
@example(value=dt.date(1906, 1, 1), today=TODAY, oldest=120)
@example(value=dt.date(1905, 12, 31), today=TODAY, oldest=120)
def test_check_past_date_accepts_exactly_the_window(value, today, oldest):
    inside = value <= today and value.year >= today.year - oldest
    try:
        result = check_past_date(value, field="date of birth", today=today, oldest_years=oldest)
    except FieldProblem as exc:
        assert not inside
        _readable(str(exc))
        assert "date of birth" in str(exc)
        return
    assert inside and result == value


@FAST
@given(value=ANY_VALUE.filter(lambda v: not isinstance(v, dt.date) or isinstance(v, dt.datetime)))
@example(value="2020-01-01")
@example(value=dt.datetime(2020, 1, 1))
def test_check_past_date_refuses_what_is_not_a_date(value):
    with pytest.raises(FieldProblem, match="must be a date"):
        check_past_date(value, field="consent date", today=TODAY)


# --- parse_input ------------------------------------------------------------------------------------

JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30), st.sampled_from(FRAGMENTS)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)
FIELD_VALUES = st.one_of(
    JSONISH, st.text(max_size=300), st.dates().map(str), st.uuids().map(str), st.dates(), st.uuids(), st.binary(max_size=10),
    st.sampled_from(["admin", "doctor", "female", "unknown", "2020-02-30", "1990-05-17", "yes", "", "  "]),
)
MODELS = {
    PatientCreate: list(PatientCreate.model_fields),
    UserCreate: list(UserCreate.model_fields),
    ProfileUpdate: list(ProfileUpdate.model_fields),
}


@st.composite
def form_data(draw):
    model = draw(st.sampled_from(list(MODELS)))
    keys = st.one_of(st.sampled_from(MODELS[model]), st.text(max_size=10), st.integers())
    return model, draw(st.dictionaries(keys, FIELD_VALUES, max_size=8))


@FAST
@given(case=form_data())
def test_parse_input_gives_a_model_or_per_field_messages(case):
    model, data = case
    try:
        result = parse_input(model, data)
    except ValidationError as exc:
        assert exc.fields
        for name, message in exc.fields.items():
            assert isinstance(name, str) and name
            assert name in MODELS[model] or name == "form", name
            assert isinstance(message, str) and message.strip(), (name, message)
            assert "Value error, " not in message
        return
    assert isinstance(result, model)


@FAST
@given(data=ANY_VALUE.filter(lambda v: not isinstance(v, dict)))
def test_parse_input_refuses_what_is_not_a_form(data):
    with pytest.raises(ValidationError) as err:
        parse_input(PatientCreate, data)
    assert list(err.value.fields) == ["form"]


@pytest.mark.parametrize("model, field, limit", [(PatientCreate, "full_name", 200), (UserCreate, "username", 40),
                                                 (ProfileUpdate, "specialty", 120)])
def test_parse_input_over_long_names_the_field_and_limit(model, field, limit):
    data = {"full_name": "A B", "username": "abc", "role": "doctor", field: "x" * (limit + 1)}
    with pytest.raises(ValidationError) as err:
        parse_input(model, data)
    assert err.value.fields[field] == f"Too long (at most {limit} characters)."


def test_parse_input_wrong_type_and_missing_are_plain_words():
    with pytest.raises(ValidationError) as err:
        parse_input(UserCreate, {"username": 12, "role": "wizard"})
    assert err.value.fields["username"] == "This value has the wrong type or format."
    assert err.value.fields["full_name"] == "This field is required."
    assert "admin" in err.value.fields["role"]


# --- password policy ---------------------------------------------------------------------------------

PASSWORD_CHARS = string.ascii_letters + string.digits + string.punctuation + " äéñßΩж中"


@FAST
@given(password=st.text(max_size=MIN_LENGTH - 1), username=st.one_of(st.none(), VALID_USERNAMES))
def test_password_shorter_than_twelve_is_never_accepted(password, username):
    assert password_problems(password, username)


@FAST
@given(username=VALID_USERNAMES, before=st.text(PASSWORD_CHARS, max_size=20), after=st.text(PASSWORD_CHARS, max_size=20),
       shout=st.booleans())
def test_password_containing_the_username_is_never_accepted(username, before, after, shout):
    password = before + (username.upper() if shout else username) + after
    problems = password_problems(password, username)
    assert problems
    if len(password) >= MIN_LENGTH:
        assert "The password must not contain the username." in problems


@FAST
@given(raw=st.binary(min_size=12, max_size=48), username=VALID_USERNAMES)
def test_long_random_passwords_are_accepted(raw, username):
    import base64

    password = base64.b85encode(raw).decode()  # 15-60 printable characters
    assume(len(set(password.casefold())) >= 4 and username not in password.casefold())
    assert password_problems(password, username) == []


@FAST
@given(password=st.text(PASSWORD_CHARS, min_size=MAX_LENGTH + 1, max_size=MAX_LENGTH + 50))
def test_password_longer_than_the_maximum_is_refused(password):
    assert f"Use at most {MAX_LENGTH} characters." in password_problems(password)


@FAST
@given(value=ANY_VALUE.filter(lambda v: not isinstance(v, str)))
def test_password_problems_of_a_non_text_value(value):
    assert password_problems(value) == ["Enter a password."]  # type: ignore[arg-type]


@pytest.mark.parametrize("password", sorted(common_passwords())[:5] + ["aaaaaaaaaaaaaaa", "abababababababab"])
def test_common_or_repetitive_passwords_are_refused(password):
    assert "This password is too common or too easy to guess." in password_problems(password.upper())
