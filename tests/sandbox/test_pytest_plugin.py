"""The pytest plugin: its fixture, and the connection forms its docstring gives, as Airflow parses them."""

from __future__ import annotations

import json
import urllib.parse
from decimal import Decimal

import pytest

from onlinesim_provider.api.client import OnlineSimClient
from onlinesim_provider.api.models import ActivationState
from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.sandbox import pytest_plugin

DOC = pytest_plugin.__doc__ or ""


def test_fixture_gives_a_fresh_sandbox(onlinesim_sandbox):
    onlinesim_sandbox.set_balance("5.00")
    onlinesim_sandbox.reset()
    assert onlinesim_sandbox.summary()["orders"] == 0
    assert onlinesim_sandbox.url.startswith("http://127.0.0.1:")


def _docstring_forms(onlinesim_sandbox) -> dict[str, str]:
    """Build the connection values exactly as the module docstring writes them."""
    sandbox = onlinesim_sandbox
    conn = {"conn_type": "onlinesim", "host": sandbox.url, "password": sandbox.api_key}
    host_port = urllib.parse.urlsplit(sandbox.url).netloc
    key = urllib.parse.quote(sandbox.api_key, safe="")
    return {"json": json.dumps(conn), "uri": f"onlinesim://http://:{key}@{host_port}"}


def test_docstring_shows_the_forms_this_test_builds():
    for line in [
        'conn = {"conn_type": "onlinesim", "host": sandbox.url, "password": sandbox.api_key}',
        'monkeypatch.setenv("AIRFLOW_CONN_ONLINESIM_DEFAULT", json.dumps(conn))',
        "host_port = urllib.parse.urlsplit(sandbox.url).netloc",
        'key = urllib.parse.quote(sandbox.api_key, safe="")',
        'monkeypatch.setenv("AIRFLOW_CONN_ONLINESIM_DEFAULT", f"onlinesim://http://:{key}@{host_port}")',
    ]:
        assert line in DOC


@pytest.mark.parametrize("form", ["json", "uri"])
def test_docstring_connection_forms_reach_the_sandbox(onlinesim_sandbox, monkeypatch, form):
    onlinesim_sandbox.set_balance("42.00")
    monkeypatch.setenv("AIRFLOW_CONN_ONLINESIM_DEFAULT", _docstring_forms(onlinesim_sandbox)[form])
    assert OnlineSimHook().client.get_balance().amount == Decimal("42.00")


def test_a_uri_with_the_scheme_after_the_key_is_rejected_by_airflow(onlinesim_sandbox):
    from airflow.models.connection import Connection

    with pytest.raises(Exception, match="Invalid connection string"):
        Connection(conn_id="c", uri=f"onlinesim://:{onlinesim_sandbox.api_key}@{onlinesim_sandbox.url}")
    assert "onlinesim://:{onlinesim_sandbox.api_key}@{onlinesim_sandbox.url}" not in DOC


@pytest.mark.onlinesim_sandbox(delivery=["7:*:0.0", "*:tg:1:30"], seed=42, sms_delay=5)
def test_marker_sets_delivery_rules_for_one_test(onlinesim_sandbox):
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
