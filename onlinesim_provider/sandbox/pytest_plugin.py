"""Pytest plugin: a sandbox for every test, via the ``onlinesim_sandbox`` fixture.

One server runs for the whole test session; each test gets it back in its initial state.
Override ``onlinesim_sandbox_config`` in a ``conftest.py`` to change the settings::

    @pytest.fixture(scope="session")
    def onlinesim_sandbox_config():
        return SandboxConfig(balance="50.00", sms_delay=5)

Or change settings for one test with the ``onlinesim_sandbox`` marker (any of
:data:`~onlinesim_provider.sandbox.config.SWITCHES`, applied after the reset), e.g. SMS
delivery rules and their seed::

    @pytest.mark.onlinesim_sandbox(delivery=["7:*:0.0", "*:tg:1:5-60"], seed=42)
    def test_rotation(onlinesim_sandbox):
        ...

Point the ``onlinesim_default`` connection at it, as JSON (any base URL goes in ``host``)::

    def test_my_dag(onlinesim_sandbox, monkeypatch):
        sandbox = onlinesim_sandbox
        conn = {"conn_type": "onlinesim", "host": sandbox.url, "password": sandbox.api_key}
        monkeypatch.setenv("AIRFLOW_CONN_ONLINESIM_DEFAULT", json.dumps(conn))

or as a URI: Airflow wants the base URL's scheme right after ``onlinesim://`` (a host without
one gets ``http://``) and the key URL-quoted::

        host_port = urllib.parse.urlsplit(sandbox.url).netloc
        key = urllib.parse.quote(sandbox.api_key, safe="")
        monkeypatch.setenv("AIRFLOW_CONN_ONLINESIM_DEFAULT", f"onlinesim://http://:{key}@{host_port}")

Override ``onlinesim_sandbox_ssl_context`` to serve HTTPS instead (``onlinesim_sandbox.url`` then
starts with ``https://``; point your client's CA bundle at the certificate's issuer)::

    @pytest.fixture(scope="session")
    def onlinesim_sandbox_ssl_context():
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain("tests/tls/sandbox.crt", "tests/tls/sandbox.key")
        return context
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from onlinesim_provider.sandbox.config import SandboxConfig
from onlinesim_provider.sandbox.server import SandboxServer

if TYPE_CHECKING:
    import ssl
    from collections.abc import Iterator

    from onlinesim_provider.sandbox.control import SandboxControl


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``onlinesim_sandbox`` marker."""
    config.addinivalue_line(
        "markers",
        "onlinesim_sandbox(**switches): sandbox settings for this test, e.g."
        " delivery=['7:tg:0.0'], seed=1, sms_delay=5 (applied after the per-test reset)",
    )


@pytest.fixture(scope="session")
def onlinesim_sandbox_config() -> SandboxConfig:
    """Return the settings of the session's sandbox (override to change them)."""
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

    :param onlinesim_sandbox_config: the settings of the sandbox.
    :param onlinesim_sandbox_ssl_context: serve HTTPS with this context (``None``: plain HTTP).
    """
    with SandboxServer(onlinesim_sandbox_config, ssl_context=onlinesim_sandbox_ssl_context) as server:
        yield server


@pytest.fixture
def onlinesim_sandbox(
    onlinesim_sandbox_server: SandboxServer, request: pytest.FixtureRequest
) -> SandboxControl:
    """Return the controls of the session's sandbox, reset to its initial state for this test.

    The settings of an ``onlinesim_sandbox`` marker on the test apply after the reset.

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
