"""Consultation audio on disk: each chunk encrypted with the same keys as the database (Fernet), written
atomically (temporary file, fsync, rename), so what was received survives a crash."""

from __future__ import annotations

import io
import os
import uuid
import wave
from pathlib import Path

from core.config import ensure_data_dir, get_settings
from core.security.crypto import get_keyring

SAMPLE_RATE = 16_000


def audio_root() -> Path:
    root = ensure_data_dir(get_settings()) / "audio"
    root.mkdir(mode=0o700, exist_ok=True)
    return root


def chunk_relpath(consultation_id: uuid.UUID, seq: int) -> str:
    return f"{consultation_id}/{seq:06d}.chunk"


def write_chunk(relpath: str, pcm: bytes) -> None:
    path = audio_root() / relpath
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    data = get_keyring().encrypt_bytes(pcm)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def read_chunk(relpath: str) -> bytes:
    """Raises FileNotFoundError, or cryptography's InvalidToken when no configured key opens it."""
    return get_keyring().decrypt_bytes((audio_root() / relpath).read_bytes())


def rotate_chunk(relpath: str) -> bool:
    """Re-encrypt one chunk under the first key; False when it already was."""
    path = audio_root() / relpath
    token = path.read_bytes()
    keyring = get_keyring()
    if keyring.is_current(token.decode("ascii")):
        return False
    fresh = keyring.rotate(token.decode("ascii")).encode("ascii")
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(fresh)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return True


def pcm_to_wav(pcm: bytes) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm)
    return out.getvalue()


def disk_usage() -> tuple[int, int]:
    """(files, bytes) of stored audio, for the status page."""
    files = size = 0
    for path in audio_root().rglob("*.chunk"):
        files += 1
        size += path.stat().st_size
    return files, size
