"""The twelve actions of the Alternative API and the intent helpers, each defined once.

A definition takes the client (for its settings, such as ``cancel_status``) and the caller's
arguments, and returns a :class:`Call`: the query, the reply's parser, whether the call is a paid
order, and how a repeated close recognises that it already worked. Its signature and docstring are
the public method's. :func:`sync_method` and :func:`async_method` turn a definition into a method of
:class:`~onlinesim_provider.api.client.OnlineSimClient` and of
:class:`~onlinesim_provider.api.aio.AsyncOnlineSimClient`, so the two clients cannot disagree.

Example (what ``client.get_status(42)`` sends and how it reads the reply)::

    call = actions.get_status(client, 42)
    call.params  # {"action": "getStatus", "id": "42"}
"""

from __future__ import annotations

import functools
import inspect
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar

from onlinesim_provider.api import protocol
from onlinesim_provider.api.errors import AlreadyFinishError, BadStatusError

# at run time, not only for mypy: typing.get_type_hints resolves the methods' annotations here
from onlinesim_provider.api.models import (
    Activation,
    ActivationStatus,
    Balance,
    Country,
    FullSms,
    Rent,
    RentOffer,
    RentStatus,
    ServiceStock,
    SetStatusCode,
    SetStatusReply,
)
from onlinesim_provider.api.retry import Closing

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from onlinesim_provider.api.aio import AsyncOnlineSimClient
    from onlinesim_provider.api.base import ClientBase
    from onlinesim_provider.api.client import OnlineSimClient

__all__ = ["ACTIONS", "HELPERS", "RENT_CLOSING", "Call", "async_method", "sync_method"]

T = TypeVar("T")
P = ParamSpec("P")

_RECONCILE_ACTIVATION = (
    "check the account's active activations before ordering again (an activation that "
    "receives no SMS is refunded when it expires)"
)
_RECONCILE_RENT = "call get_rent_list() to see whether the rent was created"


@dataclass(frozen=True)
class Call(Generic[T]):
    """One call of an action: what to send, how to read the reply, how to retry it.

    :param params: the query, without the key.
    :param parse: the action's reply parser from :mod:`~onlinesim_provider.api.protocol`.
    :param reconcile: set on paid orders only: how the caller finds out whether an order whose
        outcome is unknown went through. A paid order is re-sent only when it surely was not sent.
    :param closing: set on closes only: how a repeat recognises that an earlier attempt closed it.
    """

    params: protocol.Params
    parse: Callable[[str, int], T]
    reconcile: str | None = None
    closing: Closing[T] | None = None

    @property
    def action(self) -> str:
        """Return the API action's name, such as ``getNumber``."""
        return self.params["action"]

    @property
    def paid(self) -> bool:
        """Return whether the call spends money and must never be sent twice."""
        return self.reconcile is not None


#: A repeated ``setRentStatus`` hears ALREADY_FINISH once an earlier attempt closed the rent.
RENT_CLOSING: Closing[None] = Closing(AlreadyFinishError, None)
_ACTIVATION_CLOSED = {
    SetStatusCode.CLOSE: SetStatusReply.ACTIVATION,
    SetStatusCode.CANCEL: SetStatusReply.CANCEL,
}


def _activation_closing(status: int) -> Closing[SetStatusReply] | None:
    """Return how a repeated ``setStatus`` close (6 or 8) recognises it worked; None for 1 and 3."""
    reply = _ACTIVATION_CLOSED.get(SetStatusCode(status))
    return Closing(BadStatusError, reply) if reply is not None else None


# --- profile ------------------------------------------------------------------------------------


def get_balance(client: ClientBase) -> Call[Balance]:
    """Return the account balance."""
    return Call(protocol.get_balance_params(), protocol.parse_get_balance)


def get_countries(client: ClientBase) -> Call[list[Country]]:
    """Return the countries the server knows, with their opaque keys."""
    return Call(protocol.get_countries_params(), protocol.parse_get_countries)


# --- single-service activations -----------------------------------------------------------------


def get_numbers_status(
    client: ClientBase, country: str | int | None = None, operator: str | None = None
) -> Call[list[ServiceStock]]:
    """Return how many numbers each service has available.

    :param country: country key from :meth:`get_countries`; the server's default when omitted.
    :param operator: operator name; any operator when omitted.
    """
    return Call(protocol.get_numbers_status_params(country, operator), protocol.parse_get_numbers_status)


def get_number(
    client: ClientBase, service: str, country: str | int | None = None, operator: str | None = None
) -> Call[Activation]:
    """Order a number for ``service`` (paid; never re-sent when its outcome is unknown).

    :param service: service code such as ``tg``.
    :param country: country key from :meth:`get_countries`; the server's default when omitted.
    :param operator: operator name; any operator when omitted.
    :raises OutcomeUnknownError: the order may have reached the server; it was not re-sent.
    """
    params = protocol.get_number_params(service, country, operator)
    return Call(params, protocol.parse_get_number, reconcile=_RECONCILE_ACTIVATION)


def get_status(client: ClientBase, activation_id: int) -> Call[ActivationStatus]:
    """Return the state of an activation and its code, once one arrived.

    :param activation_id: id from :meth:`get_number`.
    """
    return Call(protocol.get_status_params(activation_id), protocol.parse_get_status)


def get_full_sms(client: ClientBase, activation_id: int) -> Call[FullSms]:
    """Return the whole text of the SMS an activation received.

    :param activation_id: id from :meth:`get_number`.
    """
    return Call(protocol.get_full_sms_params(activation_id), protocol.parse_get_full_sms)


def set_status(client: ClientBase, activation_id: int, status: int | SetStatusCode) -> Call[SetStatusReply]:
    """Set the status of an activation (1 ready, 3 another code, 6 close, 8 cancel).

    :param activation_id: id from :meth:`get_number`.
    :param status: a :class:`SetStatusCode` or its number.
    """
    params = protocol.set_status_params(activation_id, status)
    return Call(params, protocol.parse_set_status, closing=_activation_closing(status))


def mark_ready(client: ClientBase, activation_id: int) -> Call[SetStatusReply]:
    """Tell the server the SMS was requested on the number (status 1).

    :param activation_id: id from :meth:`get_number`.
    """
    return set_status(client, activation_id, SetStatusCode.READY)


def request_another_code(client: ClientBase, activation_id: int) -> Call[SetStatusReply]:
    """Ask for another code on the same number (status 3).

    :param activation_id: id from :meth:`get_number`.
    """
    return set_status(client, activation_id, SetStatusCode.REQUEST_ANOTHER_CODE)


def complete_activation(client: ClientBase, activation_id: int) -> Call[SetStatusReply]:
    """Close the activation after use (status 6, irreversible).

    :param activation_id: id from :meth:`get_number`.
    """
    return set_status(client, activation_id, SetStatusCode.CLOSE)


def cancel_activation(client: ClientBase, activation_id: int) -> Call[SetStatusReply]:
    """Cancel the activation so the money comes back (status :attr:`cancel_status`: 6 or 8).

    :param activation_id: id from :meth:`get_number`.
    """
    return set_status(client, activation_id, client.cancel_status)


# --- rent ---------------------------------------------------------------------------------------


def get_rent_services_and_countries(
    client: ClientBase,
    hours: int | None = None,
    country: str | int | None = None,
    operator: str | None = None,
) -> Call[RentOffer]:
    """Return the countries, operators and services offered for rent, with prices.

    :param hours: rent period in hours; the server's default (one day) when omitted.
    :param country: country key; the server's default when omitted.
    :param operator: operator name; any operator when omitted.
    """
    params = protocol.get_rent_services_and_countries_params(hours, country, operator)
    return Call(params, protocol.parse_get_rent_services_and_countries)


def get_rent_number(client: ClientBase, country: str | int, hours: int = 1) -> Call[Rent]:
    """Rent a number (paid; never re-sent when its outcome is unknown: see :meth:`get_rent_list`).

    :param country: country key from :meth:`get_rent_services_and_countries`.
    :param hours: rent period in hours, rounded up to whole days by the server.
    :raises OutcomeUnknownError: the order may have reached the server; it was not re-sent.
    """
    params = protocol.get_rent_number_params(country, hours)
    return Call(params, protocol.parse_get_rent_number, reconcile=_RECONCILE_RENT)


def get_rent_list(client: ClientBase) -> Call[list[Rent]]:
    """Return the account's active rents (empty when there are none)."""
    return Call(protocol.get_rent_list_params(), protocol.parse_get_rent_list)


def get_rent_status(client: ClientBase, rent_id: int) -> Call[RentStatus]:
    """Return the messages a rented number received so far.

    :param rent_id: id from :meth:`get_rent_number`.
    :raises RentClosedError: the rent is cancelled or finished.
    """
    return Call(protocol.get_rent_status_params(rent_id), protocol.parse_get_rent_status)


def set_rent_status(client: ClientBase, rent_id: int, status: int = 2) -> Call[None]:
    """Set the status of a rent: 2 ends it early, irreversibly.

    OnlineSIM accepts only 2 and calls it "close"; SMS-Activate clones call 2 "cancel" and also
    take 1, "finish". Either way the rent ends; a repeat that hears it already ended succeeds.

    :param rent_id: id from :meth:`get_rent_number`.
    :param status: 2 (close; the only value OnlineSIM accepts) or 1 (finish, on clones).
    """
    params = protocol.set_rent_status_params(rent_id, status)
    return Call(params, protocol.parse_set_rent_status, closing=RENT_CLOSING)


def close_rent(client: ClientBase, rent_id: int) -> Call[None]:
    """Close a rent, irreversibly (status :attr:`rent_close_status`: 2, or 1 on SMS-Activate clones).

    :param rent_id: id from :meth:`get_rent_number`.
    """
    return set_rent_status(client, rent_id, client.rent_close_status)


#: The twelve actions, in the order of the spec; each becomes a method of both clients.
ACTIONS = (
    get_balance,
    get_countries,
    get_numbers_status,
    get_number,
    get_status,
    get_full_sms,
    set_status,
    get_rent_services_and_countries,
    get_rent_number,
    get_rent_list,
    get_rent_status,
    set_rent_status,
)
#: The intent helpers: an action with a fixed status.
HELPERS = (mark_ready, request_another_code, complete_activation, cancel_activation, close_rent)


# --- definition -> method -------------------------------------------------------------------------

_CALL_OF = re.compile(r"Call\[(?P<result>.+)\]")


def _as_method(method: Callable[..., Any], definition: Callable[..., Call[Any]]) -> None:
    """Give ``method`` the definition's name, docstring and parameters, returning what the call parses."""
    functools.update_wrapper(method, definition)
    annotations = dict(definition.__annotations__)
    match = _CALL_OF.fullmatch(str(annotations.get("return")))
    if match is None:
        raise TypeError(f"{definition.__name__} must be annotated to return Call[...]")
    annotations["return"] = match["result"]
    annotations.pop("client")
    method.__annotations__ = annotations
    client, *parameters = inspect.signature(definition).parameters.values()
    method.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [client.replace(name="self", annotation=inspect.Parameter.empty), *parameters],
        return_annotation=match["result"],
    )


def sync_method(
    definition: Callable[Concatenate[ClientBase, P], Call[T]],
) -> Callable[Concatenate[OnlineSimClient, P], T]:
    """Return the :class:`OnlineSimClient` method that sends what ``definition`` builds.

    :param definition: an action or intent helper of this module.
    """

    def method(self: OnlineSimClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._send(definition(self, *args, **kwargs))

    _as_method(method, definition)
    return method


def async_method(
    definition: Callable[Concatenate[ClientBase, P], Call[T]],
) -> Callable[Concatenate[AsyncOnlineSimClient, P], Coroutine[Any, Any, T]]:
    """Return the :class:`AsyncOnlineSimClient` coroutine method that sends what ``definition`` builds.

    :param definition: an action or intent helper of this module.
    """

    async def method(self: AsyncOnlineSimClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._send(definition(self, *args, **kwargs))

    _as_method(method, definition)
    return method
