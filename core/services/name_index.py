"""Name search and name order without decrypting names.

Search: each word of a patient's normalised name contributes the blind-index tokens of its prefixes of 2
to 12 letters (HMAC under the index key, field "name_prefix"); a query word's prefix (cut at 12) must
match one of them. Order: `name_rank` places each name among the others, found by a binary search that
decrypts about log2(n) names at registration; lists then sort by rank and decrypt only the rows shown.
What the database reveals (documented in the README): which patients share a name-word prefix, and the
alphabetical order of patients — never a name.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlmodel import Session

from core.models import Patient, PatientNameToken
from core.security.crypto import blind_index, is_undecryptable
from core.validation import normalise_name

MIN_PREFIX, MAX_PREFIX = 2, 12
STEP = 2**32
MIN_RANK, MAX_RANK = 0, 2**62


def name_tokens(full_name: str) -> set[str]:
    tokens = set()
    for word in normalise_name(full_name).split():
        for length in range(MIN_PREFIX, min(len(word), MAX_PREFIX) + 1):
            tokens.add(blind_index("name_prefix", word[:length]))
        if len(word) < MIN_PREFIX:
            tokens.add(blind_index("name_prefix", word))
    return tokens


def query_tokens(query: str) -> list[str]:
    """One token per query word of at least two letters; empty when the query has none."""
    words = [w for w in normalise_name(query).split() if len(w) >= MIN_PREFIX]
    return [blind_index("name_prefix", w[:MAX_PREFIX]) for w in words]


def store_tokens(session: Session, patient: Patient, full_name: str) -> None:
    session.exec(delete(PatientNameToken).where(PatientNameToken.patient_id == patient.id))
    rows = [{"patient_id": patient.id, "token": t} for t in sorted(name_tokens(full_name))]
    if rows:
        session.exec(insert(PatientNameToken), params=rows)


def _sort_key(name: object) -> str:
    # An undecryptable name sorts last rather than breaking the search.
    return "\uffff" if is_undecryptable(name) or not isinstance(name, str) else normalise_name(name)


def _neighbour(session: Session, lo: int, hi: int, mid: int, patient_id) -> tuple[int, object] | None:  # type: ignore[no-untyped-def]
    base = select(Patient.name_rank, Patient.full_name).where(
        Patient.name_rank > lo, Patient.name_rank < hi, Patient.id != patient_id)
    row = session.exec(base.where(Patient.name_rank >= mid).order_by(Patient.name_rank.asc()).limit(1)).first()
    if row is None:
        row = session.exec(base.where(Patient.name_rank < mid).order_by(Patient.name_rank.desc()).limit(1)).first()
    return (row[0], row[1]) if row is not None else None


def assign_rank(session: Session, patient: Patient, full_name: str) -> None:
    key = _sort_key(full_name)
    for _attempt in range(2):
        lo, hi = MIN_RANK - 1, MAX_RANK + 1
        for _ in range(256):
            found = _neighbour(session, lo, hi, (lo + hi) // 2, patient.id)
            if found is None:
                break
            rank, name = found
            if key < _sort_key(name):
                hi = rank
            else:
                lo = rank
        if lo < MIN_RANK and hi > MAX_RANK:
            rank = MAX_RANK // 2
        elif hi > MAX_RANK:
            rank = lo + STEP if lo + STEP < MAX_RANK else (lo + hi) // 2
        elif lo < MIN_RANK:
            rank = hi - STEP if hi - STEP > MIN_RANK else (lo + hi) // 2
        else:
            rank = (lo + hi) // 2
        if lo < rank < hi:
            patient.name_rank = rank
            session.add(patient)
            return
        rebalance(session)
    raise RuntimeError("could not place the name among the others")


def rebalance(session: Session) -> int:
    """Spread ranks out again, keeping their order (rare: when two neighbours have no room between)."""
    ids = list(session.exec(select(Patient.id).where(Patient.name_rank.is_not(None))
                            .order_by(Patient.name_rank, Patient.mrn)).scalars())
    start = MAX_RANK // 2 - (len(ids) // 2) * STEP
    for i, pid in enumerate(ids):
        session.exec(update(Patient).where(Patient.id == pid).values(name_rank=start + i * STEP))
    return len(ids)
