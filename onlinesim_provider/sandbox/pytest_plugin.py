"""Pytest plugin: a sandbox for every test, via the ``onlinesim_sandbox`` fixture.

One server runs for the whole test session; each test gets it back in its initial state.
Override ``onlinesim_sandbox_config`` in a ``conftest.py`` to change the settings::

    @pytest.fixture(scope="session")
    def onlinesim_sandbox_config():
        return SandboxConfig(balance="50.00", sms_delay=5)

    def test_my_dag(onlinesim_sandbox):
        conn_uri = f"onlinesim://:{onlinesim_sandbox.api_key}@{onlinesim_sandbox.url}"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from onlinesim_provider.sandbox.config import SandboxConfig
from onlinesim_provider.sandbox.server import SandboxServer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from onlinesim_provider.sandbox.control import SandboxControl


@pytest.fixture(scope="session")
def onlinesim_sandbox_config() -> SandboxConfig:
    """Return the settings of the session's sandbox (override to change them)."""
    return SandboxConfig()


@pytest.fixture(scope="session")
def onlinesim_sandbox_server(onlinesim_sandbox_config: SandboxConfig) -> Iterator[SandboxServer]:
    """Run one sandbox server on a free loopback port for the whole session.

    :param onlinesim_sandbox_config: the settings of the sandbox.
    """
    with SandboxServer(onlinesim_sandbox_config) as server:
        yield server


@pytest.fixture
def onlinesim_sandbox(onlinesim_sandbox_server: SandboxServer) -> SandboxControl:
    """Return the controls of the session's sandbox, reset to its initial state for this test.

    :param onlinesim_sandbox_server: the session's server.
    """
    control = onlinesim_sandbox_server.control
    control.reset()
    return control
