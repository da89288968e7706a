"""The audit log is append-only, hash-chained, and `verify` names the first row that was tampered with."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from core.db import unit_of_work
from core.security.rbac import Role, system_actor
from core.services import audit
from tests.factories import make_actor


def _write(n: int, reason: str | None = None) -> None:
    with unit_of_work() as session:
        actor = make_actor(session, role=Role.DOCTOR)
        for i in range(n):
            audit.record(session, actor=actor, action="test.event", entity="thing", entity_id=i,
                         reason=reason, details={"i": i})


def _verify(anchor=None) -> audit.ChainReport:
    with unit_of_work() as session:
        return audit.verify_chain(session, anchor=anchor)


def _tamper(database, sql: str) -> None:
    """What someone with database access could do: bypass the append-only triggers and change rows."""
    with database.engine.begin() as conn:
        if database.kind == "postgres":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(sql))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
            conn.execute(text(sql))


def test_intact_chain_verifies(database):
    _write(5, reason="covering for an absent colleague")
    report = _verify()
    assert report.ok and report.checked == 6 and report.head_seq == 6  # 5 + the user's creation


def test_triggers_refuse_update_and_delete(database):
    _write(2)
    for sql in ("UPDATE audit_log SET action = 'x' WHERE seq = 1", "DELETE FROM audit_log WHERE seq = 1"):
        with pytest.raises(sa_exc.DBAPIError) as err:
            with database.engine.begin() as conn:
                conn.execute(text(sql))
        assert "append-only" in str(err.value)


@pytest.mark.parametrize("sql, broken", [
    ("UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 3", 3),
    ("UPDATE audit_log SET outcome = 'failure' WHERE seq = 2", 2),
    ("DELETE FROM audit_log WHERE seq = 4", 5),
])
def test_changed_or_removed_rows_are_named(database, sql, broken):
    _write(6)
    _tamper(database, sql)
    report = _verify()
    assert not report.ok and report.first_broken_seq == broken, report


def test_deleting_the_newest_rows_is_detected_by_the_head(database):
    _write(6)
    _tamper(database, "DELETE FROM audit_log WHERE seq >= 6")
    report = _verify()
    assert not report.ok and "head" in report.problem


def test_an_external_anchor_bounds_rewriting_both_tables(database):
    _write(6)
    with unit_of_work() as session:
        anchor = audit.chain_head(session)
    # Someone removes the newest row and rewinds the head to match: only the anchor notices.
    _tamper(database, "DELETE FROM audit_log WHERE seq = 7")
    with database.engine.begin() as conn:
        prev = conn.execute(text("SELECT hash FROM audit_log WHERE seq = 6")).scalar_one()
        conn.execute(text("UPDATE audit_head SET seq = 6, hash = :h"), {"h": prev})
    assert _verify().ok
    report = _verify(anchor=anchor)
    assert not report.ok and "anchor" in report.problem


def test_concurrent_writers_keep_one_chain(database):
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(10):
                with unit_of_work() as session:
                    audit.record(session, actor=system_actor("test"), action="test.concurrent")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = _verify()
    assert report.ok and report.checked == 40


def test_list_and_export_for_admins_only(database):
    from core.errors import PermissionDenied

    _write(3)
    with unit_of_work() as session:
        admin = make_actor(session, role=Role.ADMIN)
        doctor = make_actor(session, role=Role.DOCTOR)
    with unit_of_work() as session:
        events, total = audit.list_events(session=session, actor=admin, filters=audit.AuditFilter(action="test."))
        assert total == 3 and [e.action for e in events] == ["test.event"] * 3
        csv_text = audit.export_csv(session=session, actor=admin, filters=audit.AuditFilter(action="test."))
        assert csv_text.count("test.event") == 3
        with pytest.raises(PermissionDenied):
            audit.list_events(session=session, actor=doctor, filters=audit.AuditFilter())
    assert _verify().ok


def test_csv_cells_cannot_start_a_formula(database):
    with unit_of_work() as session:
        admin = make_actor(session, role=Role.ADMIN)
        audit.record(session, actor=admin, action="test.csv", reason="=HYPERLINK(\"http://evil\")")
    with unit_of_work() as session:
        csv_text = audit.export_csv(session=session, actor=admin, filters=audit.AuditFilter(action="test.csv"))
    assert "'=HYPERLINK" in csv_text and ",=HYPERLINK" not in csv_text
