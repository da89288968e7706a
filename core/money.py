"""Money in integer paise: parsing what people type, bill line arithmetic with written-down rounding rules,
Indian formatting (₹1,23,456.78) and amounts in words (lakh, crore). Nothing here ever touches a float.

Rounding rules (also in README, "Billing"):
1. A line's gross amount is quantity × unit price, both integers: exact.
2. A line's discount is a whole number of paise, 0 ≤ discount ≤ gross. A percentage discount typed on the
   page becomes paise by rule 5.
3. Taxable value = gross − discount: exact.
4. GST is intra-state: CGST and SGST are each half the item's rate. Each is rounded separately, per line,
   to the paisa: CGST = SGST = round_half_up(taxable × rate_bp / 20000), rate_bp in basis points
   (18% = 1800). Line total = taxable + CGST + SGST.
5. Rounding is half up (…0.5 paisa goes up); every amount is ≥ 0, so half up is also half away from zero.
6. Bill totals are the sums of the line values, so a bill always adds up to the paisa:
   total = subtotal − discount + CGST + SGST = Σ line totals. No rounding off to whole rupees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

PAISE_PER_RUPEE = 100
MAX_AMOUNT_PAISE = 10**12  # ₹1,000 crore: far above any clinic bill, far below 64-bit limits
_RUPEES_RE = re.compile(r"^\d+(\.\d{1,2})?$")


class MoneyError(ValueError):
    """Text that is not an amount of rupees; the message is shown next to the field."""


def is_int(value: object) -> bool:
    """A true integer (bool and float are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def round_half_up_div(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, for numerator ≥ 0 and denominator > 0, in integers."""
    if not (is_int(numerator) and is_int(denominator)) or numerator < 0 or denominator <= 0:
        raise ValueError("round_half_up_div takes a non-negative integer and a positive integer")
    return (2 * numerator + denominator) // (2 * denominator)


def parse_rupees(text: object, *, field: str = "amount", allow_zero: bool = True) -> int:
    """'1,500', '₹ 1,500.5', 'Rs. 1500.50' -> paise. At most two decimals, never negative, never a float."""
    if is_int(text):
        raise MoneyError(f"Type the {field} in rupees as text (e.g. 1,500.00).")
    if not isinstance(text, str) or not text.strip():
        raise MoneyError(f"Enter the {field}.")
    cleaned = text.strip().replace("₹", "").replace(",", "").replace(" ", "")
    cleaned = re.sub(r"^(?i:rs\.?|inr)", "", cleaned)
    if cleaned.startswith("-"):
        raise MoneyError(f"The {field} cannot be negative.")
    if not _RUPEES_RE.fullmatch(cleaned):
        if re.fullmatch(r"\d+\.\d{3,}", cleaned):
            raise MoneyError(f"The {field} can have at most two decimals (paise).")
        raise MoneyError(f"Type the {field} in rupees, e.g. 1,500 or 1500.50.")
    try:
        paise = int(Decimal(cleaned) * PAISE_PER_RUPEE)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes this
        raise MoneyError(f"The {field} must be an amount in rupees.") from exc
    if paise == 0 and not allow_zero:
        raise MoneyError(f"The {field} must be more than zero.")
    if paise > MAX_AMOUNT_PAISE:
        raise MoneyError(f"The {field} is too large.")
    return paise


def percent_of(amount_paise: int, percent_text: str) -> int:
    """A percentage (text, up to two decimals, 0–100) of an amount, in paise, rounded half up."""
    cleaned = (percent_text or "").strip().rstrip("%").strip()
    if not re.fullmatch(r"\d{1,3}(\.\d{1,2})?", cleaned):
        raise MoneyError("Type the percentage as a number, e.g. 10 or 12.5.")
    hundredths = int(Decimal(cleaned) * 100)  # percent × 100, exact
    if hundredths > 100 * 100:
        raise MoneyError("A percentage cannot be more than 100.")
    return round_half_up_div(amount_paise * hundredths, 100 * 100)


def _group_indian(digits: str) -> str:
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join(groups) + "," + tail


def format_inr(paise: int, *, symbol: str = "₹") -> str:
    """12345678 -> '₹1,23,456.78' (Indian digit grouping)."""
    if not is_int(paise):
        raise TypeError("amounts are integer paise")
    sign = "-" if paise < 0 else ""
    rupees, rest = divmod(abs(paise), PAISE_PER_RUPEE)
    return f"{sign}{symbol}{_group_indian(str(rupees))}.{rest:02d}"


def rupees_text(paise: int) -> str:
    """12345678 -> '1,23,456.78' (for a text field the person can edit)."""
    return format_inr(paise, symbol="")


_ONES = ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten", "Eleven", "Twelve",
         "Thirteen", "Fourteen", "Fifteen", "Sixteen", "Seventeen", "Eighteen", "Nineteen")
_TENS = ("", "", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety")


def _below_hundred(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + ("-" + _ONES[ones] if ones else "")


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts = []
    if hundreds:
        parts.append(_ONES[hundreds] + " Hundred")
    if rest:
        parts.append(_below_hundred(rest))
    return " ".join(parts)


def number_in_words(n: int) -> str:
    """Indian numbering: 12345678 -> 'One Crore Twenty-Three Lakh Forty-Five Thousand Six Hundred Seventy-Eight'."""
    if not is_int(n) or n < 0:
        raise ValueError("a non-negative integer")
    if n == 0:
        return "Zero"
    crore, rest = divmod(n, 10**7)
    lakh, rest = divmod(rest, 10**5)
    thousand, rest = divmod(rest, 1000)
    parts = []
    if crore:
        parts.append(number_in_words(crore) + " Crore")
    if lakh:
        parts.append(_below_hundred(lakh) + " Lakh")
    if thousand:
        parts.append(_below_hundred(thousand) + " Thousand")
    if rest:
        parts.append(_below_thousand(rest))
    return " ".join(parts)


def amount_in_words(paise: int) -> str:
    """12345678 -> 'Rupees One Lakh Twenty-Three Thousand Four Hundred Fifty-Six and Seventy-Eight Paise Only'."""
    if not is_int(paise) or paise < 0:
        raise ValueError("a non-negative integer number of paise")
    rupees, rest = divmod(paise, PAISE_PER_RUPEE)
    words = "Rupees " + number_in_words(rupees)
    if rest:
        words += " and " + number_in_words(rest) + " Paise"
    return words + " Only"


@dataclass(frozen=True)
class LineAmounts:
    gross: int
    discount: int
    taxable: int
    cgst: int
    sgst: int
    total: int

    @property
    def tax(self) -> int:
        return self.cgst + self.sgst


def line_amounts(quantity: int, unit_price_paise: int, discount_paise: int, tax_rate_bp: int) -> LineAmounts:
    """One line by the rounding rules above. Arguments must already be validated integers."""
    for value in (quantity, unit_price_paise, discount_paise, tax_rate_bp):
        if not is_int(value) or value < 0:
            raise ValueError("line values are non-negative integers")
    gross = quantity * unit_price_paise
    if discount_paise > gross:
        raise ValueError("discount exceeds the line's gross amount")
    taxable = gross - discount_paise
    half = round_half_up_div(taxable * tax_rate_bp, 20000)
    return LineAmounts(gross, discount_paise, taxable, half, half, taxable + 2 * half)


@dataclass(frozen=True)
class BillTotals:
    subtotal: int
    discount: int
    taxable: int
    cgst: int
    sgst: int
    total: int

    @property
    def tax(self) -> int:
        return self.cgst + self.sgst


def bill_totals(lines: list[LineAmounts]) -> BillTotals:
    return BillTotals(
        subtotal=sum(li.gross for li in lines), discount=sum(li.discount for li in lines),
        taxable=sum(li.taxable for li in lines), cgst=sum(li.cgst for li in lines),
        sgst=sum(li.sgst for li in lines), total=sum(li.total for li in lines),
    )


def format_rate(tax_rate_bp: int) -> str:
    """1800 -> '18%', 250 -> '2.5%'."""
    whole, frac = divmod(tax_rate_bp, 100)
    return f"{whole}%" if not frac else f"{whole}.{frac:02d}".rstrip("0") + "%"
