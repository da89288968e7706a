"""A bill or tax invoice as PDF (fpdf2): clinic, patient, lines, taxes, totals in figures and words,
payments and balance. Uses DejaVu Sans when the system has it (₹ and most scripts of names); otherwise
the PDF core font, writing 'Rs.' and replacing characters it cannot draw."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF

from core import money

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
             Path("/usr/local/share/fonts/dejavu"))


@dataclass(frozen=True)
class ClinicInfo:
    name: str
    address: list[str] = field(default_factory=list)
    registration: str = ""
    gstin: str = ""
    zone: dt.tzinfo = dt.UTC


def _dejavu() -> tuple[Path, Path] | None:
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


class _BillPDF(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(15, 15, 15)
        fonts = _dejavu()
        if fonts:
            self.add_font("Body", "", str(fonts[0]))
            self.add_font("Body", "B", str(fonts[1]))
            self.family_name, self.unicode = "Body", True
        else:
            self.family_name, self.unicode = "Helvetica", False
        self.symbol = "₹" if self.unicode else "Rs. "

    def text_ok(self, text: str) -> str:
        if self.unicode:
            return text
        return text.replace("₹", "Rs. ").replace("–", "-").replace("—", "-").encode("latin-1", "replace").decode("latin-1")

    def font(self, size: float, bold: bool = False) -> None:
        self.set_font(self.family_name, "B" if bold else "", size)

    def line_text(self, text: str, size: float = 9, bold: bool = False, align: str = "L", height: float = 5) -> None:
        self.font(size, bold)
        self.multi_cell(0, height, self.text_ok(text), align=align, new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-13)
        self.font(7)
        self.cell(0, 5, self.text_ok(f"Computer-generated document · page {self.page_no()}/{{nb}}"), align="C")


def _inr(pdf: _BillPDF, paise: int) -> str:
    return money.format_inr(paise, symbol=pdf.symbol)


def render_bill(bill, clinic: ClinicInfo) -> bytes:  # type: ignore[no-untyped-def]
    """bill: a core.services.billing.BillDetail."""
    pdf = _BillPDF()
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_title(pdf.text_ok(f"{bill.number or 'Draft bill'} - {clinic.name}"))
    pdf.set_creator("Synapse")

    # Clinic
    pdf.line_text(clinic.name, size=15, bold=True, height=7)
    for line in clinic.address:
        pdf.line_text(line)
    if clinic.registration:
        pdf.line_text(f"Registration: {clinic.registration}")
    if clinic.gstin:
        pdf.line_text(f"GSTIN: {clinic.gstin}")
    pdf.ln(3)

    # Title and number
    title = "TAX INVOICE" if bill.document_type == "tax_invoice" else "BILL OF SUPPLY"
    pdf.line_text(title, size=13, bold=True, align="C", height=7)
    if bill.status == "draft":
        pdf.set_text_color(170, 0, 0)
        pdf.line_text("DRAFT - not a bill: it has no number until it is issued.", bold=True, align="C")
        pdf.set_text_color(0, 0, 0)
    if bill.status == "void":
        pdf.set_text_color(170, 0, 0)
        pdf.line_text(f"VOID: {bill.void_reason or ''}", bold=True, align="C")
        pdf.set_text_color(0, 0, 0)
    issued = bill.issued_at.astimezone(clinic.zone).strftime("%d %b %Y, %H:%M") if bill.issued_at else "-"
    pdf.line_text(f"Invoice number: {bill.number or '(draft)'}        Date of issue: {issued}", bold=True)
    if bill.document_type == "bill_of_supply":
        pdf.line_text("No GST is charged on this bill (exempt supply): a bill of supply, not a tax invoice.", size=8)
    pdf.ln(1)

    # Patient
    pdf.line_text(f"Patient: {bill.patient_name}  ({bill.mrn})", size=10, bold=True)
    if bill.consultation_code:
        pdf.line_text(f"Consultation: {bill.consultation_code}")
    pdf.ln(2)

    # Lines
    taxed = bill.document_type == "tax_invoice"
    cols = ([("#", 7, "C"), ("Description", 53 if taxed else 75, "L"), ("HSN/SAC", 16, "C"), ("Qty", 10, "R"),
             ("Rate", 22, "R"), ("Discount", 20, "R")]
            + ([("GST", 12, "R"), ("Tax", 18, "R")] if taxed else []) + [("Amount", 22 if taxed else 30, "R")])
    pdf.font(8, bold=True)
    pdf.set_fill_color(235, 235, 235)
    for title_text, width, align in cols:
        pdf.cell(width, 6, title_text, border=1, align=align, fill=True)
    pdf.ln()
    pdf.font(8)
    for line in bill.lines:
        values = [str(line.position), line.description, line.hsn_sac or "", str(line.quantity),
                  _inr(pdf, line.unit_price_paise), _inr(pdf, line.discount_paise) if line.discount_paise else "-"]
        if taxed:
            values += [money.format_rate(line.tax_rate_bp), _inr(pdf, line.cgst_paise + line.sgst_paise)]
        values.append(_inr(pdf, line.total_paise))
        for (_, width, align), value in zip(cols, values, strict=True):
            text = pdf.text_ok(value)
            while pdf.get_string_width(text) > width - 1.5 and len(text) > 4:
                text = text[:-2] + "…" if pdf.unicode else text[:-4] + "..."
            pdf.cell(width, 6, text, border=1, align=align)
        pdf.ln()
    pdf.ln(2)

    # Totals
    def total_row(label: str, paise: int, bold: bool = False) -> None:
        pdf.font(9, bold)
        pdf.cell(140, 5.5, pdf.text_ok(label), align="R")
        pdf.cell(40, 5.5, pdf.text_ok(_inr(pdf, paise)), align="R", new_x="LMARGIN", new_y="NEXT")

    total_row("Subtotal", bill.subtotal_paise)
    if bill.discount_paise:
        total_row("Discount", -bill.discount_paise)
    if taxed:
        total_row("Taxable value", bill.taxable_paise)
        total_row("CGST", bill.cgst_paise)
        total_row("SGST", bill.sgst_paise)
    total_row("Total", bill.total_paise, bold=True)
    pdf.ln(1)
    pdf.line_text(f"Amount in words: {money.amount_in_words(bill.total_paise)}", size=9, bold=True)
    pdf.ln(2)

    # Payments
    pdf.line_text("Payments", size=10, bold=True)
    if not bill.payments:
        pdf.line_text("None recorded.")
    for p in bill.payments:
        when = p.received_at.astimezone(clinic.zone).strftime("%d %b %Y, %H:%M")
        mode = {"cash": "Cash", "card": "Card", "upi": "UPI", "bank_transfer": "Bank transfer"}.get(p.mode, p.mode)
        sign = -1 if p.kind == "refund" else 1
        ref = f", ref. {p.reference}" if p.reference else ""
        pdf.font(9)
        pdf.cell(140, 5, pdf.text_ok(f"{when} · {'Refund' if p.kind == 'refund' else 'Received'} · {mode}{ref}"))
        pdf.cell(40, 5, pdf.text_ok(_inr(pdf, sign * p.amount_paise)), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    total_row("Paid", bill.paid_paise)
    total_row("Balance due", bill.balance_paise, bold=True)
    return bytes(pdf.output())
