"""The ``onlinesim_sandbox`` fixture: one sandbox server per test session, reset for each test.

Override ``onlinesim_sandbox_config`` or ``onlinesim_sandbox_ssl_context`` in a ``conftest.py`` to
change the server; the ``onlinesim_sandbox`` marker changes settings for one test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import ssl
    from collections.abc import Iterator

    from onlinesim_provider.sandbox.config import SandboxConfig
    from onlinesim_provider.sandbox.control import SandboxControl
    from onlinesim_provider.sandbox.server import SandboxServer


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``onlinesim_sandbox`` marker.

    :param config: the pytest configuration.
    """
    config.addinivalue_line(
        "markers",
        "onlinesim_sandbox(**switches): sandbox settings for this test, e.g."
        " delivery=['7:tg:0.0'], seed=1, sms_delay=5 (applied after the per-test reset)",
    )


@pytest.fixture(scope="session")
def onlinesim_sandbox_config() -> SandboxConfig:
    """Return the settings of the session's sandbox (override to change them)."""
    from onlinesim_provider.sandbox.config import SandboxConfig

    return SandboxConfig()


@pytest.fixture(scope="session")
def onlinesim_sandbox_ssl_context() -> ssl.SSLContext | None:
    """Return the server TLS context of the session's sandbox (``None``: plain HTTP; override for HTTPS)."""
    return None


@pytest.fixture(scope="session")
def onlinesim_sandbox_server(
    onlinesim_sandbox_config: SandboxConfig, onlinesim_sandbox_ssl_context: ssl.SSLContext | None
) -> Iterator[SandboxServer]:
    """Run one sandbox server on a free loopback port for the whole session.

    :param onlinesim_sandbox_config: its settings.
    :param onlinesim_sandbox_ssl_context: its TLS context (``None``: plain HTTP).
    """
    from onlinesim_provider.sandbox.server import SandboxServer

    with SandboxServer(onlinesim_sandbox_config, ssl_context=onlinesim_sandbox_ssl_context) as server:
        yield server


@pytest.fixture
def onlinesim_sandbox(
    onlinesim_sandbox_server: SandboxServer, request: pytest.FixtureRequest
) -> SandboxControl:
    """Return the controls of the session's sandbox, reset for this test, then set by its marker.

    :param onlinesim_sandbox_server: the session's server.
    :param request: the test's request (for its marker).
    """
    control = onlinesim_sandbox_server.control
    control.reset()
    switches: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("onlinesim_sandbox"))):
        if marker.args:
            raise ValueError(
                f"invalid onlinesim_sandbox marker arguments {marker.args!r}: expected keyword switches"
                " such as delivery=['7:tg:0.0'], seed=1"
            )
        switches.update(marker.kwargs)
    if switches:
        control.configure(**switches)
    return control
