"""Settings and key files: clear messages for everything a person can get wrong."""

from __future__ import annotations

import os

import pytest
from cryptography.fernet import Fernet

from core.config import ConfigurationError, Settings, get_settings, reset_settings
from core.security.crypto import KeyConfigurationError, Keyring, generate_index_key, keyring_from_settings


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("SYNAPSE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    reset_settings()
    yield tmp_path
    reset_settings()


def test_embedded_default_needs_no_configuration(clean_env):
    settings = get_settings()
    assert settings.is_sqlite and settings.sqlalchemy_url.endswith("var/synapse.db")
    assert settings.timezone == "Asia/Kolkata" and settings.session_idle_minutes == 30


def test_production_names_every_missing_setting(clean_env, monkeypatch):
    monkeypatch.setenv("SYNAPSE_ENV", "production")
    with pytest.raises(ConfigurationError) as err:
        get_settings()
    for name in ("SYNAPSE_ENCRYPTION_KEYS", "SYNAPSE_INDEX_KEY", "SYNAPSE_DATABASE_URL"):
        assert name in str(err.value)


def test_postgres_urls_use_psycopg3(clean_env, monkeypatch):
    monkeypatch.setenv("SYNAPSE_DATABASE_URL", "postgres://u:p@db:5432/synapse")
    assert get_settings().sqlalchemy_url == "postgresql+psycopg://u:p@db:5432/synapse"


@pytest.mark.parametrize("name, value, fragment", [
    ("SYNAPSE_TIMEZONE", "Mars/Olympus", "unknown time zone"),
    ("SYNAPSE_SESSION_IDLE_MINUTES", "zero", "SYNAPSE_SESSION_IDLE_MINUTES"),
    ("SYNAPSE_PORT", "70000", "SYNAPSE_PORT"),
])
def test_bad_settings_are_named(clean_env, monkeypatch, name, value, fragment):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as err:
        get_settings()
    assert fragment in str(err.value)


def test_dotenv_with_invalid_utf8_is_a_clear_error(clean_env):
    (clean_env / ".env").write_bytes(b"SYNAPSE_CLINIC_NAME=\xff\xfe bad\n")
    with pytest.raises(ConfigurationError) as err:
        get_settings()
    assert "UTF-8" in str(err.value)


def test_generated_key_file_is_private_and_reused(clean_env):
    settings = Settings()
    first = keyring_from_settings(settings)
    path = settings.key_file
    assert path.stat().st_mode & 0o777 == 0o600
    second = keyring_from_settings(settings)
    assert second.decrypt(first.encrypt("same keys")) == "same keys"


def test_corrupt_key_file_is_a_clear_error(clean_env):
    settings = Settings()
    settings.data_dir.mkdir()
    settings.key_file.write_bytes(b"SYNAPSE_ENCRYPTION_KEYS=\xff\xff\n")
    with pytest.raises(KeyConfigurationError) as err:
        keyring_from_settings(settings)
    assert "UTF-8" in str(err.value)
    settings.key_file.write_text("SYNAPSE_ENCRYPTION_KEYS=abc\n")
    with pytest.raises(KeyConfigurationError) as err:
        keyring_from_settings(settings)
    assert "SYNAPSE_INDEX_KEY" in str(err.value)


@pytest.mark.parametrize("keys, index, fragment", [
    ("", generate_index_key(), "holds no key"),
    ("not-a-key", generate_index_key(), "key #1 is not a valid Fernet key"),
    (Fernet.generate_key().decode(), "c2hvcnQ=", "at least 32 bytes"),
])
def test_bad_keys_are_named(keys, index, fragment):
    with pytest.raises(KeyConfigurationError) as err:
        Keyring.from_strings(keys, index)
    assert fragment in str(err.value)


def test_multifernet_first_key_encrypts_all_decrypt():
    old, new, index = Fernet.generate_key().decode(), Fernet.generate_key().decode(), generate_index_key()
    token = Keyring.from_strings(old, index).encrypt("Asha")
    both = Keyring.from_strings(f"{new},{old}", index)
    assert both.decrypt(token) == "Asha" and not both.is_current(token)
    assert Keyring.from_strings(new, index).decrypt(both.rotate(token)) == "Asha"


def test_blind_index_depends_on_key_and_field():
    a, b = Keyring.from_strings(Fernet.generate_key().decode(), generate_index_key()), \
        Keyring.from_strings(Fernet.generate_key().decode(), generate_index_key())
    assert a.blind_index("phone", "+919876543210") != b.blind_index("phone", "+919876543210")
    assert a.blind_index("phone", "x@y.z") != a.blind_index("email", "x@y.z")
    assert a.blind_index("phone", "+919876543210") == a.blind_index("phone", "+919876543210")
