"""PII is encrypted at rest, found through the blind index, and an undecryptable row never breaks a list."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from core.db import unit_of_work
from core.errors import ValidationError
from core.models import AuditEvent, Patient
from core.security.crypto import Keyring, use_keyring
from core.security.rbac import Role
from core.services import patients
from tests.conftest import TEST_INDEX_KEY
from tests.factories import make_actor, make_patient


def _raw_dump(database) -> str:
    with database.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM patients")).all()
    return "\n".join(repr(tuple(r)) for r in rows)


def test_name_phone_email_never_stored_in_plaintext(database):
    with unit_of_work() as session:
        make_patient(session, full_name="Zubeida Quarrington", phone="+91 98765 43210", email="zubeida.q@example.org")
    dump = _raw_dump(database)
    for secret in ("Zubeida", "Quarrington", "98765", "9876543210", "zubeida.q", "example.org"):
        assert secret.lower() not in dump.lower(), secret
    if database.kind == "sqlite":
        raw = open(database.url.removeprefix("sqlite:///"), "rb").read()
        assert b"Quarrington" not in raw and b"9876543210" not in raw


def test_blind_index_is_keyed_not_a_plain_hash(database):
    with unit_of_work() as session:
        make_patient(session, phone="+91 98765 43210", email="zubeida.q@example.org")
        row = session.exec(select(Patient)).scalars().one()
    plain = {hashlib.sha256(v.encode()).hexdigest() for v in ("+919876543210", "zubeida.q@example.org",
                                                               "phone\x00+919876543210", "email\x00zubeida.q@example.org")}
    assert row.phone_index and row.email_index
    assert row.phone_index not in plain and row.email_index not in plain


@pytest.mark.parametrize("typed", ["+91 98765 43210", "098765 43210", "9876543210", "+91-98765-43210", "(987) 654 3210"])
def test_exact_search_by_phone_whatever_the_formatting(database, typed):
    with unit_of_work() as session:
        make_patient(session, full_name="Phone Person", phone="+91 98765 43210")
        make_patient(session, full_name="Someone Else", phone="+91 91234 56789")
        doctor = make_actor(session, role=Role.DOCTOR)
    with unit_of_work() as session:
        found = patients.find_patients(session=session, actor=doctor, query=typed)
    assert [r.full_name for r in found] == ["Phone Person"]


def test_exact_search_by_email_and_mrn(database):
    with unit_of_work() as session:
        created = make_patient(session, full_name="Mail Person", email="Mail.Person@Example.org")
        desk = make_actor(session, role=Role.RECEPTIONIST)
    with unit_of_work() as session:
        assert [r.id for r in patients.find_patients(session=session, actor=desk, query=" mail.person@example.ORG ")] == [created.id]
        assert [r.id for r in patients.find_patients(session=session, actor=desk, query=created.mrn.lower())] == [created.id]
        with pytest.raises(ValidationError) as err:
            patients.find_patients(session=session, actor=desk, query="not a number")
        assert "query" in err.value.fields


def test_undecryptable_row_is_marked_and_audited_not_fatal(database):
    with unit_of_work() as session:
        desk = make_actor(session, role=Role.RECEPTIONIST)
        good = make_patient(session, actor=desk, full_name="Readable Person")
    # A row written under a key the clinic no longer has.
    lost_key = Fernet.generate_key().decode()
    use_keyring(Keyring.from_strings(lost_key, TEST_INDEX_KEY))
    with unit_of_work() as session:
        lost = make_patient(session, actor=desk, full_name="Lost Key Person")
    from tests.conftest import default_keyring

    use_keyring(default_keyring())
    with unit_of_work() as session:
        page = patients.list_patients(session=session, actor=desk, page=1, page_size=25)
    by_id = {r.id: r for r in page.rows}
    assert by_id[good.id].full_name == "Readable Person" and not by_id[good.id].unreadable
    assert by_id[lost.id].unreadable and by_id[lost.id].full_name == "[cannot decrypt]"
    with unit_of_work() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "patient.decrypt_error")).scalars().all()
        assert [e.entity_id for e in events] == [str(lost.id)]
        detail = patients.get_patient(session=session, actor=desk, patient_id=lost.id)
    assert "full_name" in detail.unreadable and detail.phone == "[cannot decrypt]"


def test_mrn_is_sequential(database):
    with unit_of_work() as session:
        desk = make_actor(session, role=Role.RECEPTIONIST)
        mrns = [make_patient(session, actor=desk).mrn for _ in range(3)]
    assert mrns == ["P-000001", "P-000002", "P-000003"]
