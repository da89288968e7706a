"""Browser end-to-end fixtures: a real Streamlit server for the app (own data dir, demo clinic) and Debian
Chromium driven by Playwright. Imported by tests/e2e/conftest.py; usable on its own as plain functions too.

The server runs exactly as a person would start it (`python -m streamlit run Home.py`), with the embedded
SQLite default in a throwaway SYNAPSE_DATA_DIR. Its keys come from that data dir's keys.env, written by
`python -m core.cli demo`, which runs first with the same environment and prints the demo passwords."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, unavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"
PYTHON = sys.executable
STARTUP_TIMEOUT_S = 60.0
UI_TIMEOUT_MS = 20_000  # one Streamlit rerun, incl. argon2 on sign-in; generous for slow CI machines

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# `synapse demo` prints: "  doctor        dr.rao     PASSWORD"
_DEMO_LINE = re.compile(r"^\s+(admin|doctor|receptionist|manager)\s+(\S+)\s+(\S+)\s*$")


@dataclass
class Server:
    url: str
    port: int
    data_dir: Path
    log_path: Path
    env: dict[str, str]
    passwords: dict[str, str] = field(default_factory=dict)  # username -> password
    process: subprocess.Popen | None = None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return text[-chars:]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def midday_zone() -> str:
    """A fixed-offset zone where it is about noon now, so the clinic's "today" has free slots whatever
    the hour the tests run (Etc/GMT signs are inverted: Etc/GMT-5 is UTC+5)."""
    import datetime as dt

    hours_ahead = 12 - dt.datetime.now(dt.timezone.utc).hour
    return f"Etc/GMT{-hours_ahead:+d}"


def server_env(data_dir: Path) -> dict[str, str]:
    """The parent environment without any SYNAPSE_* setting (the test process sets its own keys and data
    dir), then the server's own: test mode, SQLite default in data_dir, no network for telemetry, and a
    clinic time zone where it is midday."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNAPSE_", "STREAMLIT_"))}
    env.update({
        "SYNAPSE_ENV": "test",
        "SYNAPSE_TIMEZONE": midday_zone(),
        "SYNAPSE_DATA_DIR": str(data_dir),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def create_demo_clinic(env: dict[str, str]) -> dict[str, str]:
    """Run `python -m core.cli demo` and return {username: password} parsed from its output."""
    proc = subprocess.run([PYTHON, "-m", "core.cli", "demo"], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"`core.cli demo` exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    passwords = {m.group(2): m.group(3) for line in proc.stdout.splitlines() if (m := _DEMO_LINE.match(line))}
    if not {"admin", "dr.rao"} <= passwords.keys():
        raise RuntimeError(f"could not parse demo passwords from:\n{proc.stdout}")
    return passwords


def _health(url: str) -> str | None:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
            return resp.read().decode(errors="replace").strip()
    except (urllib.error.URLError, OSError):
        return None


def stop(process: subprocess.Popen) -> None:
    """Terminate, then kill if it does not go within 10 s. Only this one process, by its own handle."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def running_server(data_dir: Path) -> Iterator[Server]:
    """Create the demo clinic in data_dir, start Streamlit on a free port, wait for health, always stop it."""
    env = server_env(data_dir)
    passwords = create_demo_clinic(env)
    port = free_port()
    server = Server(url=f"http://127.0.0.1:{port}", port=port, data_dir=data_dir,
                    log_path=data_dir.parent / "streamlit.log", env=env, passwords=passwords)
    with open(server.log_path, "wb") as log:
        server.process = subprocess.Popen(
            [PYTHON, "-m", "streamlit", "run", "Home.py", "--server.port", str(port), "--server.headless", "true",
             # Loopback only; and no file watcher: other people editing the checkout during a run must not
             # make Streamlit unload and re-import core.* (SQLModel then refuses to redefine the tables).
             "--server.address", "127.0.0.1", "--server.fileWatcherType", "none", "--server.runOnSave", "false"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if _health(server.url) == "ok":
                break
            if server.process.poll() is not None:
                raise RuntimeError(f"Streamlit exited with {server.process.returncode} before it was healthy.\n"
                                   f"--- server log ---\n{server.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Streamlit not healthy at {server.url}/_stcore/health after "
                                   f"{STARTUP_TIMEOUT_S:.0f} s.\n--- server log ---\n{server.log_tail()}")
            time.sleep(0.25)
        yield server
    finally:
        stop(server.process)


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def synapse_server() -> Iterator[Server]:
    root = Path(tempfile.mkdtemp(prefix="synapse-e2e-"))
    try:
        with running_server(root / "var") as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[object]:
    """The one Playwright instance of the test process (the sync API allows only one at a time)."""
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium not found at {CHROMIUM} (Debian package `chromium`)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright Python package is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def chromium(playwright_driver) -> Iterator[object]:  # type: ignore[no-untyped-def]
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, headless=False, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page(chromium, synapse_server, request):  # type: ignore[no-untyped-def]
    """A fresh browser context (no shared cookies or storage) per test, with a screenshot on failure."""
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, base_url=synapse_server.url)
    context.set_default_timeout(UI_TIMEOUT_MS)
    pg = context.new_page()
    pg.console_errors = []  # type: ignore[attr-defined]
    pg.on("console", lambda msg: pg.console_errors.append(msg.text) if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: pg.console_errors.append(f"pageerror: {exc}"))
    try:
        yield pg
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            try:
                pg.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
            except Exception:  # noqa: BLE001 - best effort only
                pass
            print(f"browser console errors: {pg.console_errors}")
            print(f"--- server log (tail) ---\n{synapse_server.log_tail()}")
        context.close()


class Shots:
    """Numbered screenshots of one test's steps in test-artifacts/e2e/."""

    def __init__(self, page, name: str) -> None:  # type: ignore[no-untyped-def]
        self.page, self.name, self.n = page, name, 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in [*ARTIFACTS.glob(f"{name}-*.png"), ARTIFACTS / f"FAILED-{name}.png"]:
            old.unlink(missing_ok=True)

    def __call__(self, step: str) -> Path:
        self.n += 1
        path = ARTIFACTS / f"{self.name}-{self.n:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shot(page, request) -> Shots:  # type: ignore[no-untyped-def]
    return Shots(page, request.node.name)
