"""Billing: the price list, bills (draft → issued → partially paid → paid, or void with a reason; never
deleted), line items with quantity, discount and GST, payments and refunds, invoice numbers assigned at
issue (gapless per Indian financial year), the bill's PDF, outstanding dues with ageing and the daily
collection summary.

Money is integer paise throughout (core.money has the rounding rules). Amounts given to these functions are
either int (paise) or text in rupees as typed ("1,500.50"); a float is refused.

Who: receptionists bill and take payments (BILLING_MANAGE); managers read the dues and collection reports
as totals only, with no patient identity (BILLING_REPORTS); admins keep the price list; a doctor sees the
bills of a patient in their care (totals and status). No function here returns clinical content: a linked
consultation appears as its code and date only."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlmodel import Session

from core import money
from core.config import get_settings
from core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from core.models import AuditHead, Bill, BillItem, Consultation, Patient, Payment, PriceItem, User
from core.models.base import utcnow
from core.models.billing import PAYMENT_MODES, PRICE_KINDS
from core.security.crypto import is_undecryptable
from core.security.rbac import Actor, Permission, permitted, require
from core.services import audit
from core.services.access import as_uuid, clinical_access, load_patient
from core.services.counters import next_value
from core.validation import FieldProblem, clean_text, parse_input

STATUS_LABELS = {"draft": "Draft", "issued": "Issued", "partially_paid": "Partially paid", "paid": "Paid",
                 "void": "Void"}
DOCUMENT_LABELS = {"bill_of_supply": "Bill of supply", "tax_invoice": "Tax invoice"}
MODE_LABELS = {"cash": "Cash", "card": "Card", "upi": "UPI", "bank_transfer": "Bank transfer"}
KIND_LABELS = {"consultation": "Consultation", "procedure": "Procedure", "medicine": "Medicine", "other": "Other"}
GST_RATES_BP = (0, 25, 300, 500, 1200, 1800, 2800, 4000)
AGEING_BUCKETS = (("0–30 days", 0, 30), ("31–60 days", 31, 60), ("61–90 days", 61, 90), ("90+ days", 91, None))
MAX_LINES = 100
MAX_QUANTITY = 10_000
OPEN_STATUSES = ("issued", "partially_paid")
NUMBER_RE = re.compile(r"^INV/\d{4}/\d{6,7}$")


# --- numbers -----------------------------------------------------------------------------------------

def financial_year(at: dt.datetime) -> str:
    """The Indian financial year (1 April – 31 March) of a moment, in the clinic's zone: '2627' for FY 2026-27."""
    local = at.astimezone(get_settings().zone)
    start = local.year if local.month >= 4 else local.year - 1
    return f"{start % 100:02d}{(start + 1) % 100:02d}"


def invoice_number(year: str, seq: int) -> str:
    if seq > 9_999_999:
        raise Conflict("This financial year's invoice numbers are exhausted.")
    return f"INV/{year}/{seq:06d}"  # 15 characters (16 from the millionth bill on)


def counter_name(year: str) -> str:
    return f"invoice:{year}"


# --- inputs and outputs --------------------------------------------------------------------------------

class LineInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    price_item_id: uuid.UUID | None = None
    description: str | None = None
    quantity: object = 1
    unit_price: object = None  # int paise, or rupees as text; default: the price item's price
    discount: object = 0       # int paise, or rupees as text
    discount_percent: str | None = None  # alternative to discount: percent of the line's gross amount
    tax_rate: object = None    # int basis points (1800 = 18%), or percent as text; default: the price item's


class BillCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    patient_id: uuid.UUID | None = None
    consultation_id: uuid.UUID | None = None
    items: list[dict] = []
    notes: str | None = None


class PriceItemInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    id: uuid.UUID | None = None
    code: str | None = None
    name: str | None = None
    kind: str = "other"
    session_type: str | None = None
    hsn_sac: str | None = None
    unit_price: object = None
    tax_rate: object = 0
    active: bool = True


class PriceItemPublic(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    kind: str
    session_type: str | None
    hsn_sac: str | None
    unit_price_paise: int
    tax_rate_bp: int
    active: bool


class BillLine(BaseModel):
    id: uuid.UUID
    position: int
    description: str
    kind: str
    hsn_sac: str | None
    quantity: int
    unit_price_paise: int
    discount_paise: int
    tax_rate_bp: int
    taxable_paise: int
    cgst_paise: int
    sgst_paise: int
    total_paise: int


class PaymentRow(BaseModel):
    id: uuid.UUID
    kind: str
    mode: str
    amount_paise: int
    reference: str | None
    reason: str | None
    received_at: dt.datetime
    received_by: str | None
    bill_number: str | None = None
    mrn: str | None = None


class BillRow(BaseModel):
    id: uuid.UUID
    number: str | None
    status: str
    document_type: str
    patient_id: uuid.UUID
    mrn: str
    patient_name: str
    total_paise: int
    paid_paise: int
    balance_paise: int
    created_at: dt.datetime
    issued_at: dt.datetime | None


class BillDetail(BillRow):
    financial_year: str | None
    consultation_id: uuid.UUID | None
    consultation_code: str | None
    lines: list[BillLine]
    subtotal_paise: int
    discount_paise: int
    taxable_paise: int
    cgst_paise: int
    sgst_paise: int
    payments: list[PaymentRow]
    notes: str | None
    issued_by: str | None
    voided_at: dt.datetime | None
    void_reason: str | None


class DuesRow(BaseModel):
    bill_id: uuid.UUID
    number: str
    mrn: str
    patient_name: str
    issued_on: dt.date
    days: int
    bucket: str
    balance_paise: int


class DuesReport(BaseModel):
    as_of: dt.date
    buckets: dict[str, int]        # bucket label -> balance in paise
    counts: dict[str, int]         # bucket label -> number of bills
    total_paise: int
    rows: list[DuesRow]            # empty for managers (totals only)
    identities_hidden: bool


class CollectionReport(BaseModel):
    day: dt.date
    received: dict[str, int]       # mode -> paise received
    refunded: dict[str, int]       # mode -> paise refunded
    net: dict[str, int]
    count: int
    total_received_paise: int
    total_refunded_paise: int
    total_net_paise: int
    rows: list[PaymentRow]         # empty for managers (totals only)
    identities_hidden: bool


class ConsultationRef(BaseModel):
    """What billing may know of a consultation: no clinical content."""

    id: uuid.UUID
    code: str
    started_at: dt.datetime
    session_type: str
    doctor_name: str | None


# --- validation helpers --------------------------------------------------------------------------------

def _paise(value: object, label: str) -> int:
    """int -> paise as given; str -> rupees parsed exactly; anything else (a float above all) refused."""
    if money.is_int(value):
        if value < 0:  # type: ignore[operator]
            raise FieldProblem(f"The {label} cannot be negative.")
        if value > money.MAX_AMOUNT_PAISE:  # type: ignore[operator]
            raise FieldProblem(f"The {label} is too large.")
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        try:
            return money.parse_rupees(value, field=label)
        except money.MoneyError as exc:
            raise FieldProblem(str(exc)) from exc
    if isinstance(value, (float, Decimal)):
        raise FieldProblem(f"The {label} must be whole paise (an integer) or rupees as text, never a fraction of a paisa.")
    raise FieldProblem(f"Enter the {label}.")


def _rate_bp(value: object) -> int:
    if money.is_int(value):
        bp = value
    elif isinstance(value, str) and re.fullmatch(r"\d{1,2}(\.\d{1,2})?%?", value.strip()):
        bp = int(Decimal(value.strip().rstrip("%")) * 100)
    else:
        bp = None
    if bp not in GST_RATES_BP:
        rates = [money.format_rate(r) for r in GST_RATES_BP]
        raise FieldProblem("Choose a GST rate: " + ", ".join(rates[:-1]) + " or " + rates[-1] + ".")
    return bp  # type: ignore[return-value]


def _plain(value: object) -> str | None:
    if value is None:
        return None
    return str(value) if is_undecryptable(value) else value  # type: ignore[return-value]


def _validated_line(session: Session, n: int, raw: object, errors: dict[str, str]) -> dict | None:
    """Line n (from 1) checked field by field; problems go into `errors` as item_<n>_<field>: 'Line n: …'."""
    try:
        line = parse_input(LineInput, raw)
    except ValidationError as exc:
        errors.update({f"item_{n}_{k}": f"Line {n}: {v}" for k, v in exc.fields.items()})
        return None
    price = session.get(PriceItem, line.price_item_id) if line.price_item_id else None
    if line.price_item_id and (price is None or not price.active):
        errors[f"item_{n}_price_item_id"] = f"Line {n}: choose an item from the current price list."
        return None

    def check(field: str, fn):  # type: ignore[no-untyped-def]
        try:
            return fn()
        except FieldProblem as exc:
            errors[f"item_{n}_{field}"] = f"Line {n}: {exc}"
            return None

    description = check("description", lambda: clean_text(
        line.description if line.description else (price.name if price else None), field="description",
        max_length=200))
    quantity = line.quantity
    if not money.is_int(quantity) or not 1 <= quantity <= MAX_QUANTITY:  # type: ignore[operator]
        errors[f"item_{n}_quantity"] = f"Line {n}: the quantity must be a whole number from 1 to {MAX_QUANTITY:,}."
        quantity = None
    unit = check("unit_price", lambda: _paise(line.unit_price if line.unit_price is not None else
                                               (price.unit_price_paise if price else None), "unit price"))
    rate = check("tax_rate", lambda: _rate_bp(line.tax_rate if line.tax_rate is not None else
                                             (price.tax_rate_bp if price else 0)))
    if line.discount_percent not in (None, "") and line.discount not in (0, None, ""):
        errors[f"item_{n}_discount"] = f"Line {n}: give the discount as an amount or a percentage, not both."
        return None
    if quantity is None or unit is None:
        return None
    gross = quantity * unit
    if line.discount_percent not in (None, ""):
        try:
            discount = money.percent_of(gross, line.discount_percent)
        except money.MoneyError as exc:
            errors[f"item_{n}_discount"] = f"Line {n}: {exc}"
            return None
    else:
        discount = check("discount", lambda: _paise(line.discount if line.discount not in (None, "") else 0, "discount"))
        if discount is None:
            return None
    if discount > gross:
        errors[f"item_{n}_discount"] = (f"Line {n}: the discount ({money.format_inr(discount)}) is more than the "
                                        f"line total ({money.format_inr(gross)}).")
        return None
    if description is None or rate is None:
        return None
    return {"price_item_id": price.id if price else None, "description": description,
            "kind": price.kind if price else "other", "hsn_sac": price.hsn_sac if price else None,
            "quantity": quantity, "unit_price_paise": unit, "discount_paise": discount, "tax_rate_bp": rate,
            "amounts": money.line_amounts(quantity, unit, discount, rate)}


def _validated_lines(session: Session, items: list, start_position: int = 1) -> list[dict]:
    """Every line checked at once; errors keyed item_<n>_<field> (n counts from 1) and say 'Line n: …'."""
    if not isinstance(items, list):
        raise ValidationError({"items": "The lines are not in the expected shape."})
    if len(items) + start_position - 1 > MAX_LINES:
        raise ValidationError({"items": f"A bill has at most {MAX_LINES} lines."})
    errors: dict[str, str] = {}
    lines = [_validated_line(session, start_position + offset, raw, errors) for offset, raw in enumerate(items)]
    if errors:
        raise ValidationError(errors)
    return [line for line in lines if line is not None]


# --- loading and presenting ------------------------------------------------------------------------------

def _load(session: Session, bill_id: object, *, lock: bool = False) -> Bill:
    query = select(Bill).where(Bill.id == as_uuid(bill_id, "bill"))
    bill = session.exec(query.with_for_update() if lock else query).scalars().first()
    if bill is None:
        raise NotFound("No such bill.")
    return bill


def _items(session: Session, bill: Bill) -> list[BillItem]:
    return list(session.exec(select(BillItem).where(BillItem.bill_id == bill.id).order_by(BillItem.position)).scalars())


def _retotal(session: Session, bill: Bill, items: list[BillItem] | None = None) -> None:
    items = _items(session, bill) if items is None else items
    totals = money.bill_totals([money.line_amounts(i.quantity, i.unit_price_paise, i.discount_paise, i.tax_rate_bp)
                                for i in items])
    bill.subtotal_paise, bill.discount_paise, bill.taxable_paise = totals.subtotal, totals.discount, totals.taxable
    bill.cgst_paise, bill.sgst_paise, bill.total_paise = totals.cgst, totals.sgst, totals.total
    bill.document_type = "tax_invoice" if any(i.tax_rate_bp > 0 for i in items) else "bill_of_supply"
    bill.updated_at = utcnow()
    session.add(bill)


def _add_lines(session: Session, bill: Bill, lines: list[dict], first_position: int) -> None:
    for offset, line in enumerate(lines):
        a: money.LineAmounts = line["amounts"]
        session.add(BillItem(bill_id=bill.id, position=first_position + offset, price_item_id=line["price_item_id"],
                             description=line["description"], kind=line["kind"], hsn_sac=line["hsn_sac"],
                             quantity=line["quantity"], unit_price_paise=line["unit_price_paise"],
                             discount_paise=line["discount_paise"], tax_rate_bp=line["tax_rate_bp"],
                             taxable_paise=a.taxable, cgst_paise=a.cgst, sgst_paise=a.sgst, total_paise=a.total))
    session.flush()


def _names(session: Session, ids: set) -> dict:
    ids = {i for i in ids if i}
    return {r[0]: r[1] for r in session.exec(select(User.id, User.full_name).where(User.id.in_(ids))).all()} if ids else {}


def _people(session: Session, patient_ids: set) -> dict:
    if not patient_ids:
        return {}
    rows = session.exec(select(Patient.id, Patient.mrn, Patient.full_name).where(Patient.id.in_(patient_ids))).all()
    return {r[0]: (r[1], _plain(r[2]) or "") for r in rows}


def _row(bill: Bill, person: tuple[str, str]) -> dict:
    return {"id": bill.id, "number": bill.number, "status": bill.status, "document_type": bill.document_type,
            "patient_id": bill.patient_id, "mrn": person[0], "patient_name": person[1],
            "total_paise": bill.total_paise, "paid_paise": bill.paid_paise,
            "balance_paise": 0 if bill.status in ("void", "draft") else bill.total_paise - bill.paid_paise,
            "created_at": bill.created_at, "issued_at": bill.issued_at}


def _payment_rows(session: Session, payments: list[Payment]) -> list[PaymentRow]:
    names = _names(session, {p.received_by for p in payments})
    return [PaymentRow(id=p.id, kind=p.kind, mode=p.mode, amount_paise=p.amount_paise, reference=p.reference,
                       reason=_plain(p.reason), received_at=p.received_at, received_by=names.get(p.received_by))
            for p in payments]


def _detail(session: Session, bill: Bill, items: list[BillItem] | None = None) -> BillDetail:
    person = _people(session, {bill.patient_id}).get(bill.patient_id, ("?", "?"))
    payments = [] if bill.status == "draft" else list(session.exec(
        select(Payment).where(Payment.bill_id == bill.id).order_by(Payment.received_at)).scalars())
    code = session.exec(select(Consultation.code).where(Consultation.id == bill.consultation_id)).scalar_one_or_none() \
        if bill.consultation_id else None
    names = _names(session, {bill.issued_by})
    return BillDetail(
        **_row(bill, person), financial_year=bill.financial_year, consultation_id=bill.consultation_id,
        consultation_code=code,
        lines=[BillLine(id=i.id, position=i.position, description=_plain(i.description) or "", kind=i.kind,
                        hsn_sac=i.hsn_sac, quantity=i.quantity, unit_price_paise=i.unit_price_paise,
                        discount_paise=i.discount_paise, tax_rate_bp=i.tax_rate_bp, taxable_paise=i.taxable_paise,
                        cgst_paise=i.cgst_paise, sgst_paise=i.sgst_paise, total_paise=i.total_paise)
               for i in (_items(session, bill) if items is None else items)],
        subtotal_paise=bill.subtotal_paise, discount_paise=bill.discount_paise, taxable_paise=bill.taxable_paise,
        cgst_paise=bill.cgst_paise, sgst_paise=bill.sgst_paise, payments=_payment_rows(session, payments),
        notes=_plain(bill.notes), issued_by=names.get(bill.issued_by), voided_at=bill.voided_at,
        void_reason=_plain(bill.void_reason))


def _consultation_for(session: Session, patient: Patient, consultation_id: object) -> uuid.UUID | None:
    if consultation_id in (None, ""):
        return None
    row = session.get(Consultation, as_uuid(consultation_id, "consultation"))
    if row is None or row.patient_id != patient.id:
        raise ValidationError({"consultation_id": "That consultation is not this patient's."})
    return row.id


# --- the price list -----------------------------------------------------------------------------------

def _price_public(p: PriceItem) -> PriceItemPublic:
    return PriceItemPublic(id=p.id, code=p.code, name=p.name, kind=p.kind, session_type=p.session_type,
                           hsn_sac=p.hsn_sac, unit_price_paise=p.unit_price_paise, tax_rate_bp=p.tax_rate_bp,
                           active=p.active)


def list_price_items(*, session: Session, actor: Actor, include_inactive: bool = False) -> list[PriceItemPublic]:
    if not any(permitted(actor.role, p) for p in (Permission.BILLING_MANAGE, Permission.PRICE_LIST_MANAGE,
                                                   Permission.BILLING_REPORTS)):
        raise PermissionDenied()
    query = select(PriceItem)
    if not include_inactive:
        query = query.where(PriceItem.active.is_(True))
    kind_order = {k: i for i, k in enumerate(PRICE_KINDS)}
    items = [_price_public(p) for p in session.exec(query).scalars()]
    return sorted(items, key=lambda p: (kind_order.get(p.kind, 9), p.name.casefold()))


def save_price_item(*, session: Session, actor: Actor, data: object) -> PriceItemPublic:
    """Create (no id) or change a price list item. Existing bills keep the price they were made with."""
    require(actor, Permission.PRICE_LIST_MANAGE)
    payload = parse_input(PriceItemInput, data)
    errors: dict[str, str] = {}
    values: dict = {}

    def check(field: str, fn):  # type: ignore[no-untyped-def]
        try:
            values[field] = fn()
        except FieldProblem as exc:
            errors[field] = str(exc)

    check("code", lambda: clean_text(payload.code, field="code", max_length=20))
    if values.get("code") and not re.fullmatch(r"[A-Z0-9][A-Z0-9-]{0,19}", values["code"].upper()):
        errors["code"] = "Use capital letters, digits and dashes for the code (e.g. CONS-FU)."
    check("name", lambda: clean_text(payload.name, field="name", max_length=120))
    if payload.kind not in PRICE_KINDS:
        errors["kind"] = "Choose consultation, procedure, medicine or other."
    if payload.session_type not in (None, "", "new_patient", "follow_up", "consultation", "emergency"):
        errors["session_type"] = "Choose a session type, or none."
    check("hsn_sac", lambda: clean_text(payload.hsn_sac, field="HSN/SAC code", max_length=8, required=False))
    if values.get("hsn_sac") and not values["hsn_sac"].isdigit():
        errors["hsn_sac"] = "The HSN/SAC code is 4 to 8 digits."
    check("unit_price", lambda: _paise(payload.unit_price, "price"))
    check("tax_rate", lambda: _rate_bp(payload.tax_rate))
    if errors:
        raise ValidationError(errors)
    code = values["code"].upper()
    clash = session.exec(select(PriceItem).where(PriceItem.code == code)).scalars().first()
    if payload.id is None:
        if clash is not None:
            raise ValidationError({"code": f"The code {code} is already used by {clash.name}."})
        item = PriceItem(code=code, name="", kind="other", unit_price_paise=0)
    else:
        item = session.get(PriceItem, payload.id)
        if item is None:
            raise NotFound("No such price list item.")
        if clash is not None and clash.id != item.id:
            raise ValidationError({"code": f"The code {code} is already used by {clash.name}."})
    item.code, item.name, item.kind = code, values["name"], payload.kind
    item.session_type = payload.session_type or None
    item.hsn_sac, item.unit_price_paise, item.tax_rate_bp = values["hsn_sac"], values["unit_price"], values["tax_rate"]
    item.active, item.updated_at = payload.active, utcnow()
    session.add(item)
    session.flush()
    audit.record(session, actor=actor, action="price_item.save", entity="price_item", entity_id=item.id,
                 details={"code": code, "price_paise": item.unit_price_paise, "tax_bp": item.tax_rate_bp,
                          "active": item.active})
    return _price_public(item)


def consultation_fee_item(*, session: Session, actor: Actor, session_type: str) -> PriceItemPublic | None:
    """The active price list item for a consultation of this session type, if any."""
    require(actor, Permission.BILLING_MANAGE)
    item = session.exec(select(PriceItem).where(PriceItem.kind == "consultation", PriceItem.session_type == session_type,
                                                PriceItem.active.is_(True)).order_by(PriceItem.code)).scalars().first()
    return _price_public(item) if item else None


def billable_consultations(*, session: Session, actor: Actor, patient_id: object) -> list[ConsultationRef]:
    """A patient's consultations as billing sees them: code, date, type and doctor, no clinical content."""
    require(actor, Permission.BILLING_MANAGE)
    patient = load_patient(session, patient_id)
    rows = session.exec(select(Consultation.id, Consultation.code, Consultation.started_at, Consultation.session_type,
                               Consultation.doctor_id).where(Consultation.patient_id == patient.id)
                        .order_by(Consultation.started_at.desc()).limit(50)).all()
    names = _names(session, {r[4] for r in rows})
    return [ConsultationRef(id=r[0], code=r[1], started_at=r[2], session_type=r[3], doctor_name=names.get(r[4]))
            for r in rows]


# --- bills --------------------------------------------------------------------------------------------

def create_bill(*, session: Session, actor: Actor, data: object) -> BillDetail:
    """A draft bill for a patient (optionally linked to a consultation), with any lines given."""
    require(actor, Permission.BILLING_MANAGE)
    payload = parse_input(BillCreate, data)
    if payload.patient_id is None:
        raise ValidationError({"patient_id": "Choose the patient."})
    patient = session.get(Patient, payload.patient_id)
    if patient is None:
        raise ValidationError({"patient_id": "No such patient."})
    consultation_id = _consultation_for(session, patient, payload.consultation_id)
    lines = _validated_lines(session, payload.items)
    try:
        notes = clean_text(payload.notes, field="notes", max_length=500, required=False, multiline=True)
    except FieldProblem as exc:
        raise ValidationError({"notes": str(exc)}) from exc
    now = utcnow()
    bill = Bill(patient_id=patient.id, consultation_id=consultation_id, notes=notes, created_by=actor.user_id,
                created_at=now, updated_at=now)
    if actor.user_id is None:
        raise PermissionDenied("Bills are made by signed-in staff.")
    session.add(bill)
    session.flush()
    _add_lines(session, bill, lines, 1)
    _retotal(session, bill)
    audit.record(session, actor=actor, action="bill.create", entity="bill", entity_id=bill.id,
                 details={"patient": str(patient.id), "lines": len(lines)})
    return _detail(session, bill)


def _draft(session: Session, bill_id: object) -> Bill:
    bill = _load(session, bill_id, lock=True)
    if bill.status != "draft":
        raise Conflict(f"This bill is {STATUS_LABELS[bill.status].lower()}: its lines can no longer change.")
    return bill


def add_bill_items(*, session: Session, actor: Actor, bill_id: object, items: list) -> BillDetail:
    require(actor, Permission.BILLING_MANAGE)
    bill = _draft(session, bill_id)
    existing = _items(session, bill)
    lines = _validated_lines(session, items, start_position=len(existing) + 1)
    _add_lines(session, bill, lines, len(existing) + 1)
    _retotal(session, bill)
    audit.record(session, actor=actor, action="bill.edit", entity="bill", entity_id=bill.id,
                 details={"added": len(lines)})
    return _detail(session, bill)


def remove_bill_item(*, session: Session, actor: Actor, bill_id: object, item_id: object) -> BillDetail:
    require(actor, Permission.BILLING_MANAGE)
    bill = _draft(session, bill_id)
    items = _items(session, bill)
    target = next((i for i in items if str(i.id) == str(item_id)), None)
    if target is None:
        raise NotFound("No such line on this bill.")
    session.delete(target)
    session.flush()
    for position, item in enumerate((i for i in items if i is not target), start=1):
        if item.position != position:  # renumber from the top, one row at a time (unique per bill)
            item.position = position
            session.add(item)
            session.flush()
    _retotal(session, bill)
    audit.record(session, actor=actor, action="bill.edit", entity="bill", entity_id=bill.id, details={"removed": 1})
    return _detail(session, bill)


def issue_bill(*, session: Session, actor: Actor, bill_id: object) -> BillDetail:
    """Give the draft its number — the next of this financial year, taken inside this transaction, so a
    rolled-back issue gives its number back — and freeze it."""
    require(actor, Permission.BILLING_MANAGE)
    bill = _draft(session, bill_id)
    items = _items(session, bill)
    if not items:
        raise ValidationError({"items": "Add at least one line before issuing the bill."})
    _retotal(session, bill, items)
    if bill.document_type == "tax_invoice" and not get_settings().clinic_gstin:
        raise Conflict("A taxable line makes this a tax invoice, which needs the clinic's GSTIN "
                       "(SYNAPSE_CLINIC_GSTIN). Set it, or make every line 0% GST.")
    detail = _detail(session, bill, items)  # read before the locks below, which every writer waits for
    # Lock order: the audit chain's head, then the year's counter. Every unit of work that issues takes them
    # in this order — also one that audited something before issuing — so issuers cannot deadlock. From
    # here to the commit, other writers wait: only the few writes that must be serial happen in between.
    session.exec(select(AuditHead.id).where(AuditHead.id == 1).with_for_update()).first()
    now = utcnow()
    year = financial_year(now)
    seq = next_value(session, counter_name(year))
    bill.number, bill.financial_year, bill.number_seq = invoice_number(year, seq), year, seq
    bill.status = "paid" if bill.total_paise == 0 else "issued"
    bill.issued_at, bill.issued_by, bill.updated_at = now, actor.user_id, now
    session.add(bill)
    audit.record(session, actor=actor, action="bill.issue", entity="bill", entity_id=bill.id,
                 details={"number": bill.number, "total_paise": bill.total_paise, "type": bill.document_type})
    return detail.model_copy(update={
        "number": bill.number, "financial_year": year, "status": bill.status, "issued_at": now,
        "issued_by": actor.full_name or actor.username, "balance_paise": bill.total_paise - bill.paid_paise})


def void_bill(*, session: Session, actor: Actor, bill_id: object, reason: object) -> BillDetail:
    """Void a bill (draft or issued). It keeps its number, so the year's series stays without gaps."""
    require(actor, Permission.BILLING_MANAGE)
    bill = _load(session, bill_id, lock=True)
    if bill.status == "void":
        raise Conflict("This bill is already void.")
    try:
        text = clean_text(reason, field="reason for voiding", max_length=300)
    except FieldProblem as exc:
        raise ValidationError({"reason": str(exc)}) from exc
    if text is None or len(text) < 5:
        raise ValidationError({"reason": "Say why the bill is void (at least 5 characters)."})
    if bill.paid_paise > 0:
        raise Conflict(f"Refund the {money.format_inr(bill.paid_paise)} received before voiding this bill.")
    now = utcnow()
    bill.status, bill.void_reason, bill.voided_at, bill.voided_by, bill.updated_at = "void", text, now, actor.user_id, now
    session.add(bill)
    audit.record(session, actor=actor, action="bill.void", entity="bill", entity_id=bill.id,
                 details={"number": bill.number})
    return _detail(session, bill)


def _status_after_payment(bill: Bill) -> str:
    if bill.status == "void":
        return "void"
    if bill.paid_paise == 0:
        return "issued"
    return "paid" if bill.paid_paise >= bill.total_paise else "partially_paid"


def _payment_fields(mode: object, reference: object, errors: dict[str, str]) -> str | None:
    if mode not in PAYMENT_MODES:
        errors["mode"] = "Choose cash, card, UPI or bank transfer."
    try:
        ref = clean_text(reference, field="reference", max_length=60, required=False)
    except FieldProblem as exc:
        errors["reference"] = str(exc)
        return None
    if ref is None and mode in ("upi", "bank_transfer"):
        errors["reference"] = f"Enter the {MODE_LABELS[mode]} transaction reference."  # type: ignore[index]
    return ref


def _positive_amount(amount: object, errors: dict[str, str]) -> int:
    """Paise of a payment or refund; a problem goes into errors["amount"] (and 0 is returned)."""
    try:
        paise = _paise(amount, "amount")
    except FieldProblem as exc:
        errors["amount"] = str(exc)
        return 0
    if paise == 0:
        errors["amount"] = "The amount must be more than zero."
    return paise


def record_payment(*, session: Session, actor: Actor, bill_id: object, amount: object, mode: object,
                   reference: object = None) -> BillDetail:
    """Money received. More than the balance is refused: take what is due (to give money back, record a
    refund)."""
    require(actor, Permission.BILLING_MANAGE)
    bill = _load(session, bill_id, lock=True)
    errors: dict[str, str] = {}
    paise = _positive_amount(amount, errors)
    ref = _payment_fields(mode, reference, errors)
    if bill.status == "draft":
        raise Conflict("This bill is a draft: issue it before taking a payment.")
    if bill.status in ("paid", "void"):
        raise Conflict(f"This bill is {STATUS_LABELS[bill.status].lower()}: there is nothing to pay.")
    balance = bill.total_paise - bill.paid_paise
    if "amount" not in errors and paise > balance:
        errors["amount"] = (f"{money.format_inr(paise)} is more than the balance due ({money.format_inr(balance)}). "
                            "Take what is due; to give money back, record a refund.")
    if errors:
        raise ValidationError(errors)
    session.add(Payment(bill_id=bill.id, kind="payment", mode=str(mode), amount_paise=paise, reference=ref,
                        received_at=utcnow(), received_by=actor.user_id))
    bill.paid_paise += paise
    bill.status, bill.updated_at = _status_after_payment(bill), utcnow()
    session.add(bill)
    session.flush()
    audit.record(session, actor=actor, action="bill.payment", entity="bill", entity_id=bill.id,
                 details={"amount_paise": paise, "mode": mode})
    return _detail(session, bill)


def record_refund(*, session: Session, actor: Actor, bill_id: object, amount: object, mode: object,
                  reason: object, reference: object = None) -> BillDetail:
    """Money given back, at most what was paid; with a reason."""
    require(actor, Permission.BILLING_MANAGE)
    bill = _load(session, bill_id, lock=True)
    errors: dict[str, str] = {}
    paise = _positive_amount(amount, errors)
    ref = _payment_fields(mode, reference, errors)
    try:
        why = clean_text(reason, field="reason for the refund", max_length=300)
        if why is None or len(why) < 3:
            errors["reason"] = "Say why the money is refunded (at least 3 characters)."
    except FieldProblem as exc:
        errors["reason"], why = str(exc), None
    if "amount" not in errors and paise > bill.paid_paise:
        errors["amount"] = f"You can refund at most what was paid ({money.format_inr(bill.paid_paise)})."
    if errors:
        raise ValidationError(errors)
    session.add(Payment(bill_id=bill.id, kind="refund", mode=str(mode), amount_paise=paise, reference=ref, reason=why,
                        received_at=utcnow(), received_by=actor.user_id))
    bill.paid_paise -= paise
    bill.status, bill.updated_at = _status_after_payment(bill), utcnow()
    session.add(bill)
    session.flush()
    audit.record(session, actor=actor, action="bill.refund", entity="bill", entity_id=bill.id,
                 details={"amount_paise": paise, "mode": mode})
    return _detail(session, bill)


def get_bill(*, session: Session, actor: Actor, bill_id: object) -> BillDetail:
    require(actor, Permission.BILLING_MANAGE)
    bill = _load(session, bill_id)
    audit.record(session, actor=actor, action="bill.view", entity="bill", entity_id=bill.id)
    return _detail(session, bill)


def list_bills(*, session: Session, actor: Actor, patient_id: object = None, status: str | None = None,
               number: str | None = None, limit: int = 50) -> list[BillRow]:
    require(actor, Permission.BILLING_MANAGE)
    query = select(Bill)
    if patient_id:
        query = query.where(Bill.patient_id == as_uuid(patient_id, "patient"))
    if status:
        if status not in STATUS_LABELS:
            raise ValidationError({"status": "Choose a status."})
        query = query.where(Bill.status == status)
    if number:
        text = number.strip().upper()
        if not re.fullmatch(r"[A-Z0-9/]{1,16}", text):
            raise ValidationError({"number": "Type an invoice number like INV/2627/000123 (or its end)."})
        query = query.where(Bill.number.endswith(text) if not text.startswith("INV") else Bill.number == text)
    if not 1 <= limit <= 500:
        raise ValidationError({"limit": "Show 1 to 500 bills."})
    bills = list(session.exec(query.order_by(Bill.created_at.desc()).limit(limit)).scalars())
    people = _people(session, {b.patient_id for b in bills})
    audit.record(session, actor=actor, action="bill.list", entity="patient" if patient_id else None,
                 entity_id=patient_id, details={"rows": len(bills)})
    return [BillRow(**_row(b, people.get(b.patient_id, ("?", "?")))) for b in bills]


def patient_bills(*, session: Session, actor: Actor, patient_id: object) -> list[BillRow]:
    """A patient's bills for the patient record: the front desk, or a doctor with the patient in their care."""
    patient = load_patient(session, patient_id)
    if not permitted(actor.role, Permission.BILLING_MANAGE):
        if clinical_access(session, actor, patient) is None:
            audit.record(session, actor=actor, action="bill.list", entity="patient", entity_id=patient.id,
                         outcome="denied")
            raise PermissionDenied()
    bills = list(session.exec(select(Bill).where(Bill.patient_id == patient.id)
                              .order_by(Bill.created_at.desc()).limit(200)).scalars())
    person = (patient.mrn, _plain(patient.full_name) or "")
    audit.record(session, actor=actor, action="bill.list", entity="patient", entity_id=patient.id,
                 details={"rows": len(bills)})
    return [BillRow(**_row(b, person)) for b in bills]


def bill_pdf(*, session: Session, actor: Actor, bill_id: object) -> bytes:
    """The bill as a PDF (a draft or void bill says so across the top)."""
    from core.documents.bill_pdf import ClinicInfo, render_bill

    require(actor, Permission.BILLING_MANAGE)
    bill = _load(session, bill_id)
    settings = get_settings()
    clinic = ClinicInfo(name=settings.clinic_name,
                        address=[p.strip() for p in settings.clinic_address.split("|") if p.strip()],
                        registration=settings.clinic_registration, gstin=settings.clinic_gstin, zone=settings.zone)
    pdf = render_bill(_detail(session, bill), clinic)
    audit.record(session, actor=actor, action="bill.pdf", entity="bill", entity_id=bill.id)
    return pdf


# --- reports ------------------------------------------------------------------------------------------

def _bucket(days: int) -> str:
    for label, low, high in AGEING_BUCKETS:
        if days >= low and (high is None or days <= high):
            return label
    return AGEING_BUCKETS[0][0]  # issued "in the future" by clock skew: newest bucket


def outstanding_dues(*, session: Session, actor: Actor, as_of: dt.date | None = None) -> DuesReport:
    """Issued bills with a balance, aged by days since issue. Managers get the totals only."""
    require(actor, Permission.BILLING_REPORTS)
    zone = get_settings().zone
    as_of = as_of or utcnow().astimezone(zone).date()
    identity = permitted(actor.role, Permission.BILLING_MANAGE)
    bills = list(session.exec(select(Bill).where(Bill.status.in_(OPEN_STATUSES)).order_by(Bill.issued_at)).scalars())
    people = _people(session, {b.patient_id for b in bills}) if identity else {}
    buckets = {label: 0 for label, _, _ in AGEING_BUCKETS}
    counts = {label: 0 for label, _, _ in AGEING_BUCKETS}
    rows = []
    for b in bills:
        issued_on = b.issued_at.astimezone(zone).date()
        days = max(0, (as_of - issued_on).days)
        label, balance = _bucket(days), b.total_paise - b.paid_paise
        buckets[label] += balance
        counts[label] += 1
        if identity:
            mrn, name = people.get(b.patient_id, ("?", "?"))
            rows.append(DuesRow(bill_id=b.id, number=b.number or "", mrn=mrn, patient_name=name, issued_on=issued_on,
                                days=days, bucket=label, balance_paise=balance))
    audit.record(session, actor=actor, action="billing.dues", details={"bills": len(bills), "identities": identity})
    rows.sort(key=lambda r: -r.days)
    return DuesReport(as_of=as_of, buckets=buckets, counts=counts, total_paise=sum(buckets.values()), rows=rows,
                      identities_hidden=not identity)


def daily_collections(*, session: Session, actor: Actor, day: dt.date | None = None) -> CollectionReport:
    """Payments and refunds of one day (clinic time) by mode. Managers get the totals only."""
    require(actor, Permission.BILLING_REPORTS)
    zone = get_settings().zone
    day = day or utcnow().astimezone(zone).date()
    start = dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    identity = permitted(actor.role, Permission.BILLING_MANAGE)
    totals = session.exec(select(Payment.mode, Payment.kind, func.sum(Payment.amount_paise), func.count())
                          .where(Payment.received_at >= start, Payment.received_at < end)
                          .group_by(Payment.mode, Payment.kind)).all()
    received = {m: 0 for m in PAYMENT_MODES}
    refunded = {m: 0 for m in PAYMENT_MODES}
    count = 0
    for mode, kind, amount, n in totals:
        (received if kind == "payment" else refunded)[mode] += int(amount or 0)
        count += int(n)
    rows: list[PaymentRow] = []
    if identity:
        found = session.exec(select(Payment, Bill.number, Bill.patient_id).join(Bill, Bill.id == Payment.bill_id)
                             .where(Payment.received_at >= start, Payment.received_at < end)
                             .order_by(Payment.received_at)).all()
        people = _people(session, {r[2] for r in found})
        for row, (_, number, patient_id) in zip(_payment_rows(session, [r[0] for r in found]), found, strict=True):
            row.bill_number, row.mrn = number, people.get(patient_id, ("?", "?"))[0]
            rows.append(row)
    audit.record(session, actor=actor, action="billing.collections",
                 details={"day": day.isoformat(), "payments": count, "identities": identity})
    net = {m: received[m] - refunded[m] for m in PAYMENT_MODES}
    return CollectionReport(day=day, received=received, refunded=refunded, net=net, count=count,
                            total_received_paise=sum(received.values()), total_refunded_paise=sum(refunded.values()),
                            total_net_paise=sum(net.values()), rows=rows, identities_hidden=not identity)
