"""Encryption cost of one patient row, and exact phone lookup through the blind index on PostgreSQL.

(a) encrypt + decrypt of every encrypted field of one Patient row, through the real column types;
(b) core.services.patients.find_patients by phone among N patients (the real path: normalisation, blind
    index, query, decryption, one audit row per call) vs a raw SQL SELECT of the same row by its indexed
    MRN, no decryption. Targets: service <= 2x raw, and <= 5 ms median.

    python -m bench.crypto_lookup [--size 100000]
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

from sqlalchemy import column, select, table, text

from bench.common import PG_ADMIN_URL, app_environment, cli, median, ratio, throwaway_postgres, timed, verdict
from core import db as core_db
from core.db import unit_of_work
from core.migrate import upgrade
from core.models import Patient, User
from core.models.base import utcnow
from core.security.crypto import blind_index
from core.security.rbac import Actor, system_actor
from core.services import users
from core.services.auth import actor_for
from core.services.patients import ENCRYPTED_FIELDS, _name_dob_key, find_patients

TARGET_RATIO = 2.0
TARGET_MS = 5.0
BATCH = 5000
FIRST = ("Asha", "Rohan", "Meera", "Vikram", "Leela", "Arjun", "Nisha", "Kabir", "Tara", "Dev")
LAST = ("Kulkarni", "Deshpande", "Iyer", "Khan", "Fernandes", "Patil", "Menon", "Shah", "Rao", "Joshi")
PLAIN_COLUMNS = ("id", "mrn", "dob_is_estimate", "sex", "preferred_language", "phone_index", "email_index",
                 "name_dob_index", "consent_recording", "created_at", "updated_at", "last_visit_at")
# Plain columns: the values are encrypted here, so the insert must not pass them through the column types.
patients_table = table("patients", *(column(name) for name in PLAIN_COLUMNS + ENCRYPTED_FIELDS))
ENCRYPTED_TYPES = {name: Patient.__table__.c[name].type for name in ENCRYPTED_FIELDS}


def phone_of(i: int) -> str:
    return f"+9198{i:08d}"  # E.164, as normalise_phone stores it


def typed_phone_of(i: int) -> str:
    return f"098{i:08d}"[:6] + " " + f"{i:08d}"[3:]  # as reception might type it: "098000 00042"


def plain_values(i: int) -> dict:
    name = f"{FIRST[i % 10]} {LAST[i // 10 % 10]} {i}"
    return {
        "full_name": name, "date_of_birth": dt.date(1950, 1, 1) + dt.timedelta(days=i % 20000),
        "phone": phone_of(i), "email": f"patient{i}@example.org",
        "address": f"Flat {i % 400}, MG Road, Pune 411001",
        "emergency_contact": {"name": f"Relative of {name}", "relation": "spouse", "phone": phone_of(i + 1)},
    }


def encrypt_fields(plain: dict, dialect) -> dict:  # type: ignore[no-untyped-def]
    return {name: ENCRYPTED_TYPES[name].process_bind_param(plain[name], dialect) for name in ENCRYPTED_FIELDS}


def decrypt_fields(stored: dict, dialect) -> dict:  # type: ignore[no-untyped-def]
    return {name: ENCRYPTED_TYPES[name].process_result_value(stored[name], dialect)
            for name in ENCRYPTED_FIELDS}


def patient_row(i: int, dialect, now: dt.datetime) -> dict:  # type: ignore[no-untyped-def]
    plain = plain_values(i)
    return {
        "id": uuid.uuid4(), "mrn": f"P-{i:06d}", "dob_is_estimate": False, "sex": ("female", "male")[i % 2],
        "preferred_language": "mr", "phone_index": blind_index("phone", plain["phone"]),
        "email_index": blind_index("email", plain["email"]),
        "name_dob_index": _name_dob_key(plain["full_name"], plain["date_of_birth"]),
        "consent_recording": False, "created_at": now, "updated_at": now, "last_visit_at": now, **encrypt_fields(plain, dialect),
    }


def bulk_insert(engine, size: int) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    with engine.begin() as conn:
        for start in range(1, size + 1, BATCH):
            rows = [patient_row(i, engine.dialect, now) for i in range(start, min(start + BATCH, size + 1))]
            conn.execute(patients_table.insert(), rows)
        conn.execute(text("UPDATE counters SET value = :n WHERE name = 'mrn'"), {"n": size})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE patients"))


def row_crypto_us(dialect, rounds: int) -> float:  # type: ignore[no-untyped-def]
    plain = plain_values(42)
    samples = []
    for _ in range(rounds):
        seconds, back = timed(lambda: decrypt_fields(encrypt_fields(plain, dialect), dialect))
        if back != plain:
            raise AssertionError(f"round trip changed the row: {back!r}")
        samples.append(seconds)
    return median(samples) * 1e6


def receptionist() -> Actor:
    with unit_of_work() as session:
        users.create_user(session=session, actor=system_actor("bench"), data={
            "username": "benchreception", "full_name": "Bench Reception", "role": "receptionist",
            "password": "bench-Reception-pass-7"})
        return actor_for(session.exec(select(User).where(User.username == "benchreception")).scalars().one())


def by_service(actor: Actor, typed_phone: str) -> list:
    with unit_of_work() as session:
        return find_patients(session=session, actor=actor, query=typed_phone)


def by_blind_index(engine, typed_phone: str) -> list:  # type: ignore[no-untyped-def]
    """The lookup itself: normalise, HMAC, indexed select, decrypt the shown fields; no audit, no commit."""
    from sqlalchemy.orm import load_only
    from sqlmodel import Session

    from core.services.patients import LIST_COLUMNS
    from core.validation import normalise_phone

    key = blind_index("phone", normalise_phone(typed_phone))
    with Session(engine) as session:
        rows = session.exec(select(Patient).options(load_only(*LIST_COLUMNS)).where(Patient.phone_index == key)).scalars()
        return [(r.id, r.mrn, r.full_name, r.date_of_birth) for r in rows]


def by_raw_sql(engine, mrn: str) -> list:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(text("SELECT * FROM patients WHERE mrn = :mrn"), {"mrn": mrn}).mappings().all()


def lookups(engine, actor: Actor, size: int, count: int):  # type: ignore[no-untyped-def]
    """Service and raw lookups of the same rows, interleaved; returns both timings and any wrong result."""
    service, raw, index, problems = [], [], [], []
    picks = random.Random(7).sample(range(1, size + 1), min(count, size))
    for warmup, i in [(True, picks[0])] * 3 + [(False, i) for i in picks]:
        mrn = f"P-{i:06d}"
        t_service, found = timed(by_service, actor, typed_phone_of(i))
        t_raw, raw_rows = timed(by_raw_sql, engine, mrn)
        t_index, indexed = timed(by_blind_index, engine, typed_phone_of(i))
        if [(r[1], r[2]) for r in indexed] != [(mrn, plain_values(i)["full_name"])]:
            problems.append(f"blind-index lookup found {[(r[1], r[2]) for r in indexed]} for {mrn}")
        if [r["phone_index"] for r in raw_rows] != [blind_index("phone", phone_of(i))]:
            problems.append(f"raw SQL found {len(raw_rows)} rows for {mrn}")
        expected = [(raw_rows[0]["id"] if raw_rows else None, mrn, plain_values(i)["full_name"])]
        if [(r.id, r.mrn, r.full_name) for r in found] != expected:
            problems.append(f"service found {[(r.mrn, r.full_name) for r in found]} for {mrn}")
        if not warmup:
            service.append(t_service)
            raw.append(t_raw)
            index.append(t_index)
    return service, raw, index, problems


def run(size: int = 100_000, lookup_count: int = 200, crypto_rounds: int = 2000,
        admin_url: str = PG_ADMIN_URL) -> dict:
    with app_environment(), throwaway_postgres(admin_url) as url:
        engine = core_db.make_engine(url)
        upgrade(engine)
        core_db.use_engine(engine)
        crypto_us = row_crypto_us(engine.dialect, crypto_rounds)
        load_seconds, _ = timed(bulk_insert, engine, size)
        actor = receptionist()
        service, raw, index, problems = lookups(engine, actor, size, lookup_count)
    service_ms, raw_ms, index_ms = median(service) * 1e3, median(raw) * 1e3, median(index) * 1e3
    result = {
        "size": size, "lookups": len(service), "row_crypto_us": crypto_us, "load_seconds": load_seconds,
        "service_ms": service_ms, "raw_ms": raw_ms, "ratio": ratio(service_ms, raw_ms), "problems": problems,
        "index_ms": index_ms, "index_ratio": ratio(index_ms, raw_ms),
    }
    print(report(result))
    return result


def report(r: dict) -> str:
    fields = len(ENCRYPTED_FIELDS)
    lines = [
        f"crypto_lookup: {r['size']} patients on PostgreSQL (loaded in {r['load_seconds']:.1f} s)",
        f"  (a) encrypt+decrypt one patient row ({fields} fields): median {r['row_crypto_us']:.1f} us",
        f"  (b) {r['lookups']} lookups by phone",
        f"      raw SQL by indexed mrn (baseline): median {r['raw_ms']:.3f} ms",
        f"      blind-index lookup (normalise, HMAC, indexed select, decrypt): median {r['index_ms']:.3f} ms   "
        + f"target <= {TARGET_MS:g} ms: {verdict(r['index_ms'] <= TARGET_MS)}",
        f"      ratio blind-index/raw: {r['index_ratio']:.2f}x   "
        + f"target <= {TARGET_RATIO:g}x: {verdict(r['index_ratio'] <= TARGET_RATIO)}",
        f"      find_patients, the whole service call (adds the audit row and the commit): median "
        + f"{r['service_ms']:.3f} ms, ratio {r['ratio']:.2f}x "
        + f"(target <= {TARGET_MS:g} ms: {verdict(r['service_ms'] <= TARGET_MS)})",
        f"  wrong rows found: {len(r['problems'])}",
    ]
    return "\n".join(lines + [f"    {p}" for p in r["problems"][:5]])


if __name__ == "__main__":
    cli(run, 100_000, "number of patients")
