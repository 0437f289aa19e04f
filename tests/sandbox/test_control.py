"""SandboxControl against a running sandbox on loopback: world controls, time, reset, errors, URLs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from onlinesim_provider.sandbox import SandboxControl, SandboxControlError, SandboxServer
from onlinesim_provider.sandbox.delivery import DeliveryRule

if TYPE_CHECKING:
    from tests.sandbox.conftest import RawApi

pytestmark = pytest.mark.no_airflow


def test_configure_refuses_unknown_and_invalid_settings(onlinesim_sandbox: SandboxControl) -> None:
    with pytest.raises(SandboxControlError, match="api_key"):
        onlinesim_sandbox.configure(api_key="other")
    with pytest.raises(SandboxControlError, match="values_format"):
        onlinesim_sandbox.configure(values_format="dict")


def test_controls_shape_the_world(raw_api: RawApi) -> None:
    ctl = raw_api.control
    ctl.set_balance("20.00")
    ctl.set_price("tg", "7.25")
    ctl.set_stock("44", "tg", 1)
    ctl.set_rent_price("44", "5.50")
    ctl.set_rent_stock("1", 0)
    assert raw_api.text("getBalance") == "ACCESS_BALANCE:20.00"
    assert raw_api.json("getNumbersStatus", country="44")["tg_0"] == 1
    activation = raw_api.order("tg", country="44")
    assert raw_api.text("getNumber", service="tg", country="44") == "NO_NUMBERS"
    assert raw_api.json("getRentNumber", country="1") == {"status": "error", "msg": "NO_NUMBERS"}
    assert raw_api.json("getRentServicesAndCountries", country="44")["services"]["tg"]["cost"] == 5.5
    assert raw_api.text("getBalance") == "ACCESS_BALANCE:12.75"
    [record] = ctl.activations()
    assert record["id"] == activation
    assert record["state"] == "waiting"
    assert record["price"] == "7.25"


def test_ledger_summary_rents_and_reset(raw_api: RawApi) -> None:
    ctl = raw_api.control
    activation = raw_api.order()
    code = ctl.deliver_sms(activation)["code"]
    assert raw_api.text("getStatus", id=activation) == f"STATUS_OK:{code}"
    rent_id = raw_api.rent()
    ctl.advance(20 * 60)
    assert [e["event"] for e in ctl.ledger()] == [
        "order", "charge", "sms", "rent_order", "charge", "expire", "rent_expire", "refund",
    ]  # fmt: skip
    assert ctl.rents()[0]["state"] == "cancelled"
    assert ctl.rents()[0]["id"] == rent_id
    assert ctl.summary()["balance"] == "990.00"
    ctl.inject_fault("empty")
    ctl.configure(error_key="message")
    ctl.reset()
    assert ctl.ledger() == []
    assert ctl.faults() == []
    assert ctl.config()["error_key"] == "msg"
    assert raw_api.text("getBalance") == "ACCESS_BALANCE:1000.00"


def test_advance_moves_time_and_refuses_going_back(onlinesim_sandbox: SandboxControl) -> None:
    before = onlinesim_sandbox.now()
    after = onlinesim_sandbox.advance(3600)
    assert 3600 <= after - before < 3660
    with pytest.raises(SandboxControlError, match="advance"):
        onlinesim_sandbox.advance(-1)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: c.call("no_such_control"), "HTTP 404"),
        (lambda c: c.call("sms"), "missing argument 'activation_id'"),
        (lambda c: c.deliver_sms(1), "unknown activation"),
        (lambda c: c.deliver_rent_sms(1, "x"), "unknown rent"),
        (lambda c: c.set_stock("999", "tg", 1), "unknown country"),
        (lambda c: c.set_balance("lots"), "amount"),
        (lambda c: c.inject_fault("meteor"), "unknown fault kind"),
        (lambda c: c.set_delivery([{"country": "ru"}]), "invalid country 'ru': expected a country id"),
        (lambda c: c.configure(seed=1.5), "invalid seed 1.5: expected an integer"),
    ],
    ids=[
        "unknown-control",
        "missing-argument",
        "unknown-activation",
        "unknown-rent",
        "bad-country",
        "bad-amount",
        "bad-fault",
        "bad-delivery",
        "bad-seed",
    ],
)
def test_control_errors_name_the_bad_value(onlinesim_sandbox: SandboxControl, call: Any, match: str) -> None:
    with pytest.raises(SandboxControlError, match=match):
        call(onlinesim_sandbox)


def test_control_from_url_alone_learns_the_key(onlinesim_sandbox_server: SandboxServer) -> None:
    control = SandboxControl(onlinesim_sandbox_server.url)
    assert control.api_key == onlinesim_sandbox_server.api_key
    assert "sandbox-key" not in repr(control)
    control.close()


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1:1", "http://127.0.0.1", "localhost:80"], ids=["scheme", "no-port", "no-scheme"]
)
def test_control_refuses_bad_urls(url: str) -> None:
    with pytest.raises(ValueError, match="invalid sandbox url"):
        SandboxControl(url)


def test_set_delivery_takes_every_form_and_configure_shows_it(onlinesim_sandbox: SandboxControl) -> None:
    stored = onlinesim_sandbox.set_delivery(
        [DeliveryRule("7", "*", 0.0), {"service": "tg", "delay": 5}, "*:wa:0.5:1-9"], seed=3
    )
    assert [rule["country"] for rule in stored] == ["7", "*", "*"]
    assert onlinesim_sandbox.config()["seed"] == 3
    assert onlinesim_sandbox.configure(delivery=[DeliveryRule("1", "tg", 1.0)])["delivery"] == [
        {"country": "1", "service": "tg", "probability": 1.0, "delay": None}
    ]
    assert onlinesim_sandbox.set_delivery([]) == []
    onlinesim_sandbox.reset()
    assert onlinesim_sandbox.config()["delivery"] == []
