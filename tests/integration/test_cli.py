"""The `synapse` command, in-process against both databases and as a real process on a fresh data dir."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from core.cli import main
from core.db import unit_of_work
from core.security.rbac import Role
from tests.factories import make_user

REPO = Path(__file__).resolve().parents[2]


def test_user_commands(database, capsys):
    assert main(["user", "add", "frontdesk", "--role", "receptionist", "--full-name", "Front Desk"]) == 0
    out = capsys.readouterr().out
    assert "set-up code" in out and re.search(r"[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}", out)
    assert main(["user", "list"]) == 0
    assert re.search(r"frontdesk\s+receptionist\s+yes", capsys.readouterr().out)
    assert main(["user", "reset", "frontdesk"]) == 0
    assert "reset code" in capsys.readouterr().out
    assert main(["user", "deactivate", "frontdesk"]) == 0
    assert main(["user", "list"]) == 0
    assert re.search(r"frontdesk\s+receptionist\s+no", capsys.readouterr().out)
    assert main(["user", "reset", "ghost"]) == 1
    assert "No user named 'ghost'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["user", "add", "x", "--role", "wizard"])
    assert exit_.value.code == 2


def test_audit_verify_exit_codes(database, capsys):
    with unit_of_work() as session:
        make_user(session, role=Role.DOCTOR)
    assert main(["audit", "verify"]) == 0
    assert "intact" in capsys.readouterr().out
    assert main(["audit", "head"]) == 0
    head = capsys.readouterr().out.strip()
    assert re.fullmatch(r"1:[0-9a-f]{64}", head)
    assert main(["audit", "verify", "--anchor", head]) == 0
    with database.engine.begin() as conn:
        if database.kind == "postgres":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET actor_role = 'manager' WHERE seq = 1"))
    assert main(["audit", "verify"]) == 1
    assert "BROKEN at row 1" in capsys.readouterr().out


def test_rotate_keys_command(database, capsys, monkeypatch):
    from cryptography.fernet import Fernet

    from core.security.crypto import Keyring, use_keyring
    from tests.conftest import TEST_ENCRYPTION_KEY, TEST_INDEX_KEY
    from tests.factories import make_patient

    with unit_of_work() as session:
        make_patient(session)
    use_keyring(Keyring.from_strings(f"{Fernet.generate_key().decode()},{TEST_ENCRYPTION_KEY}", TEST_INDEX_KEY))
    assert main(["rotate-keys", "--batch-size", "2"]) == 0
    out = capsys.readouterr().out
    assert "4 re-encrypted" in out and "0 unreadable" in out


def _run(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_fresh_embedded_default_demo_status_and_production_refusal(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNAPSE_")}
    env["PYTHONPATH"] = str(REPO)
    first = _run(["demo"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    logins = re.findall(r"^\s+(admin|doctor|receptionist|manager)\s+(\S+)\s+(\S{12,})$", first.stdout, re.M)
    assert {role for role, _, _ in logins} == {"admin", "doctor", "receptionist", "manager"}
    assert len({pw for _, _, pw in logins}) == 4
    keys = tmp_path / "var" / "keys.env"
    assert keys.exists() and oct(keys.stat().st_mode & 0o777) == "0o600"
    assert "Generated encryption keys" in first.stderr
    second = _run(["demo"], env, tmp_path)
    assert second.returncode == 0 and "already exists" in second.stdout
    assert not any(pw in second.stdout for _, _, pw in logins)
    status = _run(["status"], env, tmp_path)
    assert status.returncode == 0, status.stdout
    assert re.search(r"ok\s+migrations\s+at (\w+), head \1", status.stdout)
    prod = _run(["status"], {**env, "SYNAPSE_ENV": "production"}, tmp_path)
    assert prod.returncode == 3
    for name in ("SYNAPSE_ENCRYPTION_KEYS", "SYNAPSE_INDEX_KEY", "SYNAPSE_DATABASE_URL"):
        assert name in prod.stderr
    sqlite_prod = _run(["status"], {**env, "SYNAPSE_ENV": "production", "SYNAPSE_ENCRYPTION_KEYS": "k",
                                    "SYNAPSE_INDEX_KEY": "i", "SYNAPSE_DATABASE_URL": "sqlite:///x.db"}, tmp_path)
    assert sqlite_prod.returncode == 3 and "PostgreSQL URL" in sqlite_prod.stderr


def test_unreachable_database_is_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNAPSE_")}
    env.update(PYTHONPATH=str(REPO), SYNAPSE_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    result = _run(["migrate"], env, tmp_path)
    assert result.returncode == 3 and "not reachable" in result.stderr and "Traceback" not in result.stderr
