"""Key rotation: re-encrypt every encrypted value under the first key, in batches, resumably."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, column, select, table, update
from sqlalchemy.types import Text

from core.models import metadata
from core.security.crypto import Keyring, _Encrypted
from core.security.rbac import Actor, Permission, require
from core.services import audit
from sqlmodel import Session


@dataclass
class RotationReport:
    scanned: int = 0
    rotated: int = 0
    already_current: int = 0
    unreadable: int = 0
    per_column: dict[str, int] = field(default_factory=dict)


def encrypted_columns() -> dict[str, tuple[list[str], list[str]]]:
    """table name -> (primary key columns, encrypted columns), read from the models."""
    found: dict[str, tuple[list[str], list[str]]] = {}
    for tbl in metadata.sorted_tables:
        cols = [c.name for c in tbl.columns if isinstance(c.type, _Encrypted)]
        if cols:
            found[tbl.name] = ([c.name for c in tbl.primary_key.columns], cols)
    return found


def _rotate_audio(engine: Engine, report: RotationReport, batch_size: int) -> None:
    """Consultation audio lives in encrypted files; each is rewritten atomically under the first key."""
    from cryptography.fernet import InvalidToken

    from core.models import AudioChunk
    from core.services import audio_store

    last = None
    while True:
        with Session(engine) as session:
            query = select(AudioChunk.id, AudioChunk.path).order_by(AudioChunk.id).limit(batch_size)
            if last is not None:
                query = query.where(AudioChunk.id > last)
            rows = session.exec(query).all()
        if not rows:
            return
        for _, path in rows:
            report.scanned += 1
            try:
                if audio_store.rotate_chunk(path):
                    report.rotated += 1
                    report.per_column["audio_chunks.file"] = report.per_column.get("audio_chunks.file", 0) + 1
                else:
                    report.already_current += 1
            except (InvalidToken, FileNotFoundError, ValueError):
                report.unreadable += 1
        last = rows[-1][0]


def rotate_keys(*, engine: Engine, actor: Actor, keyring: Keyring, batch_size: int = 500,
                progress: Callable[[str, int], None] | None = None) -> RotationReport:
    """Each batch is its own transaction, so an interrupted run keeps what it did and a rerun skips
    values already under the first key."""
    require(actor, Permission.SYSTEM_ADMIN)
    report = RotationReport()
    for name, (pk_cols, enc_cols) in encrypted_columns().items():
        if len(pk_cols) != 1:
            raise RuntimeError(f"{name}: rotation needs a single-column primary key")
        pk = pk_cols[0]
        raw = table(name, column(pk), *[column(c, Text) for c in enc_cols])
        last = None
        while True:
            with Session(engine) as session, session.begin():
                query = select(raw).order_by(raw.c[pk]).limit(batch_size)
                if last is not None:
                    query = query.where(raw.c[pk] > last)
                rows = session.exec(query).all()
                if not rows:
                    break
                for row in rows:
                    changes = {}
                    for col in enc_cols:
                        token = row._mapping[col]
                        if token is None:
                            continue
                        report.scanned += 1
                        if keyring.is_current(token):
                            report.already_current += 1
                            continue
                        try:
                            changes[col] = keyring.rotate(token)
                        except Exception:  # noqa: BLE001 - InvalidToken: no configured key opens it
                            report.unreadable += 1
                            continue
                        report.per_column[f"{name}.{col}"] = report.per_column.get(f"{name}.{col}", 0) + 1
                    if changes:
                        session.exec(update(raw).where(raw.c[pk] == row._mapping[pk]).values(**changes))
                        report.rotated += len(changes)
                last = rows[-1]._mapping[pk]
            if progress:
                progress(name, report.scanned)
    _rotate_audio(engine, report, batch_size)
    with Session(engine) as session, session.begin():
        audit.record(session, actor=actor, action="keys.rotate",
                     details={"scanned": report.scanned, "rotated": report.rotated, "unreadable": report.unreadable})
    return report
