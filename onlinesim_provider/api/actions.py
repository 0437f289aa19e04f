"""The twelve actions of the Alternative API and the intent helpers, each defined once.

A definition is a method that returns a :class:`Call`: the query, the reply's parser, whether it
is a paid order and how a repeated close recognises that it already worked. ``@action`` validates
its arguments (their ``Annotated`` types) and makes it a method of both clients: on
:class:`~onlinesim_provider.api.client.OnlineSimClient` it returns the parsed reply, on
:class:`~onlinesim_provider.api.aio.AsyncOnlineSimClient` a coroutine of it.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

from pydantic import BeforeValidator, TypeAdapter, ValidationError, validate_call

from onlinesim_provider.api.errors import AlreadyFinishError, BadStatusError, OnlineSimError, invalid_input
from onlinesim_provider.api.models import (
    Activation,
    ActivationState,
    ActivationStatus,
    ActivationStatusCode,
    Balance,
    Country,
    CountryKey,
    FullSms,
    ObjectId,
    OperatorName,
    Rent,
    RentHours,
    RentOffer,
    RentStatus,
    RentStatusCode,
    ServiceCode,
    ServiceStock,
    SetStatusCode,
    SetStatusReply,
    entries,
)
from onlinesim_provider.api.protocol import Parser, document, text

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from onlinesim_provider.api.aio import AsyncOnlineSimClient
    from onlinesim_provider.api.client import OnlineSimClient

__all__ = ["Actions", "Call", "action"]

T = TypeVar("T")
P = ParamSpec("P")
Params = dict[str, str]

_RECONCILE_ACTIVATION = (
    "check the account's active activations before ordering again (an activation that "
    "receives no SMS is refunded when it expires)"
)
_RECONCILE_RENT = "call get_rent_list() to see whether the rent was created"
_COUNTRIES = TypeAdapter(list[Country])
_OFFER = TypeAdapter(RentOffer)
_RENT = TypeAdapter(Rent)
_RENT_STATUS = TypeAdapter(RentStatus)
_RENTS = TypeAdapter(Annotated[list[Rent], BeforeValidator(entries)])


@dataclasses.dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One call of an action: what to send, how to read the reply, how to retry it.

    :param params: the query, without the key.
    :param parse: the reply's parser (see :mod:`~onlinesim_provider.api.protocol`).
    :param reconcile: set on paid orders only: how the caller finds out whether an order whose
        outcome is unknown went through. A paid order is re-sent only when it surely was not sent.
    :param closing: set on closes only: the error a close of an already closed order hears, and
        the reply it stands for when an earlier attempt (whose reply was lost) may have closed it.
    """

    params: Params
    parse: Parser[T]
    reconcile: str | None = None
    closing: tuple[type[OnlineSimError], T] | None = None

    @property
    def action(self) -> str:
        """Return the API action's name, such as ``getNumber``."""
        return self.params["action"]


class action(Generic[P, T]):
    """Make a definition a method of both clients that validates its arguments and sends its call.

    :param definition: a method of :class:`Actions` that returns the :class:`Call` to send.
    """

    def __init__(self, definition: Callable[Concatenate[Any, P], Call[T]]) -> None:
        functools.update_wrapper(self, definition)
        signature, hints = inspect.signature(definition), typing.get_type_hints(definition)
        # What the method returns is the reply, not the Call: the docs read it from __signature__.
        self.__signature__ = signature.replace(return_annotation=typing.get_args(hints["return"])[0])
        self.__annotations__ = {name: hint for name, hint in self.__annotations__.items() if name != "return"}
        self._validated, self._names = validate_call(definition), tuple(signature.parameters)

    def call(self, client: Actions, /, *args: P.args, **kwargs: P.kwargs) -> Call[T]:
        """Return the call the client's method sends for these arguments, sending nothing.

        :param client: the client whose settings (such as ``cancel_status``) the call uses.
        :raises InvalidInputError: naming the bad argument and what was expected.
        """
        try:
            return self._validated(client, *args, **kwargs)
        except ValidationError as error:
            raise invalid_input(error, self._names) from None

    def __call__(self, client: Actions, /, *args: P.args, **kwargs: P.kwargs) -> Any:
        """Send the call with ``client``: ``Class.method(client, ...)`` is ``client.method(...)``."""
        return client._send(self.call(client, *args, **kwargs))

    @overload
    def __get__(self, client: None, owner: type) -> Self: ...
    @overload
    def __get__(self, client: OnlineSimClient, owner: type) -> Callable[P, T]: ...
    @overload
    def __get__(self, client: AsyncOnlineSimClient, owner: type) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, client: Actions | None, owner: type) -> Any:
        """Return the method bound to ``client``, or this definition when looked up on a class."""
        return self if client is None else functools.partial(self, client)


def _activation_status(token: str, code: str) -> ActivationStatus:
    state, code = ActivationState(token), code.strip()
    if state is ActivationState.OK and not code:
        raise ValueError("STATUS_OK without a code")
    return ActivationStatus(state, code or None if state in (state.OK, state.WAIT_RETRY) else None)


def _stock(stock: dict[str, Any]) -> list[ServiceStock]:
    """Read ``{"<service>_<0|1>": <count>}``; the forwarding flag follows the last underscore."""
    rows = []
    for key, count in stock.items():
        service, _, flag = key.rpartition("_")
        known = bool(service) and flag in ("0", "1")
        rows.append(ServiceStock(service if known else key, flag == "1" and known, count))
    return rows


def _given(params: dict[str, str | None]) -> Params:
    return {name: value for name, value in params.items() if value is not None}


def _set_rent_status(reply: dict[str, Any]) -> None:
    if str(reply.get("status", "")).lower() != "success":
        raise ValueError("expected status 'success'")


class Actions:
    """The actions and intent helpers, the methods of both clients.

    :ivar cancel_status: the ``setStatus`` value that cancels: 6 (OnlineSIM) or 8 (SMS-Activate).
    :ivar rent_close_status: the ``setRentStatus`` value that closes a rent: 2, or 1 on clones.
    """

    cancel_status: SetStatusCode
    rent_close_status: int

    def _send(self, call: Call[Any]) -> Any:
        raise NotImplementedError

    @action
    def get_balance(self) -> Call[Balance]:
        """Return the account balance."""
        return Call(
            {"action": "getBalance"}, text(lambda _, amount: Balance(Decimal(amount)), "ACCESS_BALANCE")
        )

    @action
    def get_countries(self) -> Call[list[Country]]:
        """Return the countries the server knows, with their opaque keys (a table keyed by them or a list)."""
        rows = document(
            lambda table: _COUNTRIES.validate_python(
                [{"id": key, **row} for key, row in table.items() if isinstance(row, dict)]
                if isinstance(table, dict)
                else table
            )
        )
        return Call({"action": "getCountries"}, rows)

    @action
    def get_numbers_status(
        self, country: CountryKey | None = None, operator: OperatorName | None = None
    ) -> Call[list[ServiceStock]]:
        """Return how many numbers each service has available.

        :param country: country key from :meth:`get_countries`; the server's default when omitted.
        :param operator: operator name; any operator when omitted.
        """
        params = {"action": "getNumbersStatus", "country": country, "operator": operator}
        return Call(_given(params), document(_stock))

    @action
    def get_number(
        self, service: ServiceCode, country: CountryKey | None = None, operator: OperatorName | None = None
    ) -> Call[Activation]:
        """Order a number for ``service`` (paid; never re-sent when its outcome is unknown).

        :param service: service code such as ``tg``.
        :param country: country key from :meth:`get_countries`; the server's default when omitted.
        :param operator: operator name; any operator when omitted.
        :raises OutcomeUnknownError: the order may have reached the server; it was not re-sent.
        """
        params = {"action": "getNumber", "service": service, "country": country, "operator": operator}
        number = text(
            lambda _, value: Activation(int(value.split(":")[0]), value.partition(":")[2]), "ACCESS_NUMBER"
        )
        return Call(_given(params), number, reconcile=_RECONCILE_ACTIVATION)

    @action
    def get_status(self, activation_id: ObjectId) -> Call[ActivationStatus]:
        """Return the state of an activation and its code, once one arrived.

        :param activation_id: id from :meth:`get_number`.
        """
        params = {"action": "getStatus", "id": str(activation_id)}
        return Call(params, text(_activation_status, *ActivationState))

    @action
    def get_full_sms(self, activation_id: ObjectId) -> Call[FullSms]:
        """Return the whole text of the SMS an activation received (split on the first ``:`` only).

        :param activation_id: id from :meth:`get_number`.
        """
        sms = text(
            lambda token, sms: (
                FullSms(ActivationState.OK, sms) if token == "FULL_SMS" else FullSms(ActivationState(token))
            ),
            "FULL_SMS",
            *ActivationState,
        )
        return Call({"action": "getFullSms", "id": str(activation_id)}, sms)

    @action
    def set_status(self, activation_id: ObjectId, status: ActivationStatusCode) -> Call[SetStatusReply]:
        """Set the status of an activation (1 ready, 3 another code, 6 close, 8 cancel).

        A repeated close (6 or 8) that hears ``BAD_STATUS`` after an attempt that may have closed
        the activation succeeds.

        :param activation_id: id from :meth:`get_number`.
        :param status: a :class:`SetStatusCode` or its number.
        """
        params = {"action": "setStatus", "id": str(activation_id), "status": str(int(status))}
        closed = {SetStatusCode.CLOSE: SetStatusReply.ACTIVATION, SetStatusCode.CANCEL: SetStatusReply.CANCEL}
        closing = (BadStatusError, closed[SetStatusCode(status)]) if status in closed else None
        return Call(params, text(lambda token, _: SetStatusReply(token), *SetStatusReply), closing=closing)

    @action
    def mark_ready(self, activation_id: ObjectId) -> Call[SetStatusReply]:
        """Tell the server the SMS was requested on the number (status 1).

        :param activation_id: id from :meth:`get_number`.
        """
        return Actions.set_status.call(self, activation_id, SetStatusCode.READY)

    @action
    def request_another_code(self, activation_id: ObjectId) -> Call[SetStatusReply]:
        """Ask for another code on the same number (status 3).

        :param activation_id: id from :meth:`get_number`.
        """
        return Actions.set_status.call(self, activation_id, SetStatusCode.REQUEST_ANOTHER_CODE)

    @action
    def complete_activation(self, activation_id: ObjectId) -> Call[SetStatusReply]:
        """Close the activation after use (status 6, irreversible).

        :param activation_id: id from :meth:`get_number`.
        """
        return Actions.set_status.call(self, activation_id, SetStatusCode.CLOSE)

    @action
    def cancel_activation(self, activation_id: ObjectId) -> Call[SetStatusReply]:
        """Cancel the activation so the money comes back (status :attr:`cancel_status`: 6 or 8).

        :param activation_id: id from :meth:`get_number`.
        """
        return Actions.set_status.call(self, activation_id, self.cancel_status)

    @action
    def get_rent_services_and_countries(
        self,
        hours: RentHours | None = None,
        country: CountryKey | None = None,
        operator: OperatorName | None = None,
    ) -> Call[RentOffer]:
        """Return the countries, operators and services offered for rent, with prices.

        The name of the period parameter is not settled (``time`` or ``rent_time``): both are
        sent, and servers ignore the one they do not know.

        :param hours: rent period in hours; the server's default (one day) when omitted.
        :param country: country key; the server's default when omitted.
        :param operator: operator name; any operator when omitted.
        """
        period = None if hours is None else str(hours)
        params = {"action": "getRentServicesAndCountries", "time": period, "rent_time": period}
        params |= {"country": country, "operator": operator}
        return Call(_given(params), document(_OFFER.validate_python))

    @action
    def get_rent_number(self, country: CountryKey, hours: RentHours = 1) -> Call[Rent]:
        """Rent a number (paid; never re-sent when its outcome is unknown: see :meth:`get_rent_list`).

        OnlineSIM takes no ``service``: a rented number receives every service's messages.

        :param country: country key from :meth:`get_rent_services_and_countries`.
        :param hours: rent period in hours, rounded up to whole days by the server.
        :raises OutcomeUnknownError: the order may have reached the server; it was not re-sent.
        """
        params = {"action": "getRentNumber", "country": country, "time": str(hours)}
        rent = document(lambda reply: _RENT.validate_python(reply["phone"]))
        return Call(params, rent, reconcile=_RECONCILE_RENT)

    @action
    def get_rent_list(self) -> Call[list[Rent]]:
        """Return the account's active rents (empty when there are none: ``NO_NUMBERS``)."""
        rents = document(
            lambda reply: _RENTS.validate_python(reply.get("values")), quiet={"NO_NUMBERS": list}
        )
        return Call({"action": "getRentList"}, rents)

    @action
    def get_rent_status(self, rent_id: ObjectId) -> Call[RentStatus]:
        """Return the messages a rented number received so far (none: ``STATUS_WAIT_CODE``).

        :param rent_id: id from :meth:`get_rent_number`.
        :raises RentClosedError: the rent is cancelled or finished.
        """
        status = document(_RENT_STATUS.validate_python, quiet={"STATUS_WAIT_CODE": lambda: RentStatus(0)})
        return Call({"action": "getRentStatus", "id": str(rent_id)}, status)

    @action
    def set_rent_status(self, rent_id: ObjectId, status: RentStatusCode = 2) -> Call[None]:
        """Set the status of a rent: 2 ends it early, irreversibly.

        OnlineSIM accepts only 2 and calls it "close"; SMS-Activate clones call 2 "cancel" and also
        take 1, "finish". Either way the rent ends; a repeat that hears ``ALREADY_FINISH`` after an
        attempt that may have ended it succeeds.

        :param rent_id: id from :meth:`get_rent_number`.
        :param status: 2 (close; the only value OnlineSIM accepts) or 1 (finish, on clones).
        """
        params = {"action": "setRentStatus", "id": str(rent_id), "status": str(status)}
        return Call(params, document(_set_rent_status), closing=(AlreadyFinishError, None))

    @action
    def close_rent(self, rent_id: ObjectId) -> Call[None]:
        """Close a rent, irreversibly (status :attr:`rent_close_status`: 2, or 1 on SMS-Activate clones).

        :param rent_id: id from :meth:`get_rent_number`.
        """
        return Actions.set_rent_status.call(self, rent_id, self.rent_close_status)
