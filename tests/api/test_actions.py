"""Each action's definition: its query, the arguments it refuses, its retry traits, both clients.

The queries and argument checks are read off the definitions without sending anything; one test
then runs every method through each client against the sandbox, and mypy reads the methods' types.
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest
from mypy import api as mypy

from onlinesim_provider.api import errors
from onlinesim_provider.api.actions import Actions, action
from onlinesim_provider.api.aio import AsyncOnlineSimClient
from onlinesim_provider.api.client import OnlineSimClient
from onlinesim_provider.api.models import (
    Activation,
    ActivationStatus,
    Balance,
    FullSms,
    Rent,
    RentOffer,
    RentStatus,
    SetStatusCode,
    SetStatusReply,
)
from tests.api.conftest import EXAMPLES, FAST, OFFLINE

pytestmark = pytest.mark.no_airflow

# --- query parameters -------------------------------------------------------------------------------

PARAMS = [
    pytest.param("get_balance", {}, {"action": "getBalance"}, id="balance"),
    pytest.param("get_countries", {}, {"action": "getCountries"}, id="countries"),
    pytest.param("get_numbers_status", {}, {"action": "getNumbersStatus"}, id="stock-all"),
    pytest.param(
        "get_numbers_status",
        {"country": "7", "operator": "mts"},
        {"action": "getNumbersStatus", "country": "7", "operator": "mts"},
        id="stock-filtered",
    ),
    pytest.param("get_number", {"service": "tg"}, {"action": "getNumber", "service": "tg"}, id="number"),
    pytest.param(
        "get_number",
        {"service": "google", "country": 0, "operator": "any"},
        {"action": "getNumber", "service": "google", "country": "0", "operator": "any"},
        id="number-int-country",
    ),
    pytest.param("get_status", {"activation_id": 5}, {"action": "getStatus", "id": "5"}, id="status"),
    pytest.param("get_full_sms", {"activation_id": 5}, {"action": "getFullSms", "id": "5"}, id="full-sms"),
    pytest.param(
        "set_status",
        {"activation_id": 5, "status": SetStatusCode.CLOSE},
        {"action": "setStatus", "id": "5", "status": "6"},
        id="set-status-enum",
    ),
    pytest.param(
        "set_status",
        {"activation_id": 5, "status": 8},
        {"action": "setStatus", "id": "5", "status": "8"},
        id="set-status-int",
    ),
    pytest.param(
        "get_rent_services_and_countries",
        {},
        {"action": "getRentServicesAndCountries"},
        id="rent-offer",
    ),
    pytest.param(
        "get_rent_services_and_countries",
        {"hours": 25, "country": "7", "operator": "any"},
        {
            "action": "getRentServicesAndCountries",
            "time": "25",
            "rent_time": "25",
            "country": "7",
            "operator": "any",
        },
        id="rent-offer-hours",
    ),
    pytest.param(
        "get_rent_number",
        {"country": "7"},
        {"action": "getRentNumber", "country": "7", "time": "1"},
        id="rent-number",
    ),
    pytest.param(
        "get_rent_number",
        {"country": 380, "hours": 48},
        {"action": "getRentNumber", "country": "380", "time": "48"},
        id="rent-number-hours",
    ),
    pytest.param("get_rent_list", {}, {"action": "getRentList"}, id="rent-list"),
    pytest.param(
        "get_rent_status",
        {"rent_id": 9},
        {"action": "getRentStatus", "id": "9"},
        id="rent-status",
    ),
    pytest.param(
        "set_rent_status",
        {"rent_id": 9},
        {"action": "setRentStatus", "id": "9", "status": "2"},
        id="set-rent-status",
    ),
]


@pytest.mark.parametrize(("method", "kwargs", "expected"), PARAMS)
def test_the_query_of_each_action(method, kwargs, expected):
    assert getattr(OnlineSimClient, method).call(OFFLINE, **kwargs).params == expected


INVALID = [
    pytest.param("get_number", {"service": ""}, "service must be a service code", id="service-empty"),
    pytest.param("get_number", {"service": "t g"}, "'t g'", id="service-space"),
    pytest.param("get_number", {"service": "x" * 65}, "without spaces", id="service-too-long"),
    pytest.param("get_number", {"service": None}, "None (NoneType)", id="service-none"),
    pytest.param("get_number", {"service": "tg", "country": ""}, "country must be", id="country-empty"),
    pytest.param("get_number", {"service": "tg", "country": True}, "True (bool)", id="country-bool"),
    pytest.param("get_number", {"service": "tg", "operator": "a b"}, "operator must", id="operator"),
    pytest.param("get_numbers_status", {"country": 7.5}, "7.5 (float)", id="stock-country-float"),
    pytest.param("get_status", {"activation_id": 0}, "activation_id must be an int >= 1", id="id-0"),
    pytest.param("get_status", {"activation_id": -1}, "got -1 (int)", id="id-negative"),
    pytest.param("get_full_sms", {"activation_id": "5"}, "got '5' (str)", id="id-str"),
    pytest.param("get_full_sms", {"activation_id": True}, "got True (bool)", id="id-bool"),
    pytest.param("get_status", {"activation_id": 5.0}, "got 5.0 (float)", id="id-float"),
    pytest.param(
        "set_status",
        {"activation_id": 1, "status": 2},
        "status must be one of [1, 3, 6, 8]",
        id="s2",
    ),
    pytest.param("set_status", {"activation_id": 1, "status": "6"}, "got '6' (str)", id="status-str"),
    pytest.param("set_status", {"activation_id": 1, "status": True}, "True (bool)", id="status-bool"),
    pytest.param("set_status", {"activation_id": 0, "status": 6}, "activation_id", id="set-status-id"),
    pytest.param("get_rent_number", {"country": "7", "hours": 0}, "hours must be", id="hours-0"),
    pytest.param("get_rent_number", {"country": "7", "hours": 8761}, "from 1 to 8760", id="hours-max"),
    pytest.param("get_rent_number", {"country": "7", "hours": "2"}, "'2' (str)", id="hours-str"),
    pytest.param("get_rent_number", {"country": None}, "country must be", id="rent-country-none"),
    pytest.param("get_rent_services_and_countries", {"hours": -1}, "got -1", id="offer-hours"),
    pytest.param("get_rent_status", {"rent_id": 0}, "rent_id must be an int >= 1", id="rent-id-0"),
    pytest.param("set_rent_status", {"rent_id": 1, "status": 3}, "one of [1, 2]", id="rent-status-3"),
]


@pytest.mark.parametrize(("method", "kwargs", "message"), INVALID)
def test_bad_arguments_are_refused_before_anything_is_built(method, kwargs, message):
    with pytest.raises(errors.InvalidInputError) as caught:
        getattr(OnlineSimClient, method).call(OFFLINE, **kwargs)
    assert message in str(caught.value)
    assert not caught.value.retryable
    assert isinstance(caught.value, ValueError)


def test_only_the_two_orders_are_paid():
    paid = {
        action
        for action, (method, args) in EXAMPLES.items()
        if getattr(OnlineSimClient, method).call(OFFLINE, *args).reconcile
    }
    assert paid == {"getNumber", "getRentNumber"}
    assert "get_rent_list()" in (OnlineSimClient.get_rent_number.call(OFFLINE, "7").reconcile or "")


@pytest.mark.parametrize(
    ("method", "args", "closed_error", "reply"),
    [
        ("set_status", (1, 1), None, None),
        ("set_status", (1, 3), None, None),
        ("set_status", (1, 6), errors.BadStatusError, SetStatusReply.ACTIVATION),
        ("set_status", (1, 8), errors.BadStatusError, SetStatusReply.CANCEL),
        ("set_rent_status", (1, 2), errors.AlreadyFinishError, None),
        ("close_rent", (1,), errors.AlreadyFinishError, None),
    ],
    ids=["ready", "another-code", "close", "cancel", "rent", "close-rent"],
)
def test_closes_know_their_already_closed_answer(method, args, closed_error, reply):
    closing = getattr(OnlineSimClient, method).call(OFFLINE, *args).closing
    assert (closing or (None, None)) == (closed_error, reply)


def test_the_intent_helpers_send_the_client_s_statuses():
    client = OnlineSimClient("key", base_url="http://127.0.0.1:9", cancel_status=8, rent_close_status=1)
    sent = {
        method: getattr(OnlineSimClient, method).call(client, 5).params["status"]
        for method in (
            "mark_ready",
            "request_another_code",
            "complete_activation",
            "cancel_activation",
            "close_rent",
        )
    }
    assert sent == {
        "mark_ready": "1",
        "request_another_code": "3",
        "complete_activation": "6",
        "cancel_activation": "8",
        "close_rent": "1",
    }


# --- every method through both clients, against the sandbox ----------------------------------------

#: Each method, its arguments (from a fresh activation ``a`` and rent ``r``), and what it returns.
SCRIPT: list[tuple[str, Any, Any]] = [
    ("get_balance", lambda a, r: (), Balance),
    ("get_countries", lambda a, r: (), list),
    ("get_numbers_status", lambda a, r: ("7",), list),
    ("get_status", lambda a, r: (a.id,), ActivationStatus),
    ("mark_ready", lambda a, r: (a.id,), SetStatusReply),
    ("get_full_sms", lambda a, r: (a.id,), FullSms),
    ("request_another_code", lambda a, r: (a.id,), SetStatusReply),
    ("set_status", lambda a, r: (a.id, SetStatusCode.READY), SetStatusReply),
    ("complete_activation", lambda a, r: (a.id,), SetStatusReply),
    ("get_number", lambda a, r: ("tg", "7"), Activation),
    ("cancel_activation", lambda a, r: (a.id + 1,), SetStatusReply),
    ("get_rent_services_and_countries", lambda a, r: (24, "7"), RentOffer),
    ("get_rent_list", lambda a, r: (), list),
    ("get_rent_status", lambda a, r: (r.id,), RentStatus),
    ("set_rent_status", lambda a, r: (r.id, 2), type(None)),
    ("get_rent_number", lambda a, r: ("7", 24), Rent),
    ("close_rent", lambda a, r: (r.id + 1,), type(None)),
]


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_every_method_works_through_each_client(onlinesim_sandbox, flavour):
    sandbox = onlinesim_sandbox
    assert sorted(method for method, _, _ in SCRIPT) == sorted(
        name for name, value in vars(Actions).items() if isinstance(value, action)
    )
    with OnlineSimClient(sandbox.api_key, base_url=sandbox.url, retry=FAST) as setup:
        activation, rent = setup.get_number("tg", "7"), setup.get_rent_number("7")
        sandbox.deliver_sms(activation.id, code="070501")
        sandbox.deliver_rent_sms(rent.id, "Your code is 070501")

    async def run_async(calls: list[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        async with AsyncOnlineSimClient(sandbox.api_key, base_url=sandbox.url, retry=FAST) as client:
            return [await getattr(client, method)(*args) for method, args in calls]

    calls = [(method, arguments(activation, rent)) for method, arguments, _ in SCRIPT]
    before = len(sandbox.requests())
    if flavour == "sync":
        with OnlineSimClient(sandbox.api_key, base_url=sandbox.url, retry=FAST) as client:
            results = [getattr(client, method)(*args) for method, args in calls]
    else:
        results = asyncio.run(run_async(calls))
    sent = [{**entry["query"], "action": entry["action"]} for entry in sandbox.requests()[before:]]
    assert sent == [getattr(OnlineSimClient, method).call(OFFLINE, *args).params for method, args in calls]
    assert [type(result) for result in results] == [returns for _, _, returns in SCRIPT]


def test_mypy_reads_each_method_s_reply_and_arguments():
    """A type checker reads the methods: the sync one returns the reply, the async one a coroutine of it."""
    usage = Path(__file__).with_name("typed_usage.py")
    out, _, _ = mypy.run(["--strict", "--no-error-summary", "--hide-error-context", str(usage)])
    revealed = [line.split("Revealed type is ")[1] for line in out.splitlines() if "Revealed type" in line]
    assert revealed == [
        '"onlinesim_provider.api.models.ActivationStatus"',
        '"list[onlinesim_provider.api.models.Rent]"',
        '"onlinesim_provider.api.models.ActivationStatus"',
        '"None"',
    ]
    errors_found = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors_found) == 1, out
    assert 'Argument 1 has incompatible type "str"; expected "int"' in errors_found[0]


def test_a_missing_or_unknown_argument_is_named():
    with pytest.raises(errors.InvalidInputError, match="activation_id: Missing required argument"):
        OnlineSimClient.get_status.call(OFFLINE)  # type: ignore[call-arg]
    with pytest.raises(errors.InvalidInputError, match="contry: Unexpected keyword argument"):
        OnlineSimClient.get_number.call(OFFLINE, "tg", contry="7")  # type: ignore[call-arg]


def test_the_reference_shows_each_method_s_arguments_and_reply():
    signature = inspect.signature(OnlineSimClient.get_rent_number)
    assert list(signature.parameters) == ["self", "country", "hours"]
    assert signature.return_annotation is Rent
    assert OnlineSimClient.get_rent_number.__doc__.startswith("Rent a number (paid")
