"""Rotating keys loses nothing; removing an old key too early shows per-row errors, not a crash."""

from __future__ import annotations

from cryptography.fernet import Fernet
from sqlalchemy import text

from core.db import unit_of_work
from core.security.crypto import Keyring, use_keyring
from core.security.rbac import Role, system_actor
from core.services import patients
from core.services.access import grant_emergency_access
from core.services.keys import encrypted_columns, rotate_keys
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_INDEX_KEY
from tests.factories import make_actor, make_patient

NEW_KEY = Fernet.generate_key().decode()


def _clinic(n: int = 7) -> tuple[list, object]:
    with unit_of_work() as session:
        desk = make_actor(session, role=Role.RECEPTIONIST)
        made = [make_patient(session, actor=desk, full_name=f"Rotation Person {i}", address=f"{i} MG Road")
                for i in range(n)]
        admin = make_actor(session, role=Role.ADMIN)
        grant_emergency_access(session=session, actor=admin, patient_id=made[0].id,
                               reason="on-call psychiatrist unreachable, patient in crisis")
    return made, desk


def _names(desk) -> dict:
    with unit_of_work() as session:
        page = patients.list_patients(session=session, actor=desk, page=1, page_size=100)
    return {r.id: (r.full_name, r.unreadable) for r in page.rows}


def test_rotation_then_removing_the_old_key_keeps_everything_readable(database):
    made, desk = _clinic()
    rotating = Keyring.from_strings(f"{NEW_KEY},{TEST_ENCRYPTION_KEY}", TEST_INDEX_KEY)
    use_keyring(rotating)
    report = rotate_keys(engine=database.engine, actor=system_actor("test"), keyring=rotating, batch_size=3)
    # 7 patients x (name, dob, phone, email, address) + the emergency reason twice (grant and audit row).
    assert report.unreadable == 0 and report.rotated == 7 * 5 + 2
    again = rotate_keys(engine=database.engine, actor=system_actor("test"), keyring=rotating, batch_size=3)
    assert again.rotated == 0 and again.already_current == report.rotated
    use_keyring(Keyring.from_strings(NEW_KEY, TEST_INDEX_KEY))
    names = _names(desk)
    assert all(names[p.id] == (p.full_name, False) for p in made)
    with unit_of_work() as session:
        from core.services.audit import verify_chain

        assert verify_chain(session).ok
        # The blind index is under its own key and still finds people.
        assert patients.find_patients(session=session, actor=desk, query=made[3].phone)[0].id == made[3].id


def test_every_encrypted_column_is_covered():
    covered = {f"{t}.{c}" for t, (_, cols) in encrypted_columns().items() for c in cols}
    assert {"patients.full_name", "patients.phone", "patients.email", "users.totp_secret",
            "audit_log.reason", "intakes.presenting_complaints", "emergency_access.reason"} <= covered


def test_removing_the_old_key_before_rotation_marks_rows_instead_of_crashing(database):
    made, desk = _clinic(3)
    use_keyring(Keyring.from_strings(NEW_KEY, TEST_INDEX_KEY))
    names = _names(desk)
    assert all(names[p.id] == ("[cannot decrypt]", True) for p in made)
    with database.engine.connect() as conn:
        errors = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'patient.decrypt_error'")).scalar_one()
    assert errors == 3
    report = rotate_keys(engine=database.engine, actor=system_actor("test"),
                         keyring=Keyring.from_strings(NEW_KEY, TEST_INDEX_KEY))
    assert report.rotated == 0 and report.unreadable == 3 * 5 + 2
