"""argon2id password hashing (OWASP: 19 MiB, 2 iterations, 1 lane) and the password policy."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 256

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError, UnicodeEncodeError, TypeError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def burn_verify_time(password: str) -> None:
    """Spend one verification's time so an unknown username costs what a known one does."""
    verify_password(_dummy_hash(), password)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(line.strip().casefold() for line in path.read_text().splitlines() if line.strip())


def password_problems(password: str, username: str | None = None) -> list[str]:
    """Plain-language reasons a new password is refused; empty when it is acceptable."""
    if not isinstance(password, str) or not password:
        return ["Enter a password."]
    problems = []
    from core.validation import is_clean

    if not is_clean(password):
        return ["The password contains control characters or invalid text."]
    if len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    folded = password.casefold()
    if username and username.casefold() in folded:
        problems.append("The password must not contain the username.")
    if folded in common_passwords() or len(set(folded)) < 4:
        problems.append("This password is too common or too easy to guess.")
    return problems


def generate_password() -> str:
    """A random password that meets the policy (used for demo accounts; printed once)."""
    return secrets.token_urlsafe(12)
