"""Reliability fixtures: a sandbox with a distinctive key, and DEBUG logs captured for the scan.

Every test here talks to a sandbox whose key is :data:`~tests.reliability.secrets_scan.KEY`. After
each test, everything pytest captured for it (stdout, stderr, log records at DEBUG for the
provider and the HTTP libraries, and the failure traceback, if any) is searched for the key in
every encoding by :mod:`tests.reliability.plugin`; the totals are printed at the end of the run,
and any hit fails the run.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

from onlinesim_provider.sandbox import SandboxConfig, SandboxServer
from tests.reliability.secrets_scan import KEY

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Seed of everything random in this suite (sandbox codes, fault draws, chaos choices).
SEED = 20240531
#: Loggers whose DEBUG records are captured and scanned: ours and the HTTP libraries'.
SCANNED_LOGGERS = ("onlinesim_provider", "urllib3", "aiohttp", "airflow.task")


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
