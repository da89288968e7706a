"""Domain errors raised by services and shown by pages in plain words."""

from __future__ import annotations


class DomainError(Exception):
    """Base of the errors a person may see; the message is safe to show (no PHI, no internals)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ValidationError(DomainError):
    """Input that cannot be accepted; `fields` maps a field name to the message shown next to it."""

    def __init__(self, fields: dict[str, str], message: str | None = None):
        self.fields = dict(fields)
        super().__init__(message or "Please correct the highlighted fields.")

    def __str__(self) -> str:
        return self.message + " " + "; ".join(f"{k}: {v}" for k, v in self.fields.items())


class NotFound(DomainError):
    pass


class PermissionDenied(DomainError):
    def __init__(self, message: str = "You do not have permission to do this."):
        super().__init__(message)


class Conflict(DomainError):
    pass


class AuthenticationFailed(DomainError):
    """Wrong credentials, locked account or missing second factor; the message is the same for unknown users."""


class SessionExpired(DomainError):
    def __init__(self, message: str = "Your session has ended. Please sign in again."):
        super().__init__(message)
