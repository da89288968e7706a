"""The append-only, hash-chained audit log: record, verify, read and export.

Each row's hash is SHA-256 over the previous row's hash and a canonical JSON of the row (the encrypted
reason by its plaintext, so key rotation keeps the chain). The newest link is also kept in audit_head,
updated in the same transaction: deleting the newest rows leaves the head pointing past the end. An
operator can record `synapse audit head` outside the database and check it later with
`synapse audit verify --anchor SEQ:HASH`, which bounds what someone able to rewrite both tables can hide.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import event, func, select
from sqlmodel import Session

from core.errors import ValidationError
from core.models import AuditEvent, AuditHead
from core.models.base import utcnow
from core.security.crypto import is_undecryptable
from core.security.rbac import Actor, Permission, require
from core.validation import is_clean

GENESIS = "0" * 64
REPLAY_KEY = "synapse_audit_replay"
PENDING_KEY = "synapse_audit_pending"
OUTCOMES = ("success", "failure", "denied", "error", "locked")


def _canonical(event: AuditEvent) -> bytes:
    at = event.at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {
        "seq": event.seq,
        "at": at,
        "actor_id": str(event.actor_id) if event.actor_id else None,
        "actor_username": event.actor_username,
        "actor_role": event.actor_role,
        "action": event.action,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "outcome": event.outcome,
        "reason": event.reason,
        "details": event.details,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _link(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + _canonical(event)).hexdigest()


def _locked_head(session: Session) -> AuditHead:
    # FOR UPDATE serialises writers on PostgreSQL; SQLite units of work already hold the write lock.
    head = session.exec(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalars().first()
    if head is None:  # created by migration 0001; its absence means the table was tampered with
        raise RuntimeError("audit_head row missing: run `synapse audit verify`")
    return head


def replay(session: Session, events: list[dict]) -> None:
    """Write refusals/failures whose transaction was rolled back (called by core.db.unit_of_work)."""
    session.info.pop(REPLAY_KEY, None)
    for event in events:
        record(session, **event)
    write_pending(session)
    session.info.pop(REPLAY_KEY, None)


def record(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    entity: str | None = None,
    entity_id: Any = None,
    outcome: str = "success",
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    username: str | None = None,
) -> None:
    """Append one event to this unit of work. `details` holds identifiers and counts only, never PHI.

    Events are chained when the transaction commits (or when it reads the audit tables), so the lock on
    the chain head is held only for those last statements, not for the whole unit of work."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown audit outcome {outcome!r}")
    spec = dict(actor=actor, action=action, entity=entity, entity_id=entity_id, outcome=outcome, reason=reason,
                details=details, username=username)
    session.info.setdefault(PENDING_KEY, []).append((utcnow(), spec))
    if outcome != "success":
        # A refusal is usually followed by an exception that rolls this transaction back; the unit of
        # work then writes these rows again in a transaction of their own (core.db.unit_of_work).
        session.info.setdefault(REPLAY_KEY, []).append(spec)


def write_pending(session: Session) -> None:
    """Chain and insert the events recorded in this transaction, under the head's lock."""
    pending = session.info.pop(PENDING_KEY, None)
    if not pending:
        return
    head = _locked_head(session)
    for at, spec in pending:
        actor = spec["actor"]
        event = AuditEvent(
            seq=head.seq + 1,  # assigned under the head's lock: gapless, so a missing number is a deleted row
            at=at,
            actor_id=actor.user_id if actor else None,
            actor_username=(actor.username if actor else spec["username"]),
            actor_role=(actor.role.value if actor else None),
            action=spec["action"],
            entity=spec["entity"],
            entity_id=str(spec["entity_id"]) if spec["entity_id"] is not None else None,
            outcome=spec["outcome"],
            reason=spec["reason"],
            details=spec["details"],
            prev_hash=head.hash,
            hash="",
        )
        event.hash = _link(head.hash, event)
        session.add(event)
        head.seq, head.hash, head.updated_at = event.seq, event.hash, event.at
    session.add(head)
    session.flush()


AUDIT_TABLES = frozenset({"audit_log", "audit_head"})


@event.listens_for(Session, "before_commit")
def _chain_before_commit(session: Session) -> None:
    write_pending(session)


@event.listens_for(Session, "do_orm_execute")
def _chain_before_reading_audit(state) -> None:  # type: ignore[no-untyped-def]
    """A unit of work that reads the audit tables sees its own events."""
    if PENDING_KEY not in state.session.info:
        return
    froms = getattr(state.statement, "get_final_froms", None)
    names = {getattr(f, "name", None) for f in froms()} if froms else set()
    if names & AUDIT_TABLES:
        write_pending(state.session)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    head_seq: int
    first_broken_seq: int | None = None
    problem: str | None = None


def verify_chain(session: Session, *, anchor: tuple[int, str] | None = None, batch: int = 2000) -> ChainReport:
    """Walk the chain from the first row; name the first row whose link does not hold."""
    head = session.get(AuditHead, 1)
    prev = GENESIS
    checked = 0
    last_seq = 0
    anchor_seen = anchor is None
    after = 0
    while True:
        rows = session.exec(
            select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(batch)
        ).scalars().all()
        if not rows:
            break
        for event in rows:
            checked += 1
            if is_undecryptable(event.reason):
                return ChainReport(False, checked, last_seq, event.seq, "reason cannot be decrypted with the configured keys")
            if event.prev_hash != prev:
                return ChainReport(False, checked, last_seq, event.seq, "does not link to the row before it (a row was changed, removed or inserted)")
            if _link(prev, event) != event.hash:
                return ChainReport(False, checked, last_seq, event.seq, "content does not match its hash (the row was changed)")
            if anchor is not None and event.seq == anchor[0]:
                if event.hash != anchor[1]:
                    return ChainReport(False, checked, last_seq, event.seq, "does not match the external anchor")
                anchor_seen = True
            prev, last_seq = event.hash, event.seq
            session.expunge(event)
        after = rows[-1].seq
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if (head_seq, head_hash) != (last_seq, prev):
        return ChainReport(
            False, checked, last_seq, last_seq + 1 if head_seq > last_seq else last_seq,
            f"the chain ends at row {last_seq} but the recorded head is row {head_seq} (newest rows removed or head altered)",
        )
    if not anchor_seen:
        return ChainReport(False, checked, last_seq, anchor[0] if anchor else None, "the anchored row is missing")
    return ChainReport(True, checked, last_seq)


def chain_head(session: Session) -> tuple[int, str]:
    head = session.get(AuditHead, 1)
    return (head.seq, head.hash) if head else (0, GENESIS)


class AuditFilter(BaseModel):
    username: str | None = None
    action: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    outcome: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


class AuditEventPublic(BaseModel):
    seq: int
    at: dt.datetime
    actor_username: str | None
    actor_role: str | None
    action: str
    entity: str | None
    entity_id: str | None
    outcome: str
    reason: str | None
    details: dict | None


SORTABLE = {"seq": AuditEvent.seq, "at": AuditEvent.at, "actor": AuditEvent.actor_username, "action": AuditEvent.action}


EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2999, 12, 31)


def _filtered(query, flt: AuditFilter, zone: dt.tzinfo):  # type: ignore[no-untyped-def]
    if not isinstance(flt, AuditFilter):
        raise ValidationError({"filters": "The filters are not in the expected shape."})
    for name in ("username", "action", "entity", "entity_id", "outcome"):
        value = getattr(flt, name)
        if value is not None and (not is_clean(value) or len(value) > 100):
            raise ValidationError({name: "Use plain text of at most 100 characters."})
    for name in ("date_from", "date_to"):
        value = getattr(flt, name)
        if value is not None and not EARLIEST <= value <= LATEST:
            raise ValidationError({name: f"Choose a date between {EARLIEST:%Y} and {LATEST:%Y}."})
    if flt.date_from and flt.date_to and flt.date_from > flt.date_to:
        raise ValidationError({"date_to": "The end date is before the start date."})
    if flt.username:
        query = query.where(AuditEvent.actor_username == flt.username.strip())
    if flt.action:
        query = query.where(AuditEvent.action.startswith(flt.action.strip(), autoescape=True))
    if flt.entity:
        query = query.where(AuditEvent.entity == flt.entity.strip())
    if flt.entity_id:
        query = query.where(AuditEvent.entity_id == flt.entity_id.strip())
    if flt.outcome:
        query = query.where(AuditEvent.outcome == flt.outcome)
    if flt.date_from:
        query = query.where(AuditEvent.at >= dt.datetime.combine(flt.date_from, dt.time(), zone))
    if flt.date_to:
        end = dt.datetime.combine(flt.date_to + dt.timedelta(days=1), dt.time(), zone)
        query = query.where(AuditEvent.at < end)
    return query


def _public(event: AuditEvent) -> AuditEventPublic:
    reason = event.reason
    return AuditEventPublic(
        seq=event.seq or 0, at=event.at, actor_username=event.actor_username, actor_role=event.actor_role,
        action=event.action, entity=event.entity, entity_id=event.entity_id, outcome=event.outcome,
        reason=str(reason) if is_undecryptable(reason) else reason, details=event.details,
    )


def list_events(
    *, session: Session, actor: Actor, filters: AuditFilter, zone: dt.tzinfo = dt.timezone.utc,
    sort: str = "seq", descending: bool = True, limit: int = 100, offset: int = 0,
) -> tuple[list[AuditEventPublic], int]:
    require(actor, Permission.AUDIT_READ)
    if sort not in SORTABLE:
        raise ValidationError({"sort": f"Sort by one of: {', '.join(SORTABLE)}."})
    if type(limit) is not int or not 1 <= limit <= 1000:
        raise ValidationError({"limit": "Page size must be between 1 and 1000."})
    if type(offset) is not int or not 0 <= offset <= 10**9:
        raise ValidationError({"offset": "The page is out of range."})
    total = session.exec(_filtered(select(func.count()).select_from(AuditEvent), filters, zone)).scalar_one()
    column = SORTABLE[sort]
    query = _filtered(select(AuditEvent), filters, zone)
    query = query.order_by(column.desc() if descending else column.asc(), AuditEvent.seq.desc())
    rows = session.exec(query.limit(limit).offset(offset)).scalars().all()
    return [_public(r) for r in rows], total


def _csv_cell(value: Any) -> str:
    text = "" if value is None else (json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value))
    # Spreadsheet formula injection: a leading = + - @ would be evaluated by Excel/LibreOffice.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv(*, session: Session, actor: Actor, filters: AuditFilter, zone: dt.tzinfo = dt.timezone.utc) -> str:
    require(actor, Permission.AUDIT_READ)
    out = io.StringIO()
    writer = csv.writer(out)
    fields = list(AuditEventPublic.model_fields)
    writer.writerow(fields)
    query = _filtered(select(AuditEvent), filters, zone).order_by(AuditEvent.seq)
    count = 0
    for event in session.exec(query).scalars():
        row = _public(event).model_dump()
        row["at"] = row["at"].isoformat()
        writer.writerow([_csv_cell(row[f]) for f in fields])
        count += 1
    record(session, actor=actor, action="audit.export", entity="audit_log", details={"rows": count})
    return out.getvalue()
