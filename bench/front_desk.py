"""Front desk on PostgreSQL: invoice issuing throughput with concurrent writers, and a doctor's day view among
many appointments.

(a) 8 writer processes issue bills (core.services.billing.issue_bill, one unit of work each: the year's
    gapless counter, the audit row, the bill's detail) vs the same 8 writers inserting the same bill rows
    as plain drafts, one transaction each, without numbering or audit (baseline). Prints bills/s of both,
    the median latency of one issue and the ratio baseline/issuing; checks the numbers came out 1..N with
    no gap or duplicate. Target: >= 200 issued/s. Writers are processes, as app servers would be: threads
    of one Python process would measure the GIL's hand-over more than the database.
(b) core.services.scheduling.day_schedule for one doctor's day (16 appointments: query, patient MRNs and
    names decrypted, the audit row) with --size appointments in the table (25 doctors, 16 a day) vs a raw
    SQL SELECT of the same rows in the same order, no decryption, interleaved. Target: <= 20 ms median.

    python -m bench.front_desk [--size 100000]
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import random
import time
import uuid

from sqlalchemy import insert, select, text

from bench.common import (
    PG_ADMIN_URL,
    app_environment,
    cli,
    make_bench_user,
    median,
    ratio,
    throwaway_postgres,
    timed,
    verdict,
)
from bench.crypto_lookup import patient_row
from core import db as core_db
from core.db import unit_of_work
from core.migrate import upgrade
from core.models import Appointment, Bill, BillItem, PriceItem, User
from core.models.base import utcnow
from core.services import billing, patients, scheduling

TARGET_PER_S = 200.0
TARGET_DAY_MS = 20.0
DOCTORS = 25
PER_DAY = 16
PATIENTS = 2000
BATCH = 5000
DUMMY_HASH = "$argon2id$v=19$m=19456,t=2,p=1$bm90LWEtcmVhbC1zYWx0$bm90LWEtcmVhbC1oYXNoLW5vdC11c2FibGUtZm9yLWxvZ2lu"


# --- (a) issuing --------------------------------------------------------------------------------------

def _drafts(desk, patient_id: uuid.UUID, count: int) -> list[uuid.UUID]:  # type: ignore[no-untyped-def]
    """One draft through the service, then `count` copies of its rows (the benchmark is about issuing)."""
    with unit_of_work() as session:
        fee = session.exec(select(PriceItem.id).where(PriceItem.code == "CONS-FU")).scalars().one()
        template = billing.create_bill(session=session, actor=desk, data={"patient_id": patient_id,
                                                                          "items": [{"price_item_id": fee}]})
        bill = session.get(Bill, template.id)
        line = session.exec(select(BillItem).where(BillItem.bill_id == bill.id)).scalars().one()
        bill_row, line_row = bill.model_dump(exclude={"id"}), line.model_dump(exclude={"id", "bill_id"})
    ids = [uuid.uuid4() for _ in range(count)]
    with unit_of_work() as session:
        for start in range(0, count, BATCH):
            chunk = ids[start:start + BATCH]
            session.execute(insert(Bill), [bill_row | {"id": i} for i in chunk])
            session.execute(insert(BillItem), [line_row | {"id": uuid.uuid4(), "bill_id": i} for i in chunk])
    return ids


def _bill_row(desk_id: uuid.UUID, patient_id: uuid.UUID) -> dict:
    now = utcnow()
    return {"patient_id": patient_id, "status": "draft", "document_type": "bill_of_supply", "subtotal_paise": 80000,
            "discount_paise": 0, "taxable_paise": 80000, "cgst_paise": 0, "sgst_paise": 0, "total_paise": 80000,
            "paid_paise": 0, "created_by": desk_id, "created_at": now, "updated_at": now}


def _writer(url: str, kind: str, desk, items: list, barrier, out) -> None:  # type: ignore[no-untyped-def]
    core_db.use_engine(core_db.make_engine(url))  # a process of its own: its own connections
    latencies: list[float] = []
    numbers: list[str] = []
    barrier.wait()
    start = time.monotonic()
    for item in items:
        began = time.perf_counter()
        with unit_of_work() as session:
            if kind == "issue":
                numbers.append(billing.issue_bill(session=session, actor=desk, bill_id=item).number)
            else:
                session.add(Bill(**item))
        latencies.append(time.perf_counter() - began)
    out.put((start, time.monotonic(), latencies, numbers))
    core_db.use_engine(None)


def _run_writers(url: str, kind: str, desk, shares: list[list]) -> tuple[float, list[float], list[str]]:  # type: ignore[no-untyped-def]
    """(items per second over all writers, every latency, every invoice number)."""
    core_db.use_engine(None)  # no pooled connection may cross the fork
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(len(shares)), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, kind, desk, share, barrier, out)) for share in shares]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        if p.exitcode != 0:
            raise RuntimeError(f"a {kind} writer exited with {p.exitcode}")
    core_db.use_engine(core_db.make_engine(url))
    elapsed = max(r[1] for r in results) - min(r[0] for r in results)
    total = sum(len(share) for share in shares)
    return total / elapsed, [x for r in results for x in r[2]], [n for r in results for n in r[3]]


def issuing(url: str, desk, patient_id: uuid.UUID, bills: int, writers: int) -> dict:  # type: ignore[no-untyped-def]
    ids = _drafts(desk, patient_id, bills)
    baseline_rows = [_bill_row(desk.user_id, patient_id) | {"id": uuid.uuid4()} for _ in range(bills)]
    base_rate, _, _ = _run_writers(url, "insert", desk, [baseline_rows[i::writers] for i in range(writers)])
    rate, latencies, numbers = _run_writers(url, "issue", desk, [ids[i::writers] for i in range(writers)])
    year = billing.financial_year(utcnow())
    expected = [billing.invoice_number(year, n) for n in range(1, bills + 1)]
    return {"bills": bills, "writers": writers, "issue_per_s": rate, "insert_per_s": base_rate,
            "issue_median_ms": median(latencies) * 1e3, "issue_ratio": ratio(base_rate, rate),
            "numbers_ok": sorted(numbers) == expected}


# --- (b) day view -------------------------------------------------------------------------------------

def _load_schedule(engine, size: int) -> tuple[list[uuid.UUID], dt.date]:  # type: ignore[no-untyped-def]
    """DOCTORS doctors, PATIENTS patients and `size` appointments, PER_DAY a day from 09:00, back to back."""
    now = utcnow()
    doctors = [uuid.uuid4() for _ in range(DOCTORS)]
    patients = [patient_row(i, engine.dialect, now) for i in range(500_001, 500_001 + PATIENTS)]  # clear of real MRNs
    with engine.begin() as conn:
        conn.execute(insert(User.__table__), [
            {"id": d, "username": f"bench.dr{i}", "full_name": f"Dr. Bench {i}", "role": "doctor", "is_active": True,
             "password_hash": DUMMY_HASH, "password_changed_at": now, "must_change_password": False,
             "totp_enabled": False, "created_at": now, "updated_at": now} for i, d in enumerate(doctors)])
        from bench.crypto_lookup import patients_table
        conn.execute(patients_table.insert(), patients)
    zone = scheduling.zone()
    days = max(1, size // (DOCTORS * PER_DAY))
    first = scheduling.clinic_today() - dt.timedelta(days=days // 2)
    rng = random.Random(11)
    rows, booked_by = [], doctors[0]
    for n in range(size):
        doctor = doctors[n % DOCTORS]
        slot = (n // DOCTORS) % PER_DAY
        day = first + dt.timedelta(days=n // (DOCTORS * PER_DAY))
        start = dt.datetime.combine(day, dt.time(9, 0), zone) + dt.timedelta(minutes=30 * slot)
        rows.append({"id": uuid.uuid4(), "patient_id": patients[rng.randrange(PATIENTS)]["id"], "doctor_id": doctor,
                     "starts_at": start, "ends_at": start + dt.timedelta(minutes=30), "session_type": "follow_up",
                     "status": "booked", "reason": f"Review {n % 50}", "reschedules": 0, "booked_by": booked_by,
                     "created_at": now, "updated_at": now})
    with engine.begin() as conn:
        for start in range(0, len(rows), BATCH):
            conn.execute(insert(Appointment.__table__), rows[start:start + BATCH])
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE appointments"))
        conn.execute(text("ANALYZE patients"))
    return doctors, first + dt.timedelta(days=days // 2)


def _raw_day(engine, doctor_id: uuid.UUID, day: dt.date) -> list:  # type: ignore[no-untyped-def]
    start, end = scheduling.day_bounds(day)
    with engine.connect() as conn:
        return conn.execute(text("SELECT * FROM appointments WHERE doctor_id = :d AND starts_at >= :a AND starts_at < :b "
                                 "ORDER BY starts_at"), {"d": doctor_id, "a": start, "b": end}).mappings().all()


def _service_day(actor, doctor_id: uuid.UUID, day: dt.date):  # type: ignore[no-untyped-def]
    with unit_of_work() as session:
        return scheduling.day_schedule(session=session, actor=actor, doctor_id=doctor_id, day=day)


def day_view(engine, desk, size: int, repeats: int) -> dict:  # type: ignore[no-untyped-def]
    load_seconds, (doctors, day) = timed(_load_schedule, engine, size)
    service, raw, problems = [], [], []
    for i in range(repeats + 3):
        doctor = doctors[i % DOCTORS]
        t_service, schedule = timed(_service_day, desk, doctor, day)
        t_raw, rows = timed(_raw_day, engine, doctor, day)
        if [a.id for a in schedule.appointments] != [r["id"] for r in rows] or len(rows) != PER_DAY \
                or not all(a.mrn and a.patient_name for a in schedule.appointments):
            problems.append(f"doctor {i % DOCTORS}: service {len(schedule.appointments)} rows, raw {len(rows)}")
        if i >= 3:  # warm-up
            service.append(t_service)
            raw.append(t_raw)
    service_ms, raw_ms = median(service) * 1e3, median(raw) * 1e3
    return {"appointments": size, "load_seconds": load_seconds, "day_ms": service_ms, "day_raw_ms": raw_ms,
            "day_ratio": ratio(service_ms, raw_ms), "day_problems": problems, "repeats": len(service)}


def run(size: int = 100_000, bills: int = 1600, writers: int = 8, repeats: int = 100,
        admin_url: str = PG_ADMIN_URL) -> dict:
    with app_environment(), throwaway_postgres(admin_url) as url:
        engine = core_db.make_engine(url)
        upgrade(engine)
        core_db.use_engine(engine)
        desk = make_bench_user("receptionist", "bench.desk", "Bench Desk")
        with unit_of_work() as session:
            patient = patients.register_patient(session=session, actor=desk, data={
                "full_name": "Bench Patient", "age_years": 40, "phone": "+91 98200 99999"})
        result = issuing(url, desk, patient.id, bills, writers)
        result |= day_view(core_db.get_engine(), desk, size, repeats)
    print(report(result))
    return result


def report(r: dict) -> str:
    return "\n".join([
        "front_desk on PostgreSQL",
        f"  (a) {r['bills']} bills, {r['writers']} writer processes",
        f"      issue_bill (numbered, audited): {r['issue_per_s']:.0f} bills/s, median {r['issue_median_ms']:.2f} ms "
        f"each   target >= {TARGET_PER_S:g}/s: {verdict(r['issue_per_s'] >= TARGET_PER_S)}",
        f"      plain inserts (baseline):       {r['insert_per_s']:.0f} rows/s",
        f"      ratio baseline/issuing: {r['issue_ratio']:.2f}x   numbers 1..{r['bills']} without gaps: "
        f"{'yes' if r['numbers_ok'] else 'NO'}",
        f"  (b) day view among {r['appointments']} appointments (loaded in {r['load_seconds']:.1f} s), "
        f"{r['repeats']} views",
        f"      day_schedule (service): median {r['day_ms']:.3f} ms   target <= {TARGET_DAY_MS:g} ms: "
        f"{verdict(r['day_ms'] <= TARGET_DAY_MS)}",
        f"      raw SQL (baseline):     median {r['day_raw_ms']:.3f} ms",
        f"      ratio service/raw: {r['day_ratio']:.2f}x   wrong days: {len(r['day_problems'])}",
    ] + [f"    {p}" for p in r["day_problems"][:5]])


if __name__ == "__main__":
    cli(run, 100_000, "number of appointments in the table")
