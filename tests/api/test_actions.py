"""The one definition of each action, and the two clients made from it.

The sync and async clients must offer the same methods, with the same parameters, types and
docstrings, all taken from :mod:`onlinesim_provider.api.actions`; and every definition must work
against the sandbox over loopback through both clients.
"""

from __future__ import annotations

import asyncio
import inspect
import typing
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from onlinesim_provider.api import actions
from onlinesim_provider.api.aio import AsyncOnlineSimClient
from onlinesim_provider.api.base import ClientBase
from onlinesim_provider.api.client import OnlineSimClient
from onlinesim_provider.api.errors import AlreadyFinishError, BadStatusError
from onlinesim_provider.api.models import SetStatusReply
from tests.api.conftest import FAST

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from onlinesim_provider.sandbox import SandboxControl

pytestmark = pytest.mark.no_airflow

DEFINITIONS = actions.ACTIONS + actions.HELPERS
NAMES = [definition.__name__ for definition in DEFINITIONS]


def public_methods(cls: type) -> set[str]:
    return {name for name in vars(cls) if not name.startswith("_") and callable(getattr(cls, name))}


def test_the_twelve_actions_are_the_spec_s():
    assert len(actions.ACTIONS) == 12
    assert {d.__name__ for d in actions.ACTIONS} == {
        "get_balance",
        "get_countries",
        "get_numbers_status",
        "get_number",
        "get_status",
        "get_full_sms",
        "set_status",
        "get_rent_services_and_countries",
        "get_rent_number",
        "get_rent_list",
        "get_rent_status",
        "set_rent_status",
    }


def test_both_clients_offer_exactly_the_definitions():
    assert public_methods(OnlineSimClient) - {"close"} == set(NAMES)
    assert public_methods(AsyncOnlineSimClient) - {"aclose"} == set(NAMES)


@pytest.mark.parametrize("definition", DEFINITIONS, ids=NAMES)
def test_sync_and_async_methods_share_the_definition_s_surface(definition):
    sync, async_ = (getattr(cls, definition.__name__) for cls in (OnlineSimClient, AsyncOnlineSimClient))
    assert sync.__doc__ == async_.__doc__ == definition.__doc__
    assert definition.__doc__.strip()
    assert inspect.signature(sync) == inspect.signature(async_)
    _, *expected = inspect.signature(definition).parameters.values()
    self_, *parameters = inspect.signature(sync).parameters.values()
    assert self_.name == "self"
    assert parameters == expected
    assert not inspect.iscoroutinefunction(sync)
    assert inspect.iscoroutinefunction(async_)


@pytest.mark.parametrize("definition", DEFINITIONS, ids=NAMES)
def test_the_methods_annotations_resolve_to_the_parsed_type(definition):
    hints = typing.get_type_hints(definition, localns={"ClientBase": ClientBase})
    call_type = hints.pop("return")
    assert hints.pop("client") is ClientBase
    for method in (getattr(cls, definition.__name__) for cls in (OnlineSimClient, AsyncOnlineSimClient)):
        method_hints = typing.get_type_hints(method)
        assert method_hints.pop("return") == typing.get_args(call_type)[0]
        assert method_hints == hints


def test_a_definition_must_return_a_call():
    def broken(client: ClientBase) -> int:
        return 1

    with pytest.raises(TypeError, match="broken must be annotated to return Call"):
        actions.sync_method(broken)  # type: ignore[arg-type]


@pytest.fixture
def offline() -> Iterator[OnlineSimClient]:
    """A client that sends nothing here: only its settings are read by the definitions."""
    with OnlineSimClient("key", base_url="http://127.0.0.1:9", cancel_status=8) as client:
        yield client


def test_only_the_two_orders_are_paid(offline):
    paid = {
        d.__name__
        for d, args in zip(DEFINITIONS, EXAMPLE_ARGS.values(), strict=True)
        if d(offline, *args(SOME_ID, SOME_ID)).paid
    }
    assert paid == {"get_number", "get_rent_number"}
    assert "get_rent_list()" in (actions.get_rent_number(offline, "7").reconcile or "")


@pytest.mark.parametrize(
    ("status", "closed_error", "reply"),
    [
        (1, None, None),
        (3, None, None),
        (6, BadStatusError, SetStatusReply.ACTIVATION),
        (8, BadStatusError, SetStatusReply.CANCEL),
    ],
)
def test_activation_closes_know_their_already_closed_answer(offline, status, closed_error, reply):
    closing = actions.set_status(offline, 1, status).closing
    assert ((closing.closed_error, closing.reply) if closing else (None, None)) == (closed_error, reply)


def test_rent_close_knows_its_already_closed_answer(offline):
    assert actions.close_rent(offline, 5).closing == actions.RENT_CLOSING
    assert actions.RENT_CLOSING.closed_error is AlreadyFinishError


def test_cancel_uses_the_client_s_cancel_status(offline):
    assert actions.cancel_activation(offline, 5).params == {"action": "setStatus", "id": "5", "status": "8"}


# --- every definition against the sandbox, through both clients ---------------------------------

SOME_ID = SimpleNamespace(id=1)
#: The arguments of each definition, from a fresh activation and rent.
EXAMPLE_ARGS: dict[str, Callable[[Any, Any], tuple[Any, ...]]] = {
    "get_balance": lambda a, r: (),
    "get_countries": lambda a, r: (),
    "get_numbers_status": lambda a, r: ("7",),
    "get_number": lambda a, r: ("tg", "7"),
    "get_status": lambda a, r: (a.id,),
    "get_full_sms": lambda a, r: (a.id,),
    "set_status": lambda a, r: (a.id, 1),
    "get_rent_services_and_countries": lambda a, r: (24, "7"),
    "get_rent_number": lambda a, r: ("7", 24),
    "get_rent_list": lambda a, r: (),
    "get_rent_status": lambda a, r: (r.id,),
    "set_rent_status": lambda a, r: (r.id, 2),
    "mark_ready": lambda a, r: (a.id,),
    "request_another_code": lambda a, r: (a.id,),
    "complete_activation": lambda a, r: (a.id,),
    "cancel_activation": lambda a, r: (a.id,),
    "close_rent": lambda a, r: (r.id,),
}


def _run(flavour: str, sandbox: SandboxControl, name: str, args: tuple[Any, ...]) -> Any:
    """Call method ``name`` of a new client of the flavour under test, closing the client after."""
    settings: dict[str, Any] = {"base_url": sandbox.url, "retry": FAST}
    if flavour == "sync":
        with OnlineSimClient(sandbox.api_key, **settings) as client:
            return getattr(client, name)(*args)

    async def run() -> Any:
        async with AsyncOnlineSimClient(sandbox.api_key, **settings) as client:
            return await getattr(client, name)(*args)

    return asyncio.run(run())


def _is_instance(value: Any, expected: Any) -> bool:
    origin = typing.get_origin(expected)
    if origin is list:
        [item] = typing.get_args(expected)
        return isinstance(value, list) and all(isinstance(v, item) for v in value)
    return value is None if expected is type(None) else isinstance(value, expected)


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("definition", DEFINITIONS, ids=NAMES)
def test_every_definition_works_against_the_sandbox(onlinesim_sandbox: SandboxControl, flavour, definition):
    name = definition.__name__
    with OnlineSimClient(onlinesim_sandbox.api_key, base_url=onlinesim_sandbox.url, retry=FAST) as setup:
        activation, rent = setup.get_number("tg", "7"), setup.get_rent_number("7")
        if name in ("get_full_sms", "mark_ready", "request_another_code"):
            onlinesim_sandbox.deliver_sms(activation.id, code="070501")
        if name == "get_rent_status":
            onlinesim_sandbox.deliver_rent_sms(rent.id, "Your code is 070501")
        args = EXAMPLE_ARGS[name](activation, rent)
        expected_query = definition(setup, *args).params
    before = len(onlinesim_sandbox.requests())
    result = _run(flavour, onlinesim_sandbox, name, args)
    [sent] = onlinesim_sandbox.requests()[before:]
    assert {**sent["query"], "action": sent["action"]} == expected_query
    assert _is_instance(result, typing.get_type_hints(getattr(OnlineSimClient, name))["return"])
