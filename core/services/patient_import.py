"""Bulk import of patients from CSV: every row is validated first; nothing is imported unless all rows are
valid, or, with skip_invalid, the valid rows are imported and the rejects returned as CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session

from core.errors import ValidationError
from core.models import User
from core.security.rbac import Actor, Permission, Role, require
from core.services import audit
from core.services.patients import PatientCreate, _matches, create_patient_row, validate_patient
from core.validation import normalise_name, parse_input

REQUIRED = ("full_name", "date_of_birth")
COLUMNS = ("full_name", "date_of_birth", "sex", "phone", "email", "address", "preferred_language",
           "emergency_contact_name", "emergency_contact_phone", "emergency_contact_relationship",
           "assigned_doctor", "consent_recording")
MAX_ROWS = 50_000
MAX_BYTES = 20 * 1024 * 1024
YES, NO = {"yes", "y", "true", "1"}, {"no", "n", "false", "0", ""}


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    problem: str | None = None  # a file-level problem (encoding, header): nothing was read
    rejects_csv: str = ""

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.rejected


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise ValidationError({"file": f"Line {line} is not valid UTF-8 text. Save the file as UTF-8 CSV."}) from exc


def _row_data(row: dict[str, str], doctors: dict[str, object]) -> tuple[dict, list[str]]:
    problems = []
    get = lambda k: (row.get(k) or "").strip()  # noqa: E731
    data: dict = {"full_name": get("full_name"), "sex": get("sex").lower() or "unknown",
                  "phone": get("phone") or None, "email": get("email") or None, "address": get("address") or None,
                  "preferred_language": get("preferred_language") or None}
    dob = get("date_of_birth")
    data["date_of_birth"] = dob or None
    if get("emergency_contact_name") or get("emergency_contact_phone"):
        data["emergency_contact"] = {"name": get("emergency_contact_name"), "phone": get("emergency_contact_phone"),
                                     "relationship": get("emergency_contact_relationship") or None}
    doctor = get("assigned_doctor").lower()
    if doctor:
        if doctor in doctors:
            data["assigned_doctor_id"] = doctors[doctor]
        else:
            problems.append(f"assigned_doctor: no active doctor with username {doctor!r}")
    consent = get("consent_recording").lower()
    if consent in YES:
        data["consent_recording"] = True
    elif consent not in NO:
        problems.append("consent_recording: use yes or no")
    return data, problems


def import_patients(*, session: Session, actor: Actor, content: bytes, skip_invalid: bool = False) -> ImportReport:
    require(actor, Permission.PATIENT_IMPORT)
    report = ImportReport()
    if not isinstance(content, (bytes, bytearray)) or not content:
        raise ValidationError({"file": "The file is empty."})
    if len(content) > MAX_BYTES:
        raise ValidationError({"file": f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB."})
    text = _decode(bytes(content))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("missing column(s): " + ", ".join(missing))
        if unknown:
            parts.append("unknown column(s): " + ", ".join(unknown) + " (allowed: " + ", ".join(COLUMNS) + ")")
        raise ValidationError({"file": "The header row is not right: " + "; ".join(parts) + "."})
    reader.fieldnames = header
    doctors = {u: i for u, i in session.exec(select(User.username, User.id).where(
        User.role == Role.DOCTOR.value, User.is_active.is_(True))).all()}
    valid: list[tuple[int, PatientCreate, dict]] = []
    seen_phone: dict[str, int] = {}
    seen_name_dob: dict[tuple, int] = {}
    original: dict[int, dict] = {}
    try:
        for row in reader:
            line = reader.line_num
            report.rows += 1
            if report.rows > MAX_ROWS:
                raise ValidationError({"file": f"At most {MAX_ROWS} rows per file."})
            if None in row:
                report.rejected.append((line, "more values than columns"))
                continue
            original[line] = row
            data, problems = _row_data(row, doctors)
            try:
                payload = parse_input(PatientCreate, data)
                values = validate_patient(session, payload)
            except ValidationError as exc:
                problems += [f"{k}: {v}" for k, v in exc.fields.items()]
                report.rejected.append((line, "; ".join(problems)))
                continue
            if problems:
                report.rejected.append((line, "; ".join(problems)))
                continue
            key = (normalise_name(values["full_name"]), values["date_of_birth"])
            if values["phone"] and values["phone"] in seen_phone:
                report.rejected.append((line, f"same phone as line {seen_phone[values['phone']]}"))
                continue
            if key in seen_name_dob:
                report.rejected.append((line, f"same name and date of birth as line {seen_name_dob[key]}"))
                continue
            existing = _matches(session, values)
            if existing:
                report.rejected.append((line, "likely already registered as " + ", ".join(p.mrn for p in existing)))
                continue
            if values["phone"]:
                seen_phone[values["phone"]] = line
            seen_name_dob[key] = line
            valid.append((line, payload, values))
    except csv.Error as exc:
        raise ValidationError({"file": f"Line {reader.line_num}: the CSV is malformed ({exc})."}) from exc
    if report.rejected and not skip_invalid:
        audit.record(session, actor=actor, action="patient.import", outcome="failure",
                     details={"rows": report.rows, "rejected": len(report.rejected), "imported": 0})
        return report
    for _, payload, values in valid:
        create_patient_row(session, actor, payload, values)
        report.imported += 1
    if report.rejected:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["line", "reason", *header])
        for line, reason in report.rejected:
            row = original.get(line, {})
            writer.writerow([line, reason, *[row.get(c, "") for c in header]])
        report.rejects_csv = out.getvalue()
    audit.record(session, actor=actor, action="patient.import",
                 details={"rows": report.rows, "rejected": len(report.rejected), "imported": report.imported})
    return report
