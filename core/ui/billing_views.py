"""The parts of the Billing page: starting a bill, a bill (draft lines, issue, payments, refunds, void, PDF),
finding bills, dues with ageing, the day's collections and the price list. Amounts are typed as rupee text
and handed to the services as text: they never become floats."""

from __future__ import annotations

import streamlit as st

from core.money import format_rate, rupees_text
from core.security.rbac import Actor, Permission, permitted
from core.services import billing
from core.services.billing import DOCUMENT_LABELS, GST_RATES_BP, KIND_LABELS, MODE_LABELS, STATUS_LABELS
from core.services.scheduling import SESSION_LABELS, clinic_today
from core.ui.errors import FieldErrors
from core.ui.front_desk import GOTO_BILLING, OPEN_BILL, PICKED_PATIENT, inr, local, patient_picker
from core.ui.services import attempt

CUSTOM = "custom"


def sections_for(actor: Actor) -> list[str]:
    sections = []
    if permitted(actor.role, Permission.BILLING_MANAGE):
        sections += ["Bill", "Find bills"]
    if permitted(actor.role, Permission.BILLING_REPORTS):
        sections += ["Dues", "Collections"]
    if permitted(actor.role, Permission.PRICE_LIST_MANAGE):
        sections.append("Price list")
    return sections


def open_bill(bill_id: object) -> None:
    st.session_state[OPEN_BILL] = str(bill_id)
    st.session_state[GOTO_BILLING] = "Bill"
    st.rerun()


def new_bill() -> None:
    st.subheader("New bill")
    errors = FieldErrors()
    patient_id = patient_picker("bill", errors)
    consultation_id, fee = None, None
    if patient_id:
        ok, refs = attempt(billing.billable_consultations, patient_id=patient_id)
        labels = {str(r.id): f"{r.code} · {local(r.started_at, '%d %b %Y')} · {SESSION_LABELS.get(r.session_type, '')}"
                  f" · {r.doctor_name or ''}" for r in refs or []}
        consultation_id = st.selectbox("Consultation (optional)", [None, *labels], key=f"bill_consult_{patient_id}",
                                       format_func=lambda i: "— none —" if i is None else labels[i])
        errors.slot("consultation_id")
        if consultation_id:
            session_type = next(r.session_type for r in refs or [] if str(r.id) == consultation_id)
            fee = attempt(billing.consultation_fee_item, session_type=session_type)[1]
    add_fee = bool(fee) and st.checkbox(f"Add the fee: {fee.name}, {inr(fee.unit_price_paise)}" if fee else "",
                                        value=True, key="bill_add_fee")
    if st.button("Start the bill", type="primary", key="bill_create"):
        items = [{"price_item_id": fee.id}] if add_fee and fee else []
        ok, bill = attempt(billing.create_bill, errors=errors, data={
            "patient_id": patient_id, "consultation_id": consultation_id, "items": items})
        if ok and bill:
            st.session_state.pop(PICKED_PATIENT, None)
            open_bill(bill.id)


def _lines_table(bill: billing.BillDetail) -> None:
    taxed = bill.document_type == "tax_invoice"
    st.dataframe([{"#": li.position, "Description": li.description, "Qty": li.quantity, "Rate": inr(li.unit_price_paise),
                   "Discount": inr(li.discount_paise), **({"GST": format_rate(li.tax_rate_bp),
                                                            "Tax": inr(li.cgst_paise + li.sgst_paise)} if taxed else {}),
                   "Amount": inr(li.total_paise)} for li in bill.lines], hide_index=True, width="stretch")
    totals = {"Subtotal": bill.subtotal_paise, "Discount": bill.discount_paise}
    if taxed:
        totals |= {"CGST": bill.cgst_paise, "SGST": bill.sgst_paise}
    totals["Total"] = bill.total_paise
    if bill.status != "draft":
        totals |= {"Paid": bill.paid_paise, "Balance due": bill.balance_paise}
    st.write(" · ".join(f"{k}: **{inr(v)}**" for k, v in totals.items()))


def _add_line(bill: billing.BillDetail) -> None:
    _, items = attempt(billing.list_price_items)
    prices = {str(p.id): p for p in items or []}
    errors = FieldErrors()
    with st.form(f"add_line_{bill.id}_{len(bill.lines)}", clear_on_submit=True):
        st.write("**Add a line**")
        choice = st.selectbox("Item", [*prices, CUSTOM], key="line_item", format_func=lambda i: "Custom line…" if i == CUSTOM
                              else f"{KIND_LABELS[prices[i].kind]}: {prices[i].name} · {inr(prices[i].unit_price_paise)}"
                              + (f" + {format_rate(prices[i].tax_rate_bp)} GST" if prices[i].tax_rate_bp else ""))
        c1, c2, c3 = st.columns(3)
        quantity = c1.number_input("Quantity", min_value=1, max_value=10_000, step=1, value=1, key="line_qty")
        discount = c2.text_input("Discount (₹)", max_chars=15, key="line_discount", placeholder="0")
        percent = c3.text_input("…or discount (%)", max_chars=6, key="line_percent", placeholder="0")
        st.caption("For a custom line:")
        c1, c2, c3 = st.columns([3, 1, 1])
        description = c1.text_input("Description", max_chars=200, key="line_description")
        price = c2.text_input("Rate (₹)", max_chars=15, key="line_price")
        tax = c3.selectbox("GST", GST_RATES_BP, format_func=format_rate, key="line_tax")
        n = len(bill.lines) + 1
        for field in ("price_item_id", "quantity", "discount", "description", "unit_price", "tax_rate"):
            errors.slot(f"item_{n}_{field}")
        if st.form_submit_button("Add line"):
            line: dict = {"quantity": int(quantity), "discount": discount.strip() or 0,
                          "discount_percent": percent.strip() or None}
            if choice == CUSTOM:
                line |= {"description": description, "unit_price": price.strip() or None, "tax_rate": int(tax)}
            else:
                line["price_item_id"] = choice
            if attempt(billing.add_bill_items, errors=errors, bill_id=bill.id, items=[line])[0]:
                st.rerun()


def _draft_actions(bill: billing.BillDetail) -> None:
    _add_line(bill)
    if bill.lines:
        c1, c2 = st.columns([3, 1])
        labels = {str(li.id): f"{li.position}. {li.description}" for li in bill.lines}
        target = c1.selectbox("Line", list(labels), format_func=labels.get, key=f"remove_pick_{bill.id}")
        if c2.button("Remove line", key=f"remove_{bill.id}"):
            if attempt(billing.remove_bill_item, bill_id=bill.id, item_id=target)[0]:
                st.rerun()
    errors = FieldErrors()
    errors.slot("items")
    if st.button("Issue bill", type="primary", key=f"issue_{bill.id}"):
        ok, issued = attempt(billing.issue_bill, errors=errors, bill_id=bill.id)
        if ok and issued:
            st.session_state["_fd_bill_flash"] = f"Issued {issued.number}."
            st.rerun()


def _payment_form(bill: billing.BillDetail) -> None:
    errors = FieldErrors()
    with st.form(f"pay_{bill.id}_{bill.paid_paise}"):
        st.write("**Record a payment**")
        c1, c2, c3 = st.columns(3)
        amount = c1.text_input("Amount (₹)", value=rupees_text(bill.balance_paise), max_chars=15, key="pay_amount")
        mode = c2.selectbox("Mode", list(MODE_LABELS), format_func=MODE_LABELS.get, key="pay_mode")
        reference = c3.text_input("Reference (UPI / card / transfer)", max_chars=60, key="pay_reference")
        errors.slot("amount")
        errors.slot("mode")
        errors.slot("reference")
        if st.form_submit_button("Record payment", type="primary"):
            if attempt(billing.record_payment, errors=errors, bill_id=bill.id, amount=amount, mode=mode,
                       reference=reference or None)[0]:
                st.session_state["_fd_bill_flash"] = "Payment recorded."
                st.rerun()


def _refund_form(bill: billing.BillDetail) -> None:
    errors = FieldErrors()
    with st.expander("Refund"), st.form(f"refund_{bill.id}_{bill.paid_paise}"):
        c1, c2, c3 = st.columns(3)
        amount = c1.text_input("Amount to refund (₹)", max_chars=15, key="refund_amount")
        mode = c2.selectbox("Mode", list(MODE_LABELS), format_func=MODE_LABELS.get, key="refund_mode")
        reference = c3.text_input("Reference", max_chars=60, key="refund_reference")
        reason = st.text_input("Reason", max_chars=300, key="refund_reason")
        for field in ("amount", "mode", "reference", "reason"):
            errors.slot(field)
        if st.form_submit_button("Record refund"):
            if attempt(billing.record_refund, errors=errors, bill_id=bill.id, amount=amount, mode=mode,
                       reason=reason, reference=reference or None)[0]:
                st.session_state["_fd_bill_flash"] = "Refund recorded."
                st.rerun()


def bill_view(bill_id: str) -> None:
    ok, bill = attempt(billing.get_bill, bill_id=bill_id)
    if not ok or bill is None:
        st.session_state.pop(OPEN_BILL, None)
        return
    title = bill.number or "Draft bill"
    st.subheader(f"{title} · {DOCUMENT_LABELS[bill.document_type]} · {STATUS_LABELS[bill.status]}")
    st.write(f"**{bill.mrn} · {bill.patient_name}**" + (f" · consultation {bill.consultation_code}"
                                                         if bill.consultation_code else "")
             + (f" · issued {local(bill.issued_at, '%d %b %Y, %H:%M')} by {bill.issued_by}" if bill.issued_at else ""))
    if bill.status == "void":
        st.warning(f"Void: {bill.void_reason}")
    _lines_table(bill)
    if bill.payments:
        st.dataframe([{"When": local(p.received_at, "%d %b %Y, %H:%M"), "Kind": p.kind.title(), "Mode": MODE_LABELS[p.mode],
                       "Amount": inr(p.amount_paise if p.kind == "payment" else -p.amount_paise),
                       "Reference": p.reference or "", "By": p.received_by or "", "Reason": p.reason or ""}
                      for p in bill.payments], hide_index=True, width="stretch")
    if bill.status == "draft":
        _draft_actions(bill)
    if bill.status in ("issued", "partially_paid"):
        _payment_form(bill)
    if bill.paid_paise > 0:
        _refund_form(bill)
    if bill.status != "void":
        with st.expander("Void this bill"):
            errors = FieldErrors()
            reason = st.text_input("Reason for voiding", max_chars=300, key=f"void_reason_{bill.id}")
            errors.slot("reason")
            if st.button("Void", key=f"void_{bill.id}"):
                if attempt(billing.void_bill, errors=errors, bill_id=bill.id, reason=reason)[0]:
                    st.rerun()
    c1, c2 = st.columns(2)
    if c1.button("Prepare PDF", key=f"pdf_{bill.id}"):
        ok, pdf = attempt(billing.bill_pdf, bill_id=bill.id)
        if ok and pdf:
            st.session_state[f"_fd_pdf_{bill.id}"] = pdf
    if pdf := st.session_state.get(f"_fd_pdf_{bill.id}"):
        c1.download_button("Download PDF", pdf, file_name=f"{(bill.number or 'draft').replace('/', '-')}.pdf",
                           mime="application/pdf", key=f"pdf_dl_{bill.id}")
    if c2.button("Close this bill", key=f"close_{bill.id}"):
        st.session_state.pop(OPEN_BILL, None)
        st.rerun()


def find_bills() -> None:
    c1, c2 = st.columns(2)
    number = c1.text_input("Invoice number (or its end)", max_chars=16, key="find_number")
    status = c2.selectbox("Status", [None, *STATUS_LABELS], key="find_status",
                          format_func=lambda s: "any" if s is None else STATUS_LABELS[s])
    errors = FieldErrors()
    errors.slot("number")
    ok, rows = attempt(billing.list_bills, errors=errors, number=number or None, status=status)
    if ok and not rows:
        st.info("No bill matches.")
    if rows:
        st.dataframe([{"Number": r.number or "(draft)", "Patient": f"{r.mrn} · {r.patient_name}",
                       "Status": STATUS_LABELS[r.status], "Total": inr(r.total_paise), "Balance": inr(r.balance_paise),
                       "Date": local(r.issued_at or r.created_at, "%d %b %Y")} for r in rows],
                     hide_index=True, width="stretch")
        labels = {str(r.id): f"{r.number or '(draft)'} · {r.mrn} · {inr(r.total_paise)}" for r in rows}
        target = st.selectbox("Bill", list(labels), format_func=labels.get, key="find_pick")
        if st.button("Open", key="find_open"):
            open_bill(target)


def dues_view(actor: Actor) -> None:
    as_of = st.date_input("As of", value=clinic_today(), format="DD/MM/YYYY", key="dues_as_of")
    ok, report = attempt(billing.outstanding_dues, as_of=as_of)
    if not ok or report is None:
        return
    cols = st.columns(len(report.buckets) + 1)
    for col, (label, paise) in zip(cols[:-1], report.buckets.items(), strict=True):
        col.metric(label, inr(paise), f"{report.counts[label]} bills", delta_color="off")
    cols[-1].metric("Outstanding", inr(report.total_paise))
    if report.identities_hidden:
        st.caption("Totals only: managers do not see patients' identities.")
    elif report.rows:
        st.dataframe([{"Number": r.number, "Patient": f"{r.mrn} · {r.patient_name}", "Issued": r.issued_on.strftime("%d %b %Y"),
                       "Days": r.days, "Ageing": r.bucket, "Balance": inr(r.balance_paise)} for r in report.rows],
                     hide_index=True, width="stretch")


def collections_view() -> None:
    day = st.date_input("Day", value=clinic_today(), format="DD/MM/YYYY", key="collections_day")
    ok, report = attempt(billing.daily_collections, day=day)
    if not ok or report is None:
        return
    st.dataframe([{"Mode": MODE_LABELS[m], "Received": inr(report.received[m]), "Refunded": inr(report.refunded[m]),
                   "Net": inr(report.net[m])} for m in MODE_LABELS]
                 + [{"Mode": "Total", "Received": inr(report.total_received_paise),
                     "Refunded": inr(report.total_refunded_paise), "Net": inr(report.total_net_paise)}],
                 hide_index=True, width="stretch")
    st.caption(f"{report.count} payments and refunds." + (" Totals only: managers do not see patients' identities."
                                                          if report.identities_hidden else ""))
    if report.rows:
        st.dataframe([{"Time": local(r.received_at), "Bill": r.bill_number or "", "Patient": r.mrn or "",
                       "Kind": r.kind.title(), "Mode": MODE_LABELS[r.mode], "Amount": inr(r.amount_paise),
                       "Reference": r.reference or "", "By": r.received_by or ""} for r in report.rows],
                     hide_index=True, width="stretch")


def price_list() -> None:
    _, items = attempt(billing.list_price_items, include_inactive=True)
    items = items or []
    st.dataframe([{"Code": p.code, "Name": p.name, "Kind": KIND_LABELS[p.kind], "Price": inr(p.unit_price_paise),
                   "GST": format_rate(p.tax_rate_bp), "HSN/SAC": p.hsn_sac or "", "Active": p.active} for p in items],
                 hide_index=True, width="stretch")
    by_id = {str(p.id): p for p in items}
    choice = st.selectbox("Edit", [None, *by_id], key="price_pick",
                          format_func=lambda i: "New item…" if i is None else f"{by_id[i].code} · {by_id[i].name}")
    p = by_id.get(choice) if choice else None
    errors = FieldErrors()
    with st.form(f"price_{choice}"):
        c1, c2 = st.columns([1, 3])
        code = c1.text_input("Code", value=p.code if p else "", max_chars=20)
        name = c2.text_input("Name", value=p.name if p else "", max_chars=120)
        errors.slot("code")
        errors.slot("name")
        c1, c2, c3, c4 = st.columns(4)
        kinds = list(KIND_LABELS)
        kind = c1.selectbox("Kind", kinds, format_func=KIND_LABELS.get, index=kinds.index(p.kind) if p else 3)
        types = [None, *SESSION_LABELS]
        session_type = c2.selectbox("Session type", types, index=types.index(p.session_type) if p else 0,
                                    format_func=lambda t: "—" if t is None else SESSION_LABELS[t])
        price = c3.text_input("Price (₹)", value=rupees_text(p.unit_price_paise) if p else "", max_chars=15)
        tax = c4.selectbox("GST", GST_RATES_BP, format_func=format_rate,
                           index=GST_RATES_BP.index(p.tax_rate_bp) if p else 0)
        for field in ("kind", "session_type", "unit_price", "tax_rate"):
            errors.slot(field)
        c1, c2 = st.columns(2)
        hsn = c1.text_input("HSN/SAC", value=(p.hsn_sac or "") if p else "", max_chars=8)
        errors.slot("hsn_sac")
        active = c2.checkbox("Active (offered on new bills)", value=p.active if p else True)
        if st.form_submit_button("Save", type="primary"):
            if attempt(billing.save_price_item, errors=errors, data={
                    "id": p.id if p else None, "code": code, "name": name, "kind": kind, "session_type": session_type,
                    "hsn_sac": hsn or None, "unit_price": price, "tax_rate": int(tax), "active": active})[0]:
                st.session_state["_fd_bill_flash"] = "Price list saved."
                st.rerun()
