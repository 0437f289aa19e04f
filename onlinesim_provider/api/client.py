"""The synchronous OnlineSIM client: one keep-alive ``requests.Session``, typed replies.

Example::

    from onlinesim_provider.api.client import OnlineSimClient

    with OnlineSimClient("my-key") as client:
        activation = client.get_number("tg", country="7")
        status = client.get_status(activation.id)
        client.complete_activation(activation.id)
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from onlinesim_provider.api import protocol
from onlinesim_provider.api.base import RENT_CLOSING, AuthStyle, ClientBase, activation_closing
from onlinesim_provider.api.retry import call_with_retry

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import TracebackType
    from typing import Self

    from onlinesim_provider.api.errors import OnlineSimError
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
    from onlinesim_provider.api.network import Timeout, Verify
    from onlinesim_provider.api.retry import Closing, RetryPolicy

__all__ = ["OnlineSimClient"]

T = TypeVar("T")

#: Keep-alive sockets kept per host: enough for a few threads sharing one client.
POOL_SIZE = 10


def _sent(error: requests.RequestException) -> bool:
    """Return False only when ``error`` proves the request never reached the server."""
    if isinstance(error, requests.ConnectTimeout | requests.exceptions.ProxyError):
        return False
    if isinstance(error, requests.ConnectionError):
        reason = getattr(error.args[0], "reason", None) if error.args else None
        return not isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return True


def _new_session() -> requests.Session:
    session = requests.Session()
    # Proxies and the CA bundle come resolved from NetworkSettings, as for the async client.
    session.trust_env = False
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class OnlineSimClient(ClientBase):
    """Call the OnlineSIM Alternative API over one keep-alive HTTP session.

    Reads are retried on transient failures; paid orders only when they surely were not sent
    (see :mod:`onlinesim_provider.api.retry`). Everything raised is an
    :class:`~onlinesim_provider.api.errors.OnlineSimError`, and none of it shows the key.

    :param api_key: the OnlineSIM API key.
    :param base_url: the server, ``https://api-conserver.onlinesim.io`` by default.
    :param auth: ``"header"`` (Bearer, the default) or ``"query"`` (``api_key`` parameter).
    :param timeout: seconds, or ``(connect, read)`` seconds, per request.
    :param proxies: proxy URL per scheme, as ``requests`` takes them; the proxy environment
        variables when omitted (see :class:`~onlinesim_provider.api.network.NetworkSettings`).
    :param verify: TLS verification: ``True``, ``False`` or a CA bundle path; the CA environment
        variables, else certifi's bundle, when omitted.
    :param cancel_status: the ``setStatus`` value that cancels: 6 (OnlineSIM) or 8 (SMS-Activate).
    :param retry: attempts, backoff and time budget; :class:`RetryPolicy` defaults when omitted.
    :param session: a session to use instead of a new one; the caller keeps ownership of it.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = protocol.DEFAULT_BASE_URL,
        auth: AuthStyle = "header",
        timeout: Timeout = (5.0, 30.0),
        proxies: Mapping[str, str] | None = None,
        verify: Verify | None = None,
        cancel_status: int = 6,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        super().__init__(
            api_key,
            base_url=base_url,
            auth=auth,
            timeout=timeout,
            proxies=proxies,
            verify=verify,
            cancel_status=cancel_status,
            retry=retry,
        )
        self._owns_session = session is None
        self._session = session if session is not None else _new_session()

    def close(self) -> None:
        """Close the HTTP session, unless the caller passed it in."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _send(
        self, params: protocol.Params, parse: Callable[[str, int], T], closing: Closing[T] | None = None
    ) -> T:
        """Send one action through the retry policy and parse its reply."""
        return call_with_retry(
            lambda: self._attempt(params, parse),
            action=params["action"],
            policy=self.retry,
            closing=closing,
        )

    def _attempt(self, params: protocol.Params, parse: Callable[[str, int], T]) -> T:
        started = time.monotonic()
        error: OnlineSimError
        try:
            response = self._session.get(
                self.url,
                params=self._query(params),
                headers=self._headers(),
                timeout=self.network.timeout,
                proxies=self.network.requests_proxies,
                verify=self.network.verify,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            error = self._network_error(params["action"], exc, sent=_sent(exc))
        else:
            with response:
                return self._interpret(
                    params, parse, (response.status_code, response.content, response.headers), started
                )
        raise error  # outside the handler, so the key-bearing transport error is not chained

    # --- profile -----------------------------------------------------------------------------

    def get_balance(self) -> Balance:
        """Return the account balance."""
        return self._send(protocol.get_balance_params(), protocol.parse_get_balance)

    def get_countries(self) -> list[Country]:
        """Return the countries the server knows, with their opaque keys."""
        return self._send(protocol.get_countries_params(), protocol.parse_get_countries)

    # --- single-service activations --------------------------------------------------------------

    def get_numbers_status(
        self, country: str | int | None = None, operator: str | None = None
    ) -> list[ServiceStock]:
        """Return how many numbers each service has available.

        :param country: country key from :meth:`get_countries`; all countries when omitted.
        :param operator: operator name; any operator when omitted.
        """
        params = protocol.get_numbers_status_params(country, operator)
        return self._send(params, protocol.parse_get_numbers_status)

    def get_number(
        self, service: str, country: str | int | None = None, operator: str | None = None
    ) -> Activation:
        """Order a number for ``service`` (paid; never re-sent when its outcome is unknown).

        :param service: service code such as ``tg``.
        :param country: country key from :meth:`get_countries`.
        :param operator: operator name.
        :raises OutcomeUnknownError: the order may have reached the server; it was not re-sent.
        """
        params = protocol.get_number_params(service, country, operator)
        return self._send(params, protocol.parse_get_number)

    def get_status(self, activation_id: int) -> ActivationStatus:
        """Return the state of an activation and its code, once one arrived.

        :param activation_id: id from :meth:`get_number`.
        """
        return self._send(protocol.get_status_params(activation_id), protocol.parse_get_status)

    def get_full_sms(self, activation_id: int) -> FullSms:
        """Return the whole text of the SMS an activation received.

        :param activation_id: id from :meth:`get_number`.
        """
        return self._send(protocol.get_full_sms_params(activation_id), protocol.parse_get_full_sms)

    def set_status(self, activation_id: int, status: int | SetStatusCode) -> SetStatusReply:
        """Set the status of an activation (1 ready, 3 another code, 6 close, 8 cancel).

        :param activation_id: id from :meth:`get_number`.
        :param status: a :class:`SetStatusCode` or its number.
        """
        params = protocol.set_status_params(activation_id, status)
        return self._send(params, protocol.parse_set_status, activation_closing(status))

    def mark_ready(self, activation_id: int) -> SetStatusReply:
        """Tell the server the SMS was requested on the number (status 1).

        :param activation_id: id from :meth:`get_number`.
        """
        return self.set_status(activation_id, 1)

    def request_another_code(self, activation_id: int) -> SetStatusReply:
        """Ask for another code on the same number (status 3).

        :param activation_id: id from :meth:`get_number`.
        """
        return self.set_status(activation_id, 3)

    def complete_activation(self, activation_id: int) -> SetStatusReply:
        """Close the activation after use (status 6, irreversible).

        :param activation_id: id from :meth:`get_number`.
        """
        return self.set_status(activation_id, 6)

    def cancel_activation(self, activation_id: int) -> SetStatusReply:
        """Cancel the activation so the money comes back (status :attr:`cancel_status`).

        :param activation_id: id from :meth:`get_number`.
        """
        return self.set_status(activation_id, self.cancel_status)

    # --- rent ------------------------------------------------------------------------------------------

    def get_rent_services_and_countries(
        self, hours: int | None = None, country: str | int | None = None, operator: str | None = None
    ) -> RentOffer:
        """Return the countries, operators and services offered for rent, with prices.

        :param hours: rent period in hours; the server's default when omitted.
        :param country: country key.
        :param operator: operator name.
        """
        params = protocol.get_rent_services_and_countries_params(hours, country, operator)
        return self._send(params, protocol.parse_get_rent_services_and_countries)

    def get_rent_number(self, country: str | int, hours: int = 1) -> Rent:
        """Rent a number (paid; never re-sent when its outcome is unknown: see :meth:`get_rent_list`).

        :param country: country key from :meth:`get_rent_services_and_countries`.
        :param hours: rent period in hours, rounded up to whole days by the server.
        :raises OutcomeUnknownError: the order may have reached the server; it was not re-sent.
        """
        params = protocol.get_rent_number_params(country, hours)
        return self._send(params, protocol.parse_get_rent_number)

    def get_rent_list(self) -> list[Rent]:
        """Return the account's active rents (empty when there are none)."""
        return self._send(protocol.get_rent_list_params(), protocol.parse_get_rent_list)

    def get_rent_status(self, rent_id: int) -> RentStatus:
        """Return the messages a rented number received so far.

        :param rent_id: id from :meth:`get_rent_number`.
        :raises RentClosedError: the rent is cancelled or finished.
        """
        return self._send(protocol.get_rent_status_params(rent_id), protocol.parse_get_rent_status)

    def set_rent_status(self, rent_id: int, status: int = 2) -> None:
        """Set the status of a rent (2 closes it, irreversibly).

        :param rent_id: id from :meth:`get_rent_number`.
        :param status: 2 (close; the only value OnlineSIM accepts) or 1 (finish, on clones).
        """
        self._send(
            protocol.set_rent_status_params(rent_id, status), protocol.parse_set_rent_status, RENT_CLOSING
        )

    def close_rent(self, rent_id: int) -> None:
        """Close a rent (status 2, irreversible).

        :param rent_id: id from :meth:`get_rent_number`.
        """
        self.set_rent_status(rent_id, 2)
