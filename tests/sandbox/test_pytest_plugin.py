"""The pytest plugin: light to load, one sandbox per session reset for each test, its marker."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import urllib.parse
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from onlinesim_provider.api.client import OnlineSimClient
from onlinesim_provider.api.models import ActivationState
from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from tests.sandbox.tls import make_tls_files

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.no_airflow
def test_the_plugin_that_every_pytest_run_loads_imports_nothing_heavy() -> None:
    probe = (
        "import sys, onlinesim_provider.sandbox.pytest_plugin as plugin;"
        "print(plugin.pytest_plugins, sorted({'aiohttp', 'pydantic', 'pytest'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['onlinesim_provider.sandbox.fixtures'] []"


@pytest.mark.no_airflow
def test_the_package_imports_an_exported_name_on_first_use() -> None:
    import onlinesim_provider.sandbox as sandbox

    assert sandbox.SandboxServer.__module__ == "onlinesim_provider.sandbox.server"
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        _ = sandbox.Nothing


def test_the_fixture_gives_a_fresh_sandbox(onlinesim_sandbox):
    assert onlinesim_sandbox.url.startswith("http://127.0.0.1:")
    onlinesim_sandbox.set_balance("5.00")
    onlinesim_sandbox.reset()
    assert onlinesim_sandbox.summary()["balance"] == "1000.00"


def test_a_uri_connection_reaches_the_sandbox(onlinesim_sandbox, monkeypatch):
    sandbox = onlinesim_sandbox
    sandbox.set_balance("42.00")
    # [START howto_sandbox_connection_uri]
    host_port = urllib.parse.urlsplit(sandbox.url).netloc
    key = urllib.parse.quote(sandbox.api_key, safe="")
    monkeypatch.setenv("AIRFLOW_CONN_ONLINESIM_DEFAULT", f"onlinesim://http://:{key}@{host_port}")
    # [END howto_sandbox_connection_uri]
    assert OnlineSimHook().client.get_balance().amount == Decimal("42.00")


def test_a_uri_with_the_scheme_after_the_key_is_what_airflow_refuses(onlinesim_sandbox):
    from airflow.models.connection import Connection

    with pytest.raises(Exception, match="Invalid connection string"):
        Connection(conn_id="c", uri=f"onlinesim://:{onlinesim_sandbox.api_key}@{onlinesim_sandbox.url}")


@pytest.mark.onlinesim_sandbox(delivery=["7:*:0.0", "*:tg:1:30"], seed=42, sms_delay=5)
def test_the_marker_sets_switches_for_one_test(onlinesim_sandbox):
    config = onlinesim_sandbox.config()
    assert [rule["country"] for rule in config["delivery"]] == ["7", "*"]
    assert (config["seed"], config["sms_delay"]) == (42, 5.0)


def test_without_a_marker_the_initial_settings_are_back(onlinesim_sandbox):
    config = onlinesim_sandbox.config()
    assert (config["delivery"], config["seed"], config["sms_delay"]) == ([], None, None)


# [START howto_sandbox_delivery]
@pytest.mark.onlinesim_sandbox(
    delivery=[
        {"country": 7, "probability": 0.0},  # no SMS ever reaches a number from country 7
        {"service": "tg", "probability": 1.0, "delay": [5, 60]},  # elsewhere: after 5 to 60 s
    ],
    seed=42,  # the same orders get the same outcomes on every run
)
def test_the_code_comes_from_the_second_country(onlinesim_sandbox):
    with OnlineSimClient(onlinesim_sandbox.api_key, base_url=onlinesim_sandbox.url) as client:
        first = client.get_number("tg", country="7")
        onlinesim_sandbox.advance(120)  # sandbox seconds: no waiting
        assert client.get_status(first.id).state is ActivationState.WAIT_CODE
        client.cancel_activation(first.id)  # no SMS came: the money comes back

        second = client.get_number("tg", country="380")
        onlinesim_sandbox.advance(60)
        assert client.get_status(second.id).state is ActivationState.OK

    summary = onlinesim_sandbox.summary()
    assert (summary["charged"], summary["refunded"]) == ("20.00", "10.00")


# [END howto_sandbox_delivery]

USER_TESTS = """
    from decimal import Decimal

    import pytest
    import requests


    def _balance(control):
        reply = requests.get(
            control.api_url,
            params={"action": "getBalance"},
            headers={"Authorization": f"Bearer {control.api_key}"},
            timeout=5,
            verify=CA,
        )
        return Decimal(reply.text.split(":")[1])


    def test_first_spends_and_faults(onlinesim_sandbox):
        assert _balance(onlinesim_sandbox) == Decimal("42.00")
        onlinesim_sandbox.set_balance("1.00")
        onlinesim_sandbox.inject_fault("empty", count=5)


    def test_second_starts_clean(onlinesim_sandbox, onlinesim_sandbox_server):
        assert onlinesim_sandbox.url == onlinesim_sandbox_server.url
        assert onlinesim_sandbox.url.startswith(SCHEME)
        assert onlinesim_sandbox.faults() == []
        assert _balance(onlinesim_sandbox) == Decimal("42.00")


    @pytest.mark.onlinesim_sandbox("delivery")
    def test_a_marker_takes_keywords_only(onlinesim_sandbox):
        pass
"""

USER_CONFTEST = """
    import pytest

    from onlinesim_provider.sandbox import SandboxConfig


    @pytest.fixture(scope="session")
    def onlinesim_sandbox_config():
        return SandboxConfig(balance="42.00")
"""

# [START howto_sandbox_https]
USER_HTTPS_CONFTEST = """
    import ssl

    import pytest


    @pytest.fixture(scope="session")
    def onlinesim_sandbox_ssl_context():
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(CERT, KEY)
        return context
"""
# [END howto_sandbox_https]


@pytest.mark.no_airflow
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_users_test_run_gets_a_sandbox_reset_for_each_test(tmp_path: Path, scheme: str) -> None:
    """A fresh pytest with the installed plugin: a user's own settings, HTTPS when asked for."""
    tls = make_tls_files(tmp_path)
    tests = USER_TESTS.replace("CA", repr(str(tls.ca_cert))).replace("SCHEME", repr(scheme + "://"))
    conftest = USER_CONFTEST
    if scheme == "https":
        https = USER_HTTPS_CONFTEST.replace("CERT", repr(str(tls.cert))).replace("KEY", repr(str(tls.key)))
        conftest += https.replace("import pytest\n", "")
    (tmp_path / "test_user_dag.py").write_text(textwrap.dedent(tests))
    (tmp_path / "conftest.py").write_text(textwrap.dedent(conftest))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert "2 passed, 1 error" in result.stdout, result.stdout + result.stderr
    assert (
        "invalid onlinesim_sandbox marker arguments ('delivery',): expected keyword switches" in result.stdout
    )
