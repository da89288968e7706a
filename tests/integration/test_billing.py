"""Billing on SQLite and PostgreSQL: bills of supply and tax invoices, gapless invoice numbers per Indian financial
year (also under 8 concurrent issuers), money to the paisa without floats (property tests), payments, partial
payments and refunds, voiding, clear per-field refusals that write nothing, who sees what, the reports, and
the PDF read back."""

from __future__ import annotations

import datetime as dt
import io
import re
import sys
import threading
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core import money
from core.config import reset_settings
from core.db import unit_of_work
from core.errors import Conflict, PermissionDenied, ValidationError
from core.models import Bill, BillItem, Payment, PriceItem
from core.services import billing
from core.services.counters import current_value
from tests.factories import make_bill, make_patient, price_item_id
from tests.integration.frontdesk import (
    IST,
    Clinic,
    clinic,
    clock_fixture,  # noqa: F401 - the `clock` fixture
    count,
)

HYPO = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
GSTIN = "27AAAPL1234C1Z5"


def call(fn, actor, **kw):  # type: ignore[no-untyped-def]
    with unit_of_work() as session:
        return fn(session=session, actor=actor, **kw)


def new_bill(c: Clinic, items=None, issue=False, **data):  # type: ignore[no-untyped-def]
    patient_id = data.pop("patient_id", c.patient_id)
    with unit_of_work() as session:
        return make_bill(session, actor=c.desk, patient_id=patient_id, items=items, issue=issue, **data)


def clone_drafts(template_id, n: int) -> list:  # type: ignore[no-untyped-def]
    """n copies of a draft made by the service (its row and lines), inserted in one transaction: the
    concurrency test is about issuing, and making 800 drafts one by one would dominate its time."""
    with unit_of_work() as session:
        bill = session.get(Bill, template_id)
        lines = session.exec(select(BillItem).where(BillItem.bill_id == bill.id)).scalars().all()
        ids = []
        for _ in range(n):
            copy = Bill(**bill.model_dump(exclude={"id"}))
            session.add(copy)
            session.flush()
            session.add_all(BillItem(**li.model_dump(exclude={"id", "bill_id"}), bill_id=copy.id) for li in lines)
            ids.append(copy.id)
    return ids


def pid(code: str):  # type: ignore[no-untyped-def]
    with unit_of_work() as session:
        return price_item_id(session, code)


@pytest.fixture
def gstin(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SYNAPSE_CLINIC_GSTIN", GSTIN)
    reset_settings()
    yield GSTIN
    monkeypatch.delenv("SYNAPSE_CLINIC_GSTIN")
    reset_settings()


def snapshot() -> tuple[int, int, int, int]:
    with unit_of_work() as session:
        numbered = len(session.exec(select(Bill.id).where(Bill.number.is_not(None))).all())
    return count(Bill), count(BillItem), count(Payment), numbered


# --- arithmetic (no database) ------------------------------------------------------------------------

LINE = st.tuples(st.integers(1, 500), st.integers(0, 5_000_000), st.sampled_from(billing.GST_RATES_BP),
                 st.integers(0, 100))


def decimal_line(quantity: int, unit: int, discount: int, rate_bp: int) -> tuple[int, int]:
    """The same rules computed independently with Decimal rupees: (taxable, one half of the GST) in paise."""
    taxable = Decimal(quantity) * Decimal(unit) / 100 - Decimal(discount) / 100
    half = (taxable * Decimal(rate_bp) / Decimal(20000)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return int(taxable * 100), int(half * 100)


@given(st.lists(LINE, min_size=1, max_size=20))
@settings(max_examples=300, deadline=None)
def test_totals_add_up_to_the_paisa_by_the_written_rules(lines):
    amounts = []
    for quantity, unit, rate, discount_pct in lines:
        discount = quantity * unit * discount_pct // 100
        a = money.line_amounts(quantity, unit, discount, rate)
        taxable, half = decimal_line(quantity, unit, discount, rate)
        assert (a.taxable, a.cgst, a.sgst) == (taxable, half, half)
        assert abs(Fraction(a.cgst) - Fraction(a.taxable * rate, 20000)) <= Fraction(1, 2)
        assert a.total == a.taxable + a.cgst + a.sgst and all(type(v) is int for v in vars(a).values())
        amounts.append(a)
    t = money.bill_totals(amounts)
    assert t.total == t.subtotal - t.discount + t.cgst + t.sgst == sum(a.total for a in amounts)
    assert t.taxable == t.subtotal - t.discount and t.cgst == t.sgst


@given(st.integers(0, 10**11))
@settings(max_examples=300, deadline=None)
def test_rupee_text_and_indian_formatting_round_trip(paise):
    text = money.format_inr(paise)
    assert re.fullmatch(r"₹\d{1,2}(,\d{2})*(,\d{3})?\.\d{2}|₹\d{1,3}\.\d{2}", text), text
    assert money.parse_rupees(text) == paise
    words = money.amount_in_words(paise)
    assert words.startswith("Rupees ") and words.endswith(" Only")


def test_amounts_in_words_use_lakh_and_crore():
    assert money.amount_in_words(12345678) == \
        "Rupees One Lakh Twenty-Three Thousand Four Hundred Fifty-Six and Seventy-Eight Paise Only"
    assert money.amount_in_words(25_00_00_000_00) == "Rupees Twenty-Five Crore Only"
    assert money.amount_in_words(105) == "Rupees One and Five Paise Only"
    assert money.format_inr(12345678) == "₹1,23,456.78" and money.format_inr(99_99_99_999_99) == "₹99,99,99,999.99"


@pytest.mark.parametrize("moment, year", [
    (dt.datetime(2027, 3, 31, 23, 59, 59, tzinfo=IST), "2627"), (dt.datetime(2027, 4, 1, 0, 0, tzinfo=IST), "2728"),
    (dt.datetime(2027, 3, 31, 18, 30, tzinfo=dt.UTC), "2728"), (dt.datetime(2099, 12, 31, tzinfo=IST), "9900"),
])
def test_financial_year_of_a_moment_in_the_clinic_zone(moment, year):
    assert billing.financial_year(moment) == year


# --- bills --------------------------------------------------------------------------------------------

def test_bill_of_supply_from_draft_to_paid(database, clock):
    c = clinic()
    draft = new_bill(c, items=[{"price_item_id": pid("CONS-NEW")},
                               {"price_item_id": pid("PROC-PSYT"), "quantity": 2, "discount": "500"}])
    assert (draft.status, draft.document_type, draft.number) == ("draft", "bill_of_supply", None)
    assert (draft.subtotal_paise, draft.discount_paise, draft.total_paise) == (550000, 50000, 500000)
    with pytest.raises(Conflict, match="issue it before taking a payment"):
        call(billing.record_payment, c.desk, bill_id=draft.id, amount="100", mode="cash")
    bill = call(billing.issue_bill, c.desk, bill_id=draft.id)
    assert (bill.number, bill.status, bill.financial_year) == ("INV/2930/000001", "issued", "2930")
    assert len(bill.number) <= 16 and re.fullmatch(r"[A-Z0-9/-]+", bill.number)
    bill = call(billing.record_payment, c.desk, bill_id=bill.id, amount="2,000.50", mode="upi", reference="UPI-4411")
    assert (bill.status, bill.paid_paise, bill.balance_paise) == ("partially_paid", 200050, 299950)
    bill = call(billing.record_payment, c.desk, bill_id=bill.id, amount=299950, mode="card")
    assert (bill.status, bill.balance_paise) == ("paid", 0)
    with pytest.raises(Conflict, match="paid: there is nothing to pay"):
        call(billing.record_payment, c.desk, bill_id=bill.id, amount="1", mode="cash")
    with pytest.raises(Conflict, match="its lines can no longer change"):
        call(billing.add_bill_items, c.desk, bill_id=bill.id, items=[{"price_item_id": pid("CONS-FU")}])
    bill = call(billing.record_refund, c.desk, bill_id=bill.id, amount="500", mode="cash", reason="Session shortened")
    assert (bill.status, bill.balance_paise, [p.kind for p in bill.payments]) == (
        "partially_paid", 50000, ["payment", "payment", "refund"])
    second = new_bill(c, issue=True)
    assert second.number == "INV/2930/000002"


def test_a_taxable_line_makes_a_tax_invoice_which_needs_the_gstin(database, clock, monkeypatch):
    c = clinic()
    draft = new_bill(c, items=[{"price_item_id": pid("CONS-FU")}, {"price_item_id": pid("MED-ESC10"), "quantity": 3}])
    assert draft.document_type == "tax_invoice"
    med = draft.lines[1]
    assert (med.taxable_paise, med.cgst_paise, med.sgst_paise, med.total_paise) == (19500, 488, 488, 20476)
    assert draft.total_paise == 80000 + 20476
    with pytest.raises(Conflict, match="SYNAPSE_CLINIC_GSTIN"):
        call(billing.issue_bill, c.desk, bill_id=draft.id)
    assert call(billing.get_bill, c.desk, bill_id=draft.id).number is None
    monkeypatch.setenv("SYNAPSE_CLINIC_GSTIN", GSTIN)
    reset_settings()
    try:
        issued = call(billing.issue_bill, c.desk, bill_id=draft.id)
    finally:
        monkeypatch.delenv("SYNAPSE_CLINIC_GSTIN")
        reset_settings()
    assert issued.number == "INV/2930/000001"  # the refused attempt used no number


def test_draft_lines_added_and_removed_keep_totals(database, clock):
    c = clinic()
    bill = new_bill(c, items=[])
    bill = call(billing.add_bill_items, c.desk, bill_id=bill.id, items=[
        {"description": "Reports photocopy", "unit_price": "10", "quantity": 4},
        {"price_item_id": pid("CONS-FU"), "discount_percent": "12.5"}])
    assert [li.description for li in bill.lines] == ["Reports photocopy", "Follow-up consultation"]
    assert bill.lines[1].discount_paise == 10000 and bill.total_paise == 4000 + 70000
    bill = call(billing.remove_bill_item, c.desk, bill_id=bill.id, item_id=bill.lines[0].id)
    assert [(li.position, li.description) for li in bill.lines] == [(1, "Follow-up consultation")]
    assert bill.total_paise == 70000
    with pytest.raises(ValidationError) as err:
        call(billing.issue_bill, c.desk, bill_id=new_bill(c, items=[]).id)
    assert err.value.fields == {"items": "Add at least one line before issuing the bill."}


def test_bad_input_gives_per_field_messages_and_writes_nothing(database, clock):
    c = clinic()
    issued = new_bill(c, issue=True)  # ₹800.00
    before = snapshot()

    def refused(fn, **kw) -> dict[str, str]:  # type: ignore[no-untyped-def]
        with pytest.raises(ValidationError) as err:
            call(fn, c.desk, **kw)
        assert snapshot() == before
        return err.value.fields

    fu = pid("CONS-FU")
    create = lambda items: refused(billing.create_bill, data={"patient_id": c.patient_id, "items": items})
    assert create([{"price_item_id": fu, "quantity": -2}]) == {
        "item_1_quantity": "Line 1: the quantity must be a whole number from 1 to 10,000."}
    assert create([{"price_item_id": fu, "quantity": 1.5}])["item_1_quantity"].startswith("Line 1: the quantity")
    assert create([{"price_item_id": fu}, {"price_item_id": fu, "discount": "900"}]) == {
        "item_2_discount": "Line 2: the discount (₹900.00) is more than the line total (₹800.00)."}
    assert create([{"price_item_id": fu, "discount": "-5"}]) == {"item_1_discount": "Line 1: The discount cannot be negative."}
    assert create([{"description": "Misc", "unit_price": 99.5}]) == {"item_1_unit_price": (
        "Line 1: The unit price must be whole paise (an integer) or rupees as text, never a fraction of a paisa.")}
    assert create([{"description": "Misc", "unit_price": "12.345"}]) == {
        "item_1_unit_price": "Line 1: The unit price can have at most two decimals (paise)."}
    assert create([{"unit_price": "100"}]) == {"item_1_description": "Line 1: Enter the description."}
    assert create([{"description": "Misc", "unit_price": "100", "tax_rate": "7"}])["item_1_tax_rate"].startswith(
        "Line 1: Choose a GST rate: 0%, 0.25%, 3%, 5%, 12%, 18%, 28% or 40%")
    assert refused(billing.create_bill, data={"items": []}) == {"patient_id": "Choose the patient."}

    pay = lambda **kw: refused(billing.record_payment, bill_id=issued.id, **kw)
    assert pay(amount="900", mode="cash") == {"amount": (
        "₹900.00 is more than the balance due (₹800.00). Take what is due; to give money back, record a refund.")}
    assert pay(amount="0", mode="cash") == {"amount": "The amount must be more than zero."}
    assert pay(amount=-100, mode="cash") == {"amount": "The amount cannot be negative."}
    assert pay(amount=10.0, mode="cash")["amount"].endswith("never a fraction of a paisa.")
    assert pay(amount="100", mode="cheque") == {"mode": "Choose cash, card, UPI or bank transfer."}
    assert pay(amount="100", mode="upi") == {"reference": "Enter the UPI transaction reference."}
    assert refused(billing.record_refund, bill_id=issued.id, amount="1", mode="cash", reason="x") == {
        "amount": "You can refund at most what was paid (₹0.00).",
        "reason": "Say why the money is refunded (at least 3 characters)."}
    assert refused(billing.void_bill, bill_id=issued.id, reason="oops") == {
        "reason": "Say why the bill is void (at least 5 characters)."}


def test_void_keeps_the_number_and_needs_refunds_first(database, clock):
    c = clinic()
    bill = new_bill(c, issue=True)
    call(billing.record_payment, c.desk, bill_id=bill.id, amount="300", mode="cash")
    with pytest.raises(Conflict, match=re.escape("Refund the ₹300.00 received before voiding")):
        call(billing.void_bill, c.desk, bill_id=bill.id, reason="Billed the wrong patient")
    call(billing.record_refund, c.desk, bill_id=bill.id, amount="300", mode="cash", reason="Wrong patient")
    void = call(billing.void_bill, c.desk, bill_id=bill.id, reason="Billed the wrong patient")
    assert (void.status, void.number, void.void_reason, void.balance_paise) == (
        "void", "INV/2930/000001", "Billed the wrong patient", 0)
    assert new_bill(c, issue=True).number == "INV/2930/000002"
    assert count(Bill) == 2  # never deleted
    with pytest.raises(Conflict, match="already void"):
        call(billing.void_bill, c.desk, bill_id=bill.id, reason="Again and again")


def test_a_rolled_back_issue_gives_its_number_back(database, clock):
    c = clinic()
    draft = new_bill(c)
    with pytest.raises(RuntimeError), unit_of_work() as session:
        assert billing.issue_bill(session=session, actor=c.desk, bill_id=draft.id).number == "INV/2930/000001"
        raise RuntimeError("the printer caught fire")
    assert call(billing.issue_bill, c.desk, bill_id=draft.id).number == "INV/2930/000001"


def test_numbering_restarts_at_the_financial_year_boundary_in_ist(database, clock):
    c = clinic()
    drafts = [new_bill(c) for _ in range(4)]
    moments = [dt.datetime(2030, 3, 31, 23, 59, 0, tzinfo=IST), dt.datetime(2030, 3, 31, 23, 59, 59, tzinfo=IST),
               dt.datetime(2030, 4, 1, 0, 0, 0, tzinfo=IST), dt.datetime(2030, 4, 1, 0, 0, 1, tzinfo=IST)]
    numbers = []
    for draft, moment in zip(drafts, moments, strict=True):
        clock.set(moment)
        numbers.append(call(billing.issue_bill, c.desk, bill_id=draft.id).number)
    assert numbers == ["INV/2930/000001", "INV/2930/000002", "INV/3031/000001", "INV/3031/000002"]
    with unit_of_work() as session:
        assert (current_value(session, "invoice:2930"), current_value(session, "invoice:3031")) == (2, 2)


def test_concurrent_issuers_get_consecutive_numbers_without_gaps(database, clock):
    threads, per_thread = (8, 100) if database.kind == "postgres" else (4, 25)
    c = clinic()
    template = new_bill(c)
    ids = clone_drafts(template.id, threads * per_thread - 1) + [template.id]
    drafts = [ids[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads)
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def issue(mine: list) -> None:
        barrier.wait()
        try:
            for bill_id in mine:
                with unit_of_work() as session:
                    number = billing.issue_bill(session=session, actor=c.desk, bill_id=bill_id).number
                with lock:
                    numbers.append(number)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=issue, args=(d,)) for d in drafts]
    # A thread holding the counter's lock waits for the GIL after each round trip while the others run
    # Python; the default 5 ms hand-over would make this test slow, not different.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[:3]
    total = threads * per_thread
    assert sorted(numbers) == [f"INV/2930/{n:06d}" for n in range(1, total + 1)]
    with unit_of_work() as session:
        stored = session.exec(select(Bill.number_seq).where(Bill.financial_year == "2930")).scalars().all()
        assert sorted(stored) == list(range(1, total + 1))
        assert current_value(session, "invoice:2930") == total


@given(st.lists(st.tuples(st.integers(1, 20), st.integers(0, 500_000), st.sampled_from((0, 500, 1800)),
                          st.integers(0, 100)), min_size=1, max_size=6))
@HYPO
def test_stored_bills_add_up_to_the_paisa(database, clock, lines):
    c = getattr(test_stored_bills_add_up_to_the_paisa, "_clinic", {}).get(database.url)
    if c is None:
        c = clinic()
        test_stored_bills_add_up_to_the_paisa.__dict__.setdefault("_clinic", {})[database.url] = c
    items = [{"description": f"Item {i}", "quantity": q, "unit_price": u, "tax_rate": r,
              "discount": q * u * d // 100} for i, (q, u, r, d) in enumerate(lines)]
    bill = new_bill(c, items=items)
    with unit_of_work() as session:
        stored = session.get(Bill, bill.id)
        rows = session.exec(select(BillItem).where(BillItem.bill_id == bill.id)).scalars().all()
        assert stored.total_paise == sum(r.total_paise for r in rows) == bill.total_paise
        assert stored.total_paise == stored.subtotal_paise - stored.discount_paise + stored.cgst_paise + stored.sgst_paise
        assert all(type(v) is int for v in (stored.total_paise, stored.cgst_paise, stored.taxable_paise))
    assert bill.document_type == ("tax_invoice" if any(r for _, _, r, _ in lines) else "bill_of_supply")


# --- roles and reports ---------------------------------------------------------------------------------

def test_receptionists_bill_without_clinical_content_managers_see_totals_only(database, clock):
    c = clinic()
    from core.services import consultations

    manager, admin = c.manager, c.admin
    with unit_of_work() as session:
        consult = consultations.start_consultation(session=session, actor=c.doctor, patient_id=c.patient_id, data={
            "chief_complaint": "Hears voices at night", "record": False})
    refs = call(billing.billable_consultations, c.desk, patient_id=c.patient_id)
    assert [r.code for r in refs] == [consult.code] and "voices" not in str([r.model_dump() for r in refs])
    bill = new_bill(c, consultation_id=consult.id, issue=True)
    detail = call(billing.get_bill, c.desk, bill_id=bill.id)
    assert detail.consultation_code == consult.code and "voices" not in detail.model_dump_json()
    with pytest.raises(ValidationError) as err:
        with unit_of_work() as session:
            other = make_patient(session, actor=c.desk)
        new_bill(c, patient_id=other.id, consultation_id=consult.id)
    assert err.value.fields == {"consultation_id": "That consultation is not this patient's."}

    dues = call(billing.outstanding_dues, manager)
    assert dues.identities_hidden and dues.rows == [] and dues.total_paise == 80000
    collections = call(billing.daily_collections, manager)
    assert collections.identities_hidden and collections.rows == []
    for fn, kw in ((billing.get_bill, {"bill_id": bill.id}), (billing.list_bills, {}),
                   (billing.bill_pdf, {"bill_id": bill.id}), (billing.patient_bills, {"patient_id": c.patient_id}),
                   (billing.create_bill, {"data": {"patient_id": c.patient_id}})):
        with pytest.raises(PermissionDenied):
            call(fn, manager, **kw)
    assert c.patient_name not in dues.model_dump_json() + collections.model_dump_json()

    assert [b.number for b in call(billing.patient_bills, c.doctor, patient_id=c.patient_id)] == [bill.number]
    with pytest.raises(PermissionDenied):
        call(billing.patient_bills, c.other_doctor, patient_id=c.patient_id)
    with pytest.raises(PermissionDenied):
        call(billing.create_bill, c.doctor, data={"patient_id": c.patient_id})
    with pytest.raises(PermissionDenied):
        call(billing.save_price_item, c.desk, data={"code": "X-1", "name": "X", "unit_price": "1"})
    with pytest.raises(PermissionDenied):
        call(billing.issue_bill, admin, bill_id=bill.id)


def test_dues_are_aged_and_collections_summed_by_mode(database, clock):
    c = clinic()
    issued_on = {}
    for days_ago in (5, 45, 75, 120):
        clock.set(dt.datetime(2030, 1, 7, 10, 0, tzinfo=IST) - dt.timedelta(days=days_ago))
        issued_on[days_ago] = new_bill(c, issue=True)
    clock.set(dt.datetime(2030, 1, 7, 11, 0, tzinfo=IST))
    call(billing.record_payment, c.desk, bill_id=issued_on[45].id, amount="300", mode="upi", reference="U1")
    call(billing.record_payment, c.desk, bill_id=issued_on[5].id, amount="800", mode="cash")
    call(billing.record_refund, c.desk, bill_id=issued_on[5].id, amount="100", mode="cash", reason="Overcharged")
    call(billing.record_payment, c.desk, bill_id=issued_on[120].id, amount="200", mode="card")
    dues = call(billing.outstanding_dues, c.desk, as_of=dt.date(2030, 1, 7))
    assert dues.buckets == {"0–30 days": 10000, "31–60 days": 50000, "61–90 days": 80000, "90+ days": 60000}
    assert dues.counts == {"0–30 days": 1, "31–60 days": 1, "61–90 days": 1, "90+ days": 1}
    assert dues.total_paise == 200000 and [r.days for r in dues.rows] == [120, 75, 45, 5]
    assert dues.rows[0].mrn == c.patient_mrn and dues.rows[0].patient_name == "Sunita Patil"
    report = call(billing.daily_collections, c.desk, day=dt.date(2030, 1, 7))
    assert report.received == {"cash": 80000, "card": 20000, "upi": 30000, "bank_transfer": 0}
    assert report.refunded == {"cash": 10000, "card": 0, "upi": 0, "bank_transfer": 0}
    assert (report.total_received_paise, report.total_refunded_paise, report.total_net_paise, report.count) == (
        130000, 10000, 120000, 4)
    assert [r.bill_number for r in report.rows] == [issued_on[d].number for d in (45, 5, 5, 120)]
    assert call(billing.daily_collections, c.desk, day=dt.date(2030, 1, 8)).count == 0


def test_price_list_is_seeded_and_admin_edits_it(database, clock):
    c = clinic()
    admin = c.admin
    items = call(billing.list_price_items, c.desk)
    codes = {i.code: i for i in items}
    assert {"CONS-NEW", "CONS-FU", "CONS-STD", "CONS-EMG", "PROC-PSYT", "MED-ESC10"} <= codes.keys()
    assert codes["CONS-FU"].session_type == "follow_up" and codes["CONS-FU"].tax_rate_bp == 0
    assert [i.kind for i in items] == sorted((i.kind for i in items), key=("consultation", "procedure", "medicine",
                                                                           "other").index)
    fee = call(billing.consultation_fee_item, c.desk, session_type="new_patient")
    assert fee.code == "CONS-NEW" and fee.unit_price_paise == 150000
    code = f"T-{abs(hash(database.url)) % 10**6}"
    created = call(billing.save_price_item, admin, data={"code": code.lower(), "name": "Group therapy",
                                                         "kind": "procedure", "unit_price": "1,200", "tax_rate": "18"})
    assert (created.code, created.unit_price_paise, created.tax_rate_bp) == (code, 120000, 1800)
    with pytest.raises(ValidationError) as err:
        call(billing.save_price_item, admin, data={"code": code, "name": "Dup", "unit_price": "1"})
    assert err.value.fields == {"code": f"The code {code} is already used by Group therapy."}
    with pytest.raises(ValidationError) as err:
        call(billing.save_price_item, admin, data={"code": "bad code!", "name": "", "unit_price": "-1", "tax_rate": "13"})
    assert set(err.value.fields) == {"code", "name", "unit_price", "tax_rate"}
    call(billing.save_price_item, admin, data=created.model_dump() | {"unit_price": created.unit_price_paise,
                                                                       "tax_rate": created.tax_rate_bp, "active": False})
    assert code not in {i.code for i in call(billing.list_price_items, c.desk)}
    with pytest.raises(ValidationError, match="current price list"):
        new_bill(c, items=[{"price_item_id": created.id}])
    with unit_of_work() as session:  # leave the reference table as the migration made it (PostgreSQL keeps it)
        session.delete(session.get(PriceItem, created.id))


# --- PDF ----------------------------------------------------------------------------------------------

def test_pdf_reads_back_number_totals_in_words_and_balance(database, clock, gstin):
    from pypdf import PdfReader

    c = clinic()
    bill = new_bill(c, items=[{"price_item_id": pid("CONS-NEW")}, {"price_item_id": pid("MED-SER50"), "quantity": 2,
                                                                   "discount": "10"}], issue=True)
    assert bill.document_type == "tax_invoice" and bill.total_paise == 150000 + 15750
    call(billing.record_payment, c.desk, bill_id=bill.id, amount="1,000", mode="upi", reference="UPI-99")
    pdf = call(billing.bill_pdf, c.desk, bill_id=bill.id)
    assert pdf.startswith(b"%PDF-")
    words = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "TAX INVOICE" in words and f"Invoice number: {bill.number}" in words and f"GSTIN: {GSTIN}" in words
    assert "Rupees One Thousand Six Hundred Fifty-Seven and Fifty Paise Only" in words
    assert "Sunita Patil" in words and c.patient_mrn in words and "UPI-99" in words
    assert re.search(r"Balance due (₹|Rs\. )657\.50", words), words
    assert re.search(r"CGST (₹|Rs\. )3\.75", words) and re.search(r"Total (₹|Rs\. )1,657\.50", words)
