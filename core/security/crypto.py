"""Encryption at rest and the blind index.

Encrypted columns use MultiFernet: the first key encrypts, every key decrypts, so keys can be rotated
(`synapse rotate-keys`) without downtime. Exact search over encrypted values uses a blind index: an
HMAC-SHA256 under a separate index key over the normalised value, domain-separated by field, so the
database never holds anything a dictionary attack on a plain hash could reverse.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.types import Text, TypeDecorator

from core.config import Settings, ensure_data_dir, get_settings

log = logging.getLogger(__name__)


class KeyConfigurationError(RuntimeError):
    pass


class Undecryptable:
    """Stands in for a value that could not be decrypted, so one bad row never breaks a list."""

    __slots__ = ()
    text = "[cannot decrypt]"

    def __repr__(self) -> str:
        return "Undecryptable()"

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return False


UNDECRYPTABLE = Undecryptable()


def is_undecryptable(value: Any) -> bool:
    return isinstance(value, Undecryptable)


def _parse_fernet_keys(raw: str) -> list[bytes]:
    keys = [part.strip() for part in raw.split(",") if part.strip()]
    if not keys:
        raise KeyConfigurationError("SYNAPSE_ENCRYPTION_KEYS holds no key")
    for i, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise KeyConfigurationError(
                f"SYNAPSE_ENCRYPTION_KEYS key #{i} is not a valid Fernet key (32 url-safe base64 bytes)"
            ) from exc
    return [k.encode() for k in keys]


def _parse_index_key(raw: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(raw.strip().encode())
    except (ValueError, TypeError) as exc:
        raise KeyConfigurationError("SYNAPSE_INDEX_KEY is not url-safe base64") from exc
    if len(key) < 32:
        raise KeyConfigurationError("SYNAPSE_INDEX_KEY must decode to at least 32 bytes")
    return key


def generate_fernet_key() -> str:
    return Fernet.generate_key().decode()


def generate_index_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


class Keyring:
    def __init__(self, fernet_keys: list[bytes], index_key: bytes):
        if not fernet_keys:
            raise KeyConfigurationError("at least one encryption key is needed")
        self._primary = Fernet(fernet_keys[0])
        self._multi = MultiFernet([Fernet(k) for k in fernet_keys])
        self._index_key = index_key
        self.key_count = len(fernet_keys)

    @classmethod
    def from_strings(cls, encryption_keys: str, index_key: str) -> Keyring:
        return cls(_parse_fernet_keys(encryption_keys), _parse_index_key(index_key))

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Raises InvalidToken when no configured key opens the token."""
        return self._multi.decrypt(token.encode("ascii")).decode("utf-8")

    def encrypt_bytes(self, data: bytes) -> bytes:
        return self._multi.encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        return self._multi.decrypt(token)

    def is_current(self, token: str) -> bool:
        """True when the first (encrypting) key opens the token: rotation can skip it."""
        try:
            self._primary.decrypt(token.encode("ascii"))
            return True
        except InvalidToken:
            return False

    def rotate(self, token: str) -> str:
        return self._multi.rotate(token.encode("ascii")).decode("ascii")

    def blind_index(self, field: str, normalised_value: str) -> str:
        message = field.encode() + b"\x00" + normalised_value.encode("utf-8")
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()


_keyring: Keyring | None = None


def _load_or_create_key_file(settings: Settings) -> tuple[str, str]:
    path: Path = settings.key_file
    if path.exists():
        values: dict[str, str] = {}
        try:
            content = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise KeyConfigurationError(f"{path} is not valid UTF-8 text; restore it from your backup") from exc
        for line in content.splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                name, _, value = line.partition("=")
                values[name.strip()] = value.strip()
        try:
            return values["SYNAPSE_ENCRYPTION_KEYS"], values["SYNAPSE_INDEX_KEY"]
        except KeyError as exc:
            raise KeyConfigurationError(f"{path} lacks {exc.args[0]}") from exc
    ensure_data_dir(settings)
    enc, idx = generate_fernet_key(), generate_index_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(
            "# Generated by Synapse for the embedded default. Back this file up: without it the\n"
            "# encrypted patient data cannot be read. In production set these in the environment.\n"
            f"SYNAPSE_ENCRYPTION_KEYS={enc}\nSYNAPSE_INDEX_KEY={idx}\n"
        )
    log.warning("Generated encryption keys in %s (mode 0600). Back it up; losing it loses the data.", path)
    return enc, idx


def keyring_from_settings(settings: Settings) -> Keyring:
    enc = settings.encryption_keys.get_secret_value() if settings.encryption_keys else ""
    idx = settings.index_key.get_secret_value() if settings.index_key else ""
    if not enc.strip() or not idx.strip():
        if settings.env == "production":
            settings.check_production()
        file_enc, file_idx = _load_or_create_key_file(settings)
        enc = enc.strip() or file_enc
        idx = idx.strip() or file_idx
    return Keyring.from_strings(enc, idx)


def get_keyring() -> Keyring:
    global _keyring
    if _keyring is None:
        _keyring = keyring_from_settings(get_settings())
    return _keyring


def use_keyring(keyring: Keyring | None) -> None:
    """Install a keyring for this process (the CLI after key changes, tests); None reloads from settings."""
    global _keyring
    _keyring = keyring


def blind_index(field: str, normalised_value: str) -> str:
    return get_keyring().blind_index(field, normalised_value)


class _Encrypted(TypeDecorator):
    """Base of the encrypted column types: ciphertext is Fernet's url-safe text."""

    impl = Text
    cache_ok = True

    def serialize(self, value: Any) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def deserialize(self, text: str) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, Undecryptable):
            # Writing the marker back would destroy the original ciphertext.
            raise ValueError("refusing to store an undecryptable marker")
        return get_keyring().encrypt(self.serialize(value))

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        if value is None:
            return None
        try:
            return self.deserialize(get_keyring().decrypt(value))
        except (InvalidToken, ValueError, UnicodeDecodeError):
            return UNDECRYPTABLE


class EncryptedText(_Encrypted):
    cache_ok = True

    def serialize(self, value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError(f"EncryptedText takes str, not {type(value).__name__}")
        return value

    def deserialize(self, text: str) -> str:
        return text


class EncryptedDate(_Encrypted):
    cache_ok = True

    def serialize(self, value: Any) -> str:
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise TypeError("EncryptedDate takes a date")
        return value.isoformat()

    def deserialize(self, text: str) -> dt.date:
        return dt.date.fromisoformat(text)


class EncryptedJSON(_Encrypted):
    cache_ok = True

    def serialize(self, value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def deserialize(self, text: str) -> Any:
        return json.loads(text)
