"""The reliability suite's hooks: the reliability marker, the key-leak scan of captured output, the reports.

They live in a plugin that ``tests/conftest.py`` registers, rather than in this folder's
``conftest.py``, because under pytest-xdist the controlling process collects nothing and so never
loads a sub-folder's conftest: the scan must run where every worker's reports arrive, and the
reports a test prints at the end of the run travel from its worker in the report's
``user_properties``. The deployment test adds its own key's scan to :data:`OUTPUT_SCANS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from deploy.evidence import SecretScan
from tests.reliability.secrets_scan import KEY

#: How the ids of this folder's tests begin (relative to the repository, pytest's rootdir).
NODE_PREFIX = "tests/reliability/"
#: The ``user_properties`` name under which a test hands over a section of the end-of-run report.
REPORT_PROPERTY = "onlinesim_report"

SUITE_SCAN = SecretScan(KEY)
#: Whose captured output is searched for a key: the tests whose ids begin with the prefix.
OUTPUT_SCANS: dict[str, SecretScan] = {NODE_PREFIX: SUITE_SCAN}
#: Sections printed at the end of the run: (title, lines).
REPORT: list[tuple[str, list[str]]] = []
#: What the ``end_of_run_report`` fixture gives a test: ``add(title, lines)``.
Report = Callable[[str, Iterable[str]], None]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put every test of this folder in the ``reliability`` layer (``make check`` leaves it out)."""
    for item in items:
        if item.nodeid.startswith(NODE_PREFIX):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def end_of_run_report(request: pytest.FixtureRequest) -> Report:
    """Return ``add(title, lines)``, which prints a section at the end of the run."""

    def add(title: str, lines: Iterable[str]) -> None:
        request.node.user_properties.append((REPORT_PROPERTY, (title, list(lines))))

    return add


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Search what pytest captured for one test phase, and its traceback, for the key of its folder."""
    for prefix, scan in OUTPUT_SCANS.items():
        if report.nodeid.startswith(prefix):  # a plugin's hook sees every folder's reports
            for title, text in report.sections:
                scan.scan(f"{report.nodeid} [{title}]", text)
            if report.longrepr is not None:
                scan.scan(f"{report.nodeid} [traceback]", report.longreprtext)
    if report.nodeid.startswith(NODE_PREFIX) and report.when == "teardown":
        # the last phase's report carries every property the test added
        REPORT.extend(section for name, section in report.user_properties if name == REPORT_PROPERTY)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the reports of the reliability tests and the key-leak scans' totals."""
    for title, lines in REPORT:
        terminalreporter.write_sep("-", title)
        for line in lines:
            terminalreporter.write_line(line)
    for prefix, scan in OUTPUT_SCANS.items():
        if scan.searched:
            terminalreporter.write_sep("-", f"key-leak scan of {prefix}")
            terminalreporter.write_line(
                f"{scan.searched} places searched (the key raw, URL-encoded, base64): {len(scan.hits)} hits"
            )
            for place, line in scan.hits:
                terminalreporter.write_line(f"  key found in {place}: {line}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail the run when the key appeared anywhere a user or an attacker could read it."""
    if any(scan.hits for scan in OUTPUT_SCANS.values()):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
