"""Reliability fixtures: a sandbox with a distinctive key, and a key-leak scan of every test.

Every test here talks to a sandbox whose key is :data:`~tests.reliability.secrets_scan.KEY`. After
each test, everything pytest captured for it (stdout, stderr, log records at DEBUG for the
provider and the HTTP libraries, and the failure traceback, if any) is searched for the key in
every encoding; the totals are printed at the end of the run, and any hit fails the run.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

from onlinesim_provider.sandbox import SandboxConfig, SandboxServer
from tests.reliability.secrets_scan import KEY, SecretScan

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Seed of everything random in this suite (sandbox codes, fault draws, chaos choices).
SEED = 20240531
#: Loggers whose DEBUG records are captured and scanned: ours and the HTTP libraries'.
SCANNED_LOGGERS = ("onlinesim_provider", "urllib3", "aiohttp", "airflow.task")

SUITE_SCAN = SecretScan()
#: Sections printed at the end of the run: (title, lines).
REPORT: list[tuple[str, list[str]]] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put every test of this folder in the ``reliability`` layer (``make check`` leaves it out)."""
    here = __file__.rsplit("/", 1)[0]
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(scope="session")
def onlinesim_sandbox_server() -> Iterator[SandboxServer]:
    """Run this suite's own sandbox, keyed with the distinctive key (seeded codes)."""
    with SandboxServer(SandboxConfig(api_key=KEY), seed=SEED) as server:
        yield server


@pytest.fixture(autouse=True)
def _debug_logs_are_captured(caplog: pytest.LogCaptureFixture) -> None:
    """Capture DEBUG records of the loggers that could carry the key, so the scan sees them."""
    for name in SCANNED_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Search what pytest captured for one test phase, and its traceback, for the key."""
    for title, text in report.sections:
        SUITE_SCAN.scan(f"{report.nodeid} [{title}]", text)
    if report.longrepr is not None:
        SUITE_SCAN.scan(f"{report.nodeid} [traceback]", report.longreprtext)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the reports of the reliability tests and the key-leak scan totals."""
    for title, lines in REPORT:
        terminalreporter.write_sep("-", title)
        for line in lines:
            terminalreporter.write_line(line)
    if not SUITE_SCAN.searched:
        return
    terminalreporter.write_sep("-", "key-leak scan of the reliability tests")
    terminalreporter.write_line(
        f"{SUITE_SCAN.searched} captured outputs searched for the key (raw, URL-encoded, base64): "
        f"{len(SUITE_SCAN.hits)} hits"
    )
    for place, form in SUITE_SCAN.hits:
        terminalreporter.write_line(f"  key found in {place} (as {form!r})")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail the run when the key appeared anywhere a user or an attacker could read it."""
    if SUITE_SCAN.hits:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
