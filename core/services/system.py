"""System status for `synapse status` and the admin page: database, migrations, keys. No PHI."""

from __future__ import annotations

import stat
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from core.config import Settings
from core.migrate import current_revision, head_revision


@dataclass
class StatusCheck:
    name: str
    ok: bool
    detail: str


@dataclass
class SystemStatus:
    checks: list[StatusCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def system_status(*, engine: Engine, settings: Settings) -> SystemStatus:
    status = SystemStatus()
    url = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        status.checks.append(StatusCheck("database", True, f"reachable ({engine.dialect.name}: {url})"))
    except Exception as exc:  # noqa: BLE001 - any driver error means unreachable
        status.checks.append(StatusCheck("database", False, f"not reachable ({url}): {type(exc).__name__}"))
        return status
    current, head = current_revision(engine), head_revision()
    status.checks.append(StatusCheck(
        "migrations", current == head,
        f"at {current or 'none'}, head {head}" + ("" if current == head else " — run `synapse migrate`"),
    ))
    env_keys = bool(settings.encryption_keys and settings.encryption_keys.get_secret_value().strip())
    if env_keys:
        count = len([k for k in settings.encryption_keys.get_secret_value().split(",") if k.strip()])  # type: ignore[union-attr]
        status.checks.append(StatusCheck("keys", True, f"{count} encryption key(s) from the environment"))
    elif settings.key_file.exists():
        mode = stat.S_IMODE(settings.key_file.stat().st_mode)
        ok = mode & 0o077 == 0
        status.checks.append(StatusCheck(
            "keys", ok, f"generated key file {settings.key_file} (mode {mode:o})" + ("" if ok else " — run chmod 600"),
        ))
    else:
        status.checks.append(StatusCheck("keys", settings.env != "production", "no keys yet: generated on first use"))
    if settings.env == "production" and settings.is_sqlite:
        status.checks.append(StatusCheck("environment", False, "production must not use SQLite"))
    else:
        status.checks.append(StatusCheck("environment", True, settings.env))
    return status


def admin_status(*, session, actor) -> tuple[SystemStatus, list[str], tuple[int, int]]:  # type: ignore[no-untyped-def]
    """For the admin's home page: the checks of `synapse status`, the speech engine, stored audio (files, bytes)."""
    from core.config import get_settings
    from core.security.rbac import Permission, require
    from core.services.audio_store import disk_usage
    from core.speech.engines import engine_status

    require(actor, Permission.SYSTEM_ADMIN)
    settings = get_settings()
    return system_status(engine=session.get_bind(), settings=settings), engine_status(settings), disk_usage()
