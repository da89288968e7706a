"""Bulk patient import: 1,000 patients leave no name, phone or email in plaintext anywhere in the database,
and a file with bad rows changes nothing unless skip_invalid (then the rejects come back with line numbers)."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from core.db import unit_of_work
from core.errors import PermissionDenied, ValidationError
from core.models import AuditEvent, Patient, PatientNameToken
from core.security.rbac import Role
from core.services import patient_import, patients
from core.services.counters import current_value
from core.validation import normalise_name
from tests.factories import generated_people, make_actor, make_patient, patient_csv

GOOD = [
    {"full_name": "Ravi Kumar", "date_of_birth": "1980-01-01", "sex": "male", "phone": "98200 12345",
     "email": "ravi@example.com", "address": "Pune"},
    {"full_name": "Sunita Patil", "date_of_birth": "1975-06-30", "sex": "female", "phone": "+91 98200 54321",
     "email": "sunita@example.com", "address": "Nashik"},
    {"full_name": "Imran Shaikh", "date_of_birth": "1990-12-12", "sex": "male", "phone": "", "email": "", "address": ""},
]


def _state(session) -> dict:
    """Everything a bad import must leave untouched."""
    return {
        "patients": session.exec(select(func.count()).select_from(Patient)).scalar_one(),
        "tokens": session.exec(select(func.count()).select_from(PatientNameToken)).scalar_one(),
        "mrn": current_value(session, "mrn"),
        "creates": session.exec(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.action == "patient.create")).scalar_one(),
    }


@pytest.fixture
def admin(database):
    with unit_of_work() as session:
        return make_actor(session, role=Role.ADMIN)


def _import(admin, content: bytes, **kwargs):
    with unit_of_work() as session:
        return patient_import.import_patients(session=session, actor=admin, content=content, **kwargs)


def _snapshot():
    with unit_of_work() as session:
        return _state(session)


# --- 1,000 patients, nothing in plaintext ------------------------------------------------------------

_DIGITS_ONLY = bytes(c if 48 <= c <= 57 else 32 for c in range(256))  # every other byte becomes a space


def _leaks(people: list[dict], haystack: str) -> list[str]:
    """Which names, phones or emails of `people` occur in `haystack` in plaintext.

    A few passes rather than one per person (8,000 substring scans of megabytes would take a minute):
    every name word begins with one of a few hundred 8-letter stems, found from their first 4 letters
    (in the case typed or lower case); every email ends in @example.org; a
    phone is a digit run of exactly its 10 national digits (or 91 + them), or +91 followed by them. Random
    hex digests and base64 ciphertext cannot contain '@' or '+', and an exact 10-digit run from a given
    number is ~1e-13 likely at any place, so a hit is a leak, not chance."""
    found = []
    stems = {w[:8] for person in people for w in person["full_name"].split()}
    lower_stems = {s.lower() for s in stems}
    for head in {s[:4] for s in stems} | {s[:4].lower() for s in stems}:
        at = -1
        while (at := haystack.find(head, at + 1)) >= 0:
            if haystack[at:at + 8] in stems or haystack[at:at + 8] in lower_stems:
                found.append(haystack[at:at + 8])
    lowered, at = haystack.lower(), -1
    while (at := lowered.find("@example.org", at + 1)) >= 0:
        found.append(haystack[max(0, at - 40):at + 12])
    found += re.findall(r"\+91[\s-]*\d[\d\s-]{8,}\d", haystack)
    runs = {r.decode() for r in haystack.encode("utf-8", "replace").translate(_DIGITS_ONLY).split() if len(r) >= 10}
    for person in people:
        national = re.sub(r"\D", "", person["phone"])[2:]
        found += [n for n in (national, "91" + national, "0" + national) if n in runs]
    return found


def test_import_of_1000_patients_leaves_no_plaintext_pii(database, admin, record_property):
    people = generated_people(1000)
    content = patient_csv(people)
    # The detector finds each kind of value when it is there (so an empty result below means something).
    plain = "\n".join(f"{p['full_name']}|{normalise_name(p['full_name'])}|{p['email'].lower()}|+91{n}|{n}"
                      for p in people for n in [re.sub(r"\D", "", p["phone"])[2:]])
    stems = {w[:8] for p in people for w in p["full_name"].split()}
    found = _leaks(people, plain)
    assert {f for f in found if f.isalpha()} == stems | {s.lower() for s in stems}
    # Per person: 6 name stems (as typed, normalised, in the email), the email, +91..., national, 91+national.
    assert len(found) == 1000 * 10
    started, cpu = time.perf_counter(), time.process_time()
    report = _import(admin, content)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    record_property("import_1000_seconds", round(elapsed, 2))
    print(f"\n[{database.kind}] import of 1,000 patients: {elapsed:.2f} s wall, {cpu:.2f} s CPU in this process")
    assert report.ok and report.rows == 1000 and report.imported == 1000, report.rejected[:5]

    with unit_of_work() as session:
        assert _state(session)["patients"] == 1000
        # Spot check that they were stored as any other patient: readable through the service, found by phone.
        desk = make_actor(session, role=Role.RECEPTIONIST)
        found = patients.find_patients(session=session, actor=desk, query=people[500]["phone"].replace(" ", "-"))
        assert [r.full_name for r in found] == [people[500]["full_name"]]

    with database.engine.connect() as conn:
        patient_rows = conn.execute(text("SELECT * FROM patients")).all()
        token_rows = conn.execute(text("SELECT * FROM patient_name_tokens")).all()
    assert len(patient_rows) == 1000 and len(token_rows) > 1000
    dump = "\n".join(repr(tuple(r)) for r in patient_rows) + "\n" + "\n".join(repr(tuple(r)) for r in token_rows)

    assert _leaks(people, dump) == []
    if database.kind == "sqlite":
        path = Path(database.url.removeprefix("sqlite:///"))
        database.engine.dispose()  # closing the last connection checkpoints the WAL into the file
        files = [p for p in (path, Path(f"{path}-wal")) if p.exists()]
        assert path.stat().st_size > 500_000
        for f in files:
            assert _leaks(people, f.read_bytes().decode("latin-1")) == [], f


# --- bad rows change nothing ----------------------------------------------------------------------

def test_one_bad_row_among_good_ones_imports_nothing(database, admin):
    with unit_of_work() as session:
        make_patient(session, full_name="Already Here", phone="+91 91111 22222")
    before = _snapshot()
    rows = [*GOOD, {"full_name": "Bad Date", "date_of_birth": "2099-01-01", "sex": "male"}, GOOD[0] | {
        "full_name": "Later Good", "phone": "91234 56780", "email": "later@example.com"}]
    report = _import(admin, patient_csv(rows))
    assert report.imported == 0 and not report.ok and report.rows == 5
    assert [line for line, _ in report.rejected] == [5]  # header is line 1, so the 4th data row is line 5
    assert "date_of_birth" in report.rejected[0][1] and "future" in report.rejected[0][1]
    assert report.rejects_csv == ""
    assert _snapshot() == before
    with unit_of_work() as session:
        failed = session.exec(select(AuditEvent).where(AuditEvent.action == "patient.import")).scalars().all()
        assert [(e.outcome, e.details["imported"], e.actor_username) for e in failed] == [("failure", 0, admin.username)]


@pytest.mark.parametrize("bad_row, field", [
    ({"full_name": "", "date_of_birth": "1980-01-01"}, "full_name"),
    ({"full_name": "No Birthday", "date_of_birth": ""}, "date_of_birth"),
    ({"full_name": "Bad Birthday", "date_of_birth": "01/02/1980"}, "date_of_birth"),
    ({"full_name": "Bad Phone", "date_of_birth": "1980-01-01", "phone": "12345"}, "phone"),
    ({"full_name": "Bad Mail", "date_of_birth": "1980-01-01", "email": "not-an-email"}, "email"),
    ({"full_name": "Bad Sex", "date_of_birth": "1980-01-01", "sex": "robot"}, "sex"),
])
def test_each_kind_of_bad_row_is_reported_and_writes_nothing(database, admin, bad_row, field):
    before = _snapshot()
    report = _import(admin, patient_csv([GOOD[0], bad_row, GOOD[1]]))
    assert report.imported == 0
    assert len(report.rejected) == 1 and report.rejected[0][0] == 3, report.rejected
    assert report.rejected[0][1].startswith(f"{field}:"), report.rejected
    assert _snapshot() == before


def test_skip_invalid_imports_the_good_rows_and_returns_the_rejects(database, admin):
    rows = [GOOD[0],
            {"full_name": "Future Child", "date_of_birth": "2099-01-01", "sex": "female"},
            GOOD[1],
            {"full_name": "Wrong Phone", "date_of_birth": "1970-01-01", "phone": "00000"},
            GOOD[2]]
    before = _snapshot()
    report = _import(admin, patient_csv(rows), skip_invalid=True)
    assert report.imported == 3 and [line for line, _ in report.rejected] == [3, 5]
    after = _snapshot()
    assert after["patients"] == before["patients"] + 3 and after["creates"] == before["creates"] + 3
    assert after["mrn"] == before["mrn"] + 3  # numbers only for rows imported: no gaps from rejects
    assert after["tokens"] > before["tokens"]
    rejects = list(csv.DictReader(io.StringIO(report.rejects_csv)))
    assert [(r["line"], r["full_name"]) for r in rejects] == [("3", "Future Child"), ("5", "Wrong Phone")]
    assert rejects[0]["reason"].startswith("date_of_birth:") and rejects[1]["reason"].startswith("phone:")
    with unit_of_work() as session:
        desk = make_actor(session, role=Role.RECEPTIONIST)
        listed = patients.list_patients(session=session, actor=desk, sort="name", page_size=25)
    assert [r.full_name for r in listed.rows] == sorted((r["full_name"] for r in GOOD), key=str.casefold)
    assert sorted(r.mrn for r in listed.rows) == [f"P-{n:06d}" for n in range(before["mrn"] + 1, before["mrn"] + 4)]


def test_invalid_utf8_is_refused_naming_the_line(database, admin):
    content = patient_csv(GOOD[:2]) + "Jos\u00e9 Gomez,1980-01-01,male,,,\n".encode("latin-1")
    before = _snapshot()
    with pytest.raises(ValidationError) as err:
        _import(admin, content)
    assert "Line 4" in err.value.fields["file"] and "UTF-8" in err.value.fields["file"]
    with pytest.raises(ValidationError):
        _import(admin, content, skip_invalid=True)
    assert _snapshot() == before


def test_a_utf8_bom_and_non_ascii_names_are_accepted(database, admin):
    content = b"\xef\xbb\xbf" + patient_csv([
        {"full_name": "Jos\u00e9 G\u00f3mez", "date_of_birth": "1980-01-01"},
        {"full_name": "\u0905\u0928\u0928\u094d\u092f\u093e \u0926\u0947\u0936\u092a\u093e\u0902\u0921\u0947",
         "date_of_birth": "1991-02-03"}])
    report = _import(admin, content)
    assert report.ok and report.imported == 2


@pytest.mark.parametrize("header, expected", [
    ("name,dob,sex\n", "missing column(s): full_name, date_of_birth"),
    ("full_name,sex,phone\n", "missing column(s): date_of_birth"),
    ("full_name,date_of_birth,favourite_colour\n", "unknown column(s): favourite_colour"),
])
def test_a_wrong_header_is_refused_and_writes_nothing(database, admin, header, expected):
    before = _snapshot()
    with pytest.raises(ValidationError) as err:
        _import(admin, (header + "Ravi Kumar,1980-01-01,male\n").encode(), skip_invalid=True)
    assert expected in err.value.fields["file"]
    assert _snapshot() == before


def test_duplicate_phone_within_the_file_whatever_the_formatting(database, admin):
    rows = [GOOD[0], GOOD[1], {"full_name": "Other Person", "date_of_birth": "1960-03-03", "phone": "098200-12345"}]
    before = _snapshot()
    report = _import(admin, patient_csv(rows))
    assert report.imported == 0 and report.rejected == [(4, "same phone as line 2")]
    assert _snapshot() == before
    report = _import(admin, patient_csv(rows), skip_invalid=True)
    assert report.imported == 2 and [line for line, _ in report.rejected] == [4]
    assert _snapshot()["patients"] == before["patients"] + 2


def test_duplicate_name_and_birth_date_within_the_file(database, admin):
    before = _snapshot()
    report = _import(admin, patient_csv([GOOD[0], {"full_name": "  ravi   KUMAR ", "date_of_birth": "1980-01-01"}]))
    assert report.imported == 0 and report.rejected == [(3, "same name and date of birth as line 2")]
    assert _snapshot() == before


def test_duplicate_of_an_existing_patient(database, admin):
    with unit_of_work() as session:
        existing = make_patient(session, full_name="Existing Person", phone="+91 98200 12345")
    before = _snapshot()
    report = _import(admin, patient_csv(GOOD))
    assert report.imported == 0
    assert report.rejected == [(2, f"likely already registered as {existing.mrn}")]
    assert _snapshot() == before
    report = _import(admin, patient_csv(GOOD), skip_invalid=True)
    assert report.imported == 2 and _snapshot()["patients"] == before["patients"] + 2


def test_only_admins_import(database):
    with unit_of_work() as session:
        desk = make_actor(session, role=Role.RECEPTIONIST)
        manager = make_actor(session, role=Role.MANAGER)
        doctor = make_actor(session, role=Role.DOCTOR)
    before = _snapshot()
    for actor in (desk, manager, doctor):
        with pytest.raises(PermissionDenied):
            _import(actor, patient_csv(GOOD))
    assert _snapshot() == before
