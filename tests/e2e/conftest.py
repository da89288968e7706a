"""Fixtures for the browser tests live in tests/e2e/server.py; this makes them visible to pytest and records
each phase's outcome on the test item so a failing test leaves a screenshot behind."""

from __future__ import annotations

import pytest

from tests.e2e.server import chromium, page, playwright_driver, shot, synapse_server  # noqa: F401 - fixtures


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
