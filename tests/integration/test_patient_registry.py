"""The patient registry: exact search by phone whatever the formatting, name search by word prefix, pages of
25/50/100 sorted by name without decrypting more than the rows shown, and likely-duplicate warnings."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from core.db import unit_of_work
from core.errors import Conflict, ValidationError
from core.models import AuditEvent, Intake, Patient, PatientNameToken, PatientSymptom
from core.security.crypto import Keyring, use_keyring
from core.security.rbac import Role
from core.services import intake, patients
from core.services.counters import current_value
from core.validation import normalise_name
from tests.conftest import TEST_INDEX_KEY, default_keyring
from tests.factories import generated_people, make_actor, make_patient


def _count(session, model, *where) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).scalar_one()


def _audit(session, action: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).scalars())


def _state(session) -> dict:
    return {"patients": _count(session, Patient), "tokens": _count(session, PatientNameToken),
            "intakes": _count(session, Intake), "symptoms": _count(session, PatientSymptom),
            "mrn": current_value(session, "mrn"), "creates": len(_audit(session, "patient.create"))}


# --- exact search by phone ------------------------------------------------------------------------

PHONE_FORMATS = ["+91 98765 43210", "+91-98765-43210", "+919876543210", "+91 (98765) 43210", "098765 43210",
                 "0 98765 43210", "09876543210", "98765-43210", "98765 43210", "9876543210", " 98765  43210 ",
                 "0091 98765 43210", "91 98765 43210"]


def test_search_by_phone_whatever_the_formatting(database):
    with unit_of_work() as session:
        desk = make_actor(session, role=Role.RECEPTIONIST)
        doctor = make_actor(session, role=Role.DOCTOR)
        target = make_patient(session, actor=desk, full_name="Phone Person", phone="098765-43210")
        make_patient(session, actor=desk, full_name="Near Miss", phone="+91 98765 43211")
        make_patient(session, actor=desk, full_name="No Phone", phone=None)
    assert target.phone == "+919876543210"
    misses = []
    with unit_of_work() as session:
        for typed in PHONE_FORMATS:
            page = patients.list_patients(session=session, actor=desk, query=typed)
            found = patients.find_patients(session=session, actor=doctor, query=typed)
            if [r.id for r in page.rows] != [target.id] or page.matched_by != "phone" or [r.id for r in found] != [target.id]:
                misses.append((typed, [r.full_name for r in page.rows], [r.full_name for r in found]))
        assert patients.list_patients(session=session, actor=desk, query="98765 43219").rows == []
    assert misses == []


def test_search_by_email_and_mrn(database):
    with unit_of_work() as session:
        desk = make_actor(session, role=Role.RECEPTIONIST)
        target = make_patient(session, actor=desk, email="Asha.Rao@Example.ORG")
        make_patient(session, actor=desk, email="asha.rao2@example.org")
    digits = str(int(target.mrn.removeprefix("P-")))
    with unit_of_work() as session:
        for typed, by in (("asha.rao@example.org", "email"), (" ASHA.RAO@EXAMPLE.ORG ", "email"),
                          (target.mrn, "mrn"), (target.mrn.lower(), "mrn"), (f"P{digits}", "mrn"), (f"p-{digits}", "mrn")):
            page = patients.list_patients(session=session, actor=desk, query=typed)
            assert [r.id for r in page.rows] == [target.id] and page.matched_by == by, typed


# --- name search by word prefix -----------------------------------------------------------------------

NAMES = ["Ananya Priya Deshpande", "Priyanka Desai", "Rahul Deshmukh", "Anand Rao", "Mary-Anne D'Souza"]
NAME_QUERIES = [
    ("pri", {"Ananya Priya Deshpande", "Priyanka Desai"}),
    ("PRIYA", {"Ananya Priya Deshpande", "Priyanka Desai"}),
    ("priyan", {"Priyanka Desai"}),
    ("desh", {"Ananya Priya Deshpande", "Rahul Deshmukh"}),
    ("  Desh   ANAN ", {"Ananya Priya Deshpande"}),
    ("anan desh priya", {"Ananya Priya Deshpande"}),
    ("an", {"Ananya Priya Deshpande", "Anand Rao", "Mary-Anne D'Souza"}),
    ("\tRAO\n", {"Anand Rao"}),
    ("desh rao", set()),  # words are AND-ed
    ("shpande", set()),  # a substring that is not a word prefix
    ("ananyaa", set()),  # longer than the word
    ("souza", {"Mary-Anne D'Souza"}),
    ("d'souza mary", {"Mary-Anne D'Souza"}),
]


@pytest.fixture
def named(database):
    with unit_of_work() as session:
        desk = make_actor(session, role=Role.RECEPTIONIST)
        ids = {name: make_patient(session, actor=desk, full_name=name).id for name in NAMES}
    return desk, ids


def test_name_search_by_prefix_of_any_word(named):
    desk, ids = named
    wrong = []
    with unit_of_work() as session:
        for query, expected in NAME_QUERIES:
            page = patients.list_patients(session=session, actor=desk, query=query)
            got = {r.full_name for r in page.rows}
            if got != expected or page.total != len(expected) or page.matched_by != "name":
                wrong.append((query, got, page.total, page.matched_by))
            assert {r.id for r in page.rows} == {ids[n] for n in expected}
    assert wrong == []


def test_a_one_letter_name_query_is_refused(named):
    desk, _ = named
    for query in ["a", " A ", "a b", "x.", "\u00e9"]:
        with unit_of_work() as session, pytest.raises(ValidationError) as err:
            patients.list_patients(session=session, actor=desk, query=query)
        assert "query" in err.value.fields, query


def test_find_patients_is_exact_only(named):
    desk, _ = named
    with unit_of_work() as session, pytest.raises(ValidationError) as err:
        patients.find_patients(session=session, actor=desk, query="ananya")
    assert "query" in err.value.fields


def test_rows_show_mrn_name_age_sex_doctor_and_last_visit(database):
    with unit_of_work() as session:
        desk = make_actor(session, role=Role.RECEPTIONIST)
        doctor = make_actor(session, role=Role.DOCTOR, full_name="Dr Meera Joshi")
        today = patients.today_in_clinic()
        dob = dt.date(today.year - 40, 1, 1)
        created = make_patient(session, actor=desk, full_name="Row Person", date_of_birth=dob.isoformat(),
                               sex="male", assigned_doctor_id=doctor.user_id)
    with unit_of_work() as session:
        (row,) = patients.list_patients(session=session, actor=desk, query="row person").rows
    assert (row.mrn, row.full_name, row.age, row.sex, row.assigned_doctor_name) == \
        (created.mrn, "Row Person", 40, "male", "Dr Meera Joshi")
    assert row.last_visit_at == created.created_at  # no consultations or intakes yet: registration date


# --- pages, name order, and decrypting only the rows shown ----------------------------------------------

def test_pages_sort_by_name_and_decrypt_only_the_rows_shown(database):
    people = generated_people(60)
    # Mixed case and spacing must not change the order (it is by normalised name).
    names = [p["full_name"].lower() if i % 3 == 0 else p["full_name"] for i, p in enumerate(people[:59])]
    with unit_of_work() as session:
        desk = make_actor(session, role=Role.RECEPTIONIST)
        readable = [make_patient(session, actor=desk, full_name=n, phone=None, email=None).id for n in names[:54]]
    # The 55th patient (by MRN: page 3 of 25) was written under a key the clinic no longer has.
    use_keyring(Keyring.from_strings(Fernet.generate_key().decode(), TEST_INDEX_KEY))
    with unit_of_work() as session:
        lost = make_patient(session, actor=desk, full_name="Lost Key Person", phone=None, email=None)
    use_keyring(default_keyring())
    with unit_of_work() as session:
        readable += [make_patient(session, actor=desk, full_name=n, phone=None, email=None).id for n in names[54:]]
    assert len(readable) == 59

    def decrypt_errors() -> list[str]:
        with unit_of_work() as session:
            return [e.entity_id for e in _audit(session, "patient.decrypt_error")]

    def page(number: int, size: int = 25, sort: str = "mrn") -> patients.PatientPage:
        with unit_of_work() as session:
            return patients.list_patients(session=session, actor=desk, page=number, page_size=size, sort=sort)

    first, second = page(1), page(2)
    assert len(first.rows) == len(second.rows) == 25 and not any(r.unreadable for r in first.rows + second.rows)
    assert decrypt_errors() == []  # the undecryptable row exists but was not on pages 1 and 2
    third = page(3)
    assert len(third.rows) == 10 and [r.id for r in third.rows if r.unreadable] == [lost.id]
    assert third.rows[4].id == lost.id and third.rows[4].full_name == "[cannot decrypt]"
    assert decrypt_errors() == [str(lost.id)]
    by_mrn = [r.mrn for p in (first, second, third) for r in p.rows]
    assert by_mrn == [f"P-{n:06d}" for n in range(1, 61)]

    for size, pages, last_rows in ((25, 3, 10), (50, 2, 10), (100, 1, 60)):
        last = page(pages, size)
        assert (last.total, last.pages, len(last.rows)) == (60, pages, last_rows), size
    assert page(4).rows == [] and page(4).total == 60
    for bad in (10, 30, 0, 1000):
        with unit_of_work() as session, pytest.raises(ValidationError) as err:
            patients.list_patients(session=session, actor=desk, page_size=bad)
        assert "page_size" in err.value.fields

    by_name = [r for n in (1, 2, 3) for r in page(n, 25, "name").rows]
    assert len({r.id for r in by_name}) == 60
    shown = [r.full_name for r in by_name if not r.unreadable]
    assert shown == sorted(names, key=normalise_name)
    assert shown != names  # registration order was not already alphabetical
    newest_first = [r.mrn for n in (1, 2) for r in page(n, 50, "last_visit").rows]
    assert newest_first == [f"P-{n:06d}" for n in range(60, 0, -1)]


# --- likely duplicates ---------------------------------------------------------------------------------

@pytest.fixture
def existing(database):
    with unit_of_work() as session:
        desk = make_actor(session, role=Role.RECEPTIONIST)
        doctor = make_actor(session, role=Role.DOCTOR)
        first = make_patient(session, actor=desk, full_name="Ananya Deshpande", date_of_birth="1991-02-03",
                             phone="+91 98201 23456", email="ananya@example.org")
    return desk, doctor, first


DUPLICATES = [
    {"full_name": "Someone Else", "date_of_birth": "1970-01-01", "phone": "098201-23456"},  # same phone
    {"full_name": "  ananya   DESHPANDE ", "date_of_birth": "1991-02-03"},  # same normalised name + birth date
    {"full_name": "Ananya Deshpande.", "date_of_birth": "1991-02-03", "phone": "+91 91234 56789"},
]


def test_register_patient_flags_a_likely_duplicate(existing):
    desk, _, first = existing
    with unit_of_work() as session:
        before = _state(session)
    for data in DUPLICATES:
        with unit_of_work() as session, pytest.raises(patients.DuplicatePatient) as dup:
            patients.register_patient(session=session, actor=desk, data=data)
        assert isinstance(dup.value, Conflict)
        assert [m.mrn for m in dup.value.matches] == [first.mrn] and first.mrn in dup.value.message, data
        with unit_of_work() as session:
            assert _state(session) == before, data
            assert [m.id for m in patients.find_duplicates(session=session, actor=desk, data=data)] == [first.id]
    with unit_of_work() as session:
        created = [patients.register_patient(session=session, actor=desk, data=data, allow_duplicate=True)
                   for data in DUPLICATES]
    assert first.mrn not in {c.mrn for c in created}
    with unit_of_work() as session:
        after = _state(session)
    assert after["patients"] == before["patients"] + 3 and after["creates"] == before["creates"] + 3


def test_register_intake_flags_a_likely_duplicate(existing):
    desk, doctor, first = existing
    forms = [{"patient": data | {"assigned_doctor_id": doctor.user_id},
              "intake": {"presenting_complaints": "low mood", "presenting_symptoms": ["icd:MB24.5"]}}
             for data in DUPLICATES]
    with unit_of_work() as session:
        before = _state(session)
    for form in forms:
        with unit_of_work() as session, pytest.raises(patients.DuplicatePatient) as dup:
            intake.register_intake(session=session, actor=desk, data=form)
        assert [m.mrn for m in dup.value.matches] == [first.mrn], form
        with unit_of_work() as session:
            assert _state(session) == before, form
    with unit_of_work() as session:
        results = [intake.register_intake(session=session, actor=desk, data=form, allow_duplicate=True) for form in forms]
    with unit_of_work() as session:
        after = _state(session)
    assert first.mrn not in {r.patient.mrn for r in results}
    assert (after["patients"], after["intakes"], after["symptoms"]) == \
        (before["patients"] + 3, before["intakes"] + 3, before["symptoms"] + 3)


def test_not_a_duplicate_when_only_the_name_matches(existing):
    desk, _, first = existing
    with unit_of_work() as session:
        other = patients.register_patient(session=session, actor=desk, data={
            "full_name": "Ananya Deshpande", "date_of_birth": "1991-02-04", "phone": "+91 91234 56789"})
        # An age gives only an estimated birth date: it cannot prove a duplicate either.
        estimated = patients.register_patient(session=session, actor=desk, data={
            "full_name": "Ananya Deshpande", "age_years": 30})
    assert len({first.mrn, other.mrn, estimated.mrn}) == 3


def test_update_patient_keeps_its_own_values_and_reindexes_what_changed(existing):
    desk, _, first = existing
    same = {"full_name": "Ananya Deshpande", "date_of_birth": "1991-02-03", "phone": "98201 23456",
            "email": "ananya@example.org", "sex": "female"}
    with unit_of_work() as session:
        # Its own phone, name and birth date are not "another patient".
        patients.update_patient(session=session, actor=desk, patient_id=first.id, data=same)
        updated = patients.update_patient(session=session, actor=desk, patient_id=first.id, data=same | {
            "full_name": "Ananya Kulkarni", "phone": "+91 99999 11111", "email": "ananya.k@example.org"})
    assert (updated.mrn, updated.full_name, updated.phone) == (first.mrn, "Ananya Kulkarni", "+919999911111")
    with unit_of_work() as session:
        def ids(query):
            return [r.id for r in patients.list_patients(session=session, actor=desk, query=query).rows]
        assert ids("99999 11111") == [first.id] and ids("98201 23456") == []
        assert ids("ananya.k@example.org") == [first.id] and ids("ananya@example.org") == []
        assert ids("kulk") == [first.id] and ids("desh") == []
        changes = _audit(session, "patient.update")
        assert changes[-1].details == {"fields": ["email", "full_name", "phone"]} and changes[0].details == {"fields": []}
        # The old name and birth date are free again; the new ones are taken.
        with pytest.raises(patients.DuplicatePatient):
            patients.register_patient(session=session, actor=desk, data={
                "full_name": "ananya kulkarni", "date_of_birth": "1991-02-03"})
        patients.register_patient(session=session, actor=desk, data={
            "full_name": "Ananya Deshpande", "date_of_birth": "1991-02-03"})


def test_update_patient_flags_another_patients_phone(existing):
    desk, _, first = existing
    with unit_of_work() as session:
        second = make_patient(session, actor=desk, full_name="Second Person", phone="+91 91234 56789")
    with unit_of_work() as session, pytest.raises(patients.DuplicatePatient) as dup:
        patients.update_patient(session=session, actor=desk, patient_id=second.id, data={
            "full_name": "Second Person", "date_of_birth": "1990-05-17", "phone": "098201 23456"})
    assert [m.mrn for m in dup.value.matches] == [first.mrn]
