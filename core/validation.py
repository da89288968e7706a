"""Normalisation and checks of what people type, shared by services and the blind index."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email

# C0 controls but tab and newlines, DEL, C1 controls (e.g. NEL, CSI), and lone surrogates (what Python makes
# of invalid UTF-8 with surrogateescape): none of them is text a person meant to type.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,39}$")


class FieldProblem(ValueError):
    """A single field's problem; services gather these into a ValidationError."""


def clean_text(value: object, *, field: str, max_length: int, required: bool = True, multiline: bool = False) -> str | None:
    if value is None:
        if required:
            raise FieldProblem(f"Enter the {field}.")
        return None
    if not isinstance(value, str):
        raise FieldProblem(f"The {field} must be text.")
    if _CONTROL.search(value):
        raise FieldProblem(f"The {field} contains control characters or invalid text.")
    text = unicodedata.normalize("NFC", value).strip()
    if not multiline and ("\n" in text or "\r" in text or "\t" in text):
        raise FieldProblem(f"The {field} must be on one line.")
    if not text:
        if required:
            raise FieldProblem(f"Enter the {field}.")
        return None
    if len(text) > max_length:
        raise FieldProblem(f"The {field} is too long (at most {max_length} characters).")
    return text


def clean_tags(values: object, *, field: str, max_tags: int = 20) -> list[str]:
    """Short one-line labels (triggers, precipitating factors), de-duplicated case-insensitively."""
    if not isinstance(values, (list, tuple)):
        raise FieldProblem(f"The {field}s must be a list.")
    tags: list[str] = []
    for tag in values:
        cleaned = clean_text(tag, field=field, max_length=60, required=False)
        if cleaned and cleaned.casefold() not in {t.casefold() for t in tags}:
            tags.append(cleaned)
    if len(tags) > max_tags:
        raise FieldProblem(f"At most {max_tags} {field}s.")
    return tags


def normalise_username(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FieldProblem("Enter a username.")
    username = value.strip().lower()
    if not USERNAME_RE.fullmatch(username):
        raise FieldProblem("Use 3 to 40 letters, digits, dots, dashes or underscores, starting with a letter or digit.")
    return username


def is_clean(value: object) -> bool:
    """Plain text a person could have typed: a str without control characters or lone surrogates."""
    return isinstance(value, str) and not _CONTROL.search(value)


def normalise_name(value: str) -> str:
    """The form a person's name is compared and indexed in: NFKC, case-folded, single spaces, no punctuation.
    Letters, digits and combining marks are kept, so Devanagari vowel signs and viramas stay in the word."""
    text = unicodedata.normalize("NFKC", value).casefold()
    text = "".join(ch if unicodedata.category(ch)[0] in "LMN" else " " for ch in text)
    return " ".join(text.split())


def normalise_phone(value: object, region: str = "IN") -> str:
    """E.164, whatever the formatting typed (spaces, +91, a leading 0)."""
    if not isinstance(value, str) or not value.strip():
        raise FieldProblem("Enter a phone number.")
    if not is_clean(value):
        raise FieldProblem("This does not look like a phone number.")
    if len(value) > 40:
        raise FieldProblem("The phone number is too long.")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise FieldProblem("This does not look like a phone number.") from exc
    if not phonenumbers.is_valid_number(number):
        raise FieldProblem("This phone number is not valid for its country.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FieldProblem("Enter an email address.")
    if len(value) > 254:
        raise FieldProblem("The email address is too long.")
    if not is_clean(value):
        raise FieldProblem("This email address is not valid: it contains control characters.")
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise FieldProblem(f"This email address is not valid: {exc}") from exc
    return result.normalized.lower()


def check_past_date(value: object, *, field: str, today: dt.date, oldest_years: int = 120) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise FieldProblem(f"The {field} must be a date.")
    if value > today:
        raise FieldProblem(f"The {field} cannot be in the future.")
    if value.year < today.year - oldest_years:
        raise FieldProblem(f"The {field} is more than {oldest_years} years ago.")
    return value


def parse_input(model: type, data: object):  # type: ignore[no-untyped-def]
    """Build a pydantic input model, turning its errors into our per-field ValidationError."""
    from pydantic import BaseModel
    from pydantic import ValidationError as PydanticValidationError

    from core.errors import ValidationError

    if isinstance(data, model):
        return data
    if isinstance(data, BaseModel):
        data = data.model_dump()
    if not isinstance(data, dict):
        raise ValidationError({"form": "The form data is not in the expected shape."})
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        fields: dict[str, str] = {}
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "form"
            kind = err.get("type", "")
            if kind == "missing":
                message = "This field is required."
            elif kind.startswith("string_too_long"):
                message = f"Too long (at most {err.get('ctx', {}).get('max_length')} characters)."
            elif kind.endswith("_type") or kind.endswith("_parsing"):
                message = "This value has the wrong type or format."
            else:
                message = str(err.get("msg", "Invalid value.")).removeprefix("Value error, ")
            fields.setdefault(name, message)
        raise ValidationError(fields) from None
