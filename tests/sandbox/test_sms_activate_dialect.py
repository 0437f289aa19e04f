"""The sandbox's SMS-Activate dialect, driven by our own hook and client over real HTTP.

A user of an SMS-Activate-compatible service sets two connection extras: ``cancel_status`` 8
(cancel is status 8 there) and ``rent_close_status`` 1 (there ``setRentStatus 2`` cancels, and is
refused once a message arrived; 1 finishes). With them, the whole activation and rent flow works.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from onlinesim_provider.api.errors import AlreadyFinishError, CantCancelError, NoIdRentError
from onlinesim_provider.api.models import ActivationState, SetStatusReply
from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.sandbox import SandboxConfig, SandboxServer
from tests.conftest import CONN_ENV, connection_uri_json

if TYPE_CHECKING:
    from collections.abc import Iterator

    from onlinesim_provider.sandbox import SandboxControl

# [START howto_sandbox_dialect]
#: The connection extras of a user of an SMS-Activate-compatible service.
SMS_ACTIVATE_EXTRAS = {"cancel_status": "8", "rent_close_status": "1"}


@pytest.fixture(scope="module")
def dialect_server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(dialect="sms-activate")) as server:
        yield server


# [END howto_sandbox_dialect]


@pytest.fixture
def sandbox(dialect_server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxControl:
    control = dialect_server.control
    control.reset()
    monkeypatch.setenv(CONN_ENV, connection_uri_json(control.url, control.api_key, **SMS_ACTIVATE_EXTRAS))
    return control


def _ledger(sandbox: SandboxControl, event: str) -> list[dict[str, Any]]:
    return [entry for entry in sandbox.ledger() if entry["event"] == event]


def test_activation_flow(sandbox: SandboxControl) -> None:
    hook = OnlineSimHook()
    assert hook.client.cancel_status == 8
    countries = {country.id: country for country in hook.client.get_countries()}
    assert countries["0"].eng == "Russia"
    assert {"0", "1", "2", "187"} <= set(countries)
    assert "7" not in countries

    kept = hook.client.get_number("tg")  # no country: the default, 0 = Russia
    assert kept.phone.startswith("7")
    assert hook.client.mark_ready(kept.id) is SetStatusReply.READY
    sandbox.deliver_sms(kept.id, code="515151")
    assert hook.client.get_status(kept.id).code == "515151"
    assert hook.complete_activation(kept.id) is SetStatusReply.ACTIVATION

    dropped = hook.client.get_number("tg", country="187")
    assert dropped.phone.startswith("1")
    assert hook.client.get_status(dropped.id).state is ActivationState.WAIT_CODE
    assert hook.cancel_activation(dropped.id) is SetStatusReply.CANCEL
    assert hook.is_activation_closed(dropped.id)

    assert [entry["status"] for entry in _ledger(sandbox, "status")] == [1, 6, 8]
    summary = sandbox.summary()
    assert (summary["charged"], summary["refunded"]) == ("20.00", "10.00")


def test_rent_flow(sandbox: SandboxControl) -> None:
    hook = OnlineSimHook()
    offer = hook.client.get_rent_services_and_countries(hours=24, country="0")
    assert "0" in offer.countries
    assert {service.code for service in offer.services} >= {"full", "tg"}

    rent = hook.client.get_rent_number("0", hours=24)
    sandbox.deliver_rent_sms(rent.id, "Your code is 070501", sender="+79990001122")
    assert [m.text for m in hook.client.get_rent_status(rent.id).messages] == ["Your code is 070501"]
    with pytest.raises(CantCancelError):  # what closing with OnlineSIM's status 2 would meet here
        hook.client.set_rent_status(rent.id, 2)
    assert hook.close_rent(rent.id) is True
    assert hook.client.get_rent_list() == []
    with pytest.raises(AlreadyFinishError):
        hook.close_rent(rent.id)

    unused = hook.client.get_rent_number("0")
    hook.client.set_rent_status(unused.id, 2)  # a cancel before any message: refunded

    assert [entry["status"] for entry in _ledger(sandbox, "rent_close")] == [1, 2]
    assert sandbox.summary()["refunded"] == "60.00"


def test_json_errors_say_message(sandbox: SandboxControl) -> None:
    with pytest.raises(NoIdRentError) as caught:
        OnlineSimHook().client.get_rent_status(999999)
    assert json.loads(caught.value.body) == {"status": "error", "message": "NO_ID_RENT"}


def test_the_close_operator_finishes_a_used_rent_with_the_connections_status(sandbox: SandboxControl) -> None:
    from onlinesim_provider.operators.onlinesim import OnlineSimSetRentStatusOperator

    rent = OnlineSimHook().client.get_rent_number("0", hours=24)
    sandbox.deliver_rent_sms(rent.id, "Your code is 070501")
    close = OnlineSimSetRentStatusOperator(task_id="close", rent_id=rent.id)
    assert close.execute({}) == {"rent_id": rent.id, "status": "close", "already_closed": False}
    again = OnlineSimSetRentStatusOperator(task_id="again", rent_id=rent.id, allow_closed=True)
    assert again.execute({}) == {"rent_id": rent.id, "status": "close", "already_closed": True}
    assert [entry["status"] for entry in _ledger(sandbox, "rent_close")] == [1]
