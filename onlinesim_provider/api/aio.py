"""The asynchronous OnlineSIM client on ``httpx.AsyncClient``: the sync client's twin.

Same constructor, same methods (``async def``), same protocol, retry policy and error
classification. Pass a shared ``http_client`` to pool connections across many clients (one pool
per event loop); it is not closed by :meth:`AsyncOnlineSimClient.aclose`.

Example::

    from onlinesim_provider.api.aio import AsyncOnlineSimClient

    async with AsyncOnlineSimClient("my-key") as client:
        status = await client.get_status(activation_id)
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlencode

import httpx

from onlinesim_provider.api import protocol
from onlinesim_provider.api.base import RENT_CLOSING, AuthStyle, ClientBase, Timeout, activation_closing
from onlinesim_provider.api.retry import acall_with_retry

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping
    from types import TracebackType
    from typing import Self

    from onlinesim_provider.api.errors import NetworkError
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
    from onlinesim_provider.api.retry import Closing, RetryPolicy

__all__ = ["AsyncOnlineSimClient"]

T = TypeVar("T")

#: Connections of a client's own pool (a shared ``http_client`` brings its own limits).
LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=10)
#: Failures that prove the request never reached the server.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)


def _mount_pattern(key: str) -> str:
    """Turn a ``requests``-style proxies key (``https``, ``all``, ``http://host``) into an httpx one."""
    return key if "://" in key else f"{key}://"


class AsyncOnlineSimClient(ClientBase):
    """Call the OnlineSIM Alternative API from asyncio, without blocking the event loop.

    :param api_key: the OnlineSIM API key.
    :param base_url: the server, ``https://api-conserver.onlinesim.io`` by default.
    :param auth: ``"header"`` (Bearer, the default) or ``"query"`` (``api_key`` parameter);
        sent with each request, never set on a shared ``http_client``.
    :param timeout: seconds, or ``(connect, read)`` seconds, per request.
    :param proxies: proxy URL per scheme. A client with proxies opens its own pool even when
        ``http_client`` is given, because a shared pool cannot route through its proxy.
    :param cancel_status: the ``setStatus`` value that cancels: 6 (OnlineSIM) or 8 (SMS-Activate).
    :param retry: attempts, backoff and time budget; :class:`RetryPolicy` defaults when omitted.
    :param http_client: a shared ``httpx.AsyncClient``; the caller keeps ownership of it.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = protocol.DEFAULT_BASE_URL,
        auth: AuthStyle = "header",
        timeout: Timeout = (5.0, 30.0),
        proxies: Mapping[str, str] | None = None,
        cancel_status: int = 6,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            api_key,
            base_url=base_url,
            auth=auth,
            timeout=timeout,
            proxies=proxies,
            cancel_status=cancel_status,
            retry=retry,
        )
        connect, read = self.timeout
        self._httpx_timeout = httpx.Timeout(read, connect=connect)
        self._owns_client = http_client is None or self.proxies is not None
        self._client = (
            http_client if http_client is not None and not self._owns_client else self._new_client()
        )
        # Built once: the pool's default headers under ours, and the timeouts; a poll repeats
        # one query, so its URL is parsed once too (httpx's per-call merging cost a poll ~15%).
        self._request_headers = httpx.Headers(self._client.headers)
        self._request_headers.update(self._headers())
        self._extensions = {"timeout": self._httpx_timeout.as_dict()}
        self._last_url: tuple[str, httpx.URL] | None = None

    def _new_client(self) -> httpx.AsyncClient:
        mounts = {
            _mount_pattern(key): httpx.AsyncHTTPTransport(proxy=url, limits=LIMITS)
            for key, url in (self.proxies or {}).items()
        }
        return httpx.AsyncClient(limits=LIMITS, mounts=mounts or None)

    async def aclose(self) -> None:
        """Close the connection pool, unless it is a shared ``http_client``."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _send(
        self, params: protocol.Params, parse: Callable[[str, int], T], closing: Closing[T] | None = None
    ) -> Awaitable[T]:
        """Send one action through the retry policy and parse its reply."""
        return acall_with_retry(
            lambda: self._attempt(params, parse),
            action=params["action"],
            policy=self.retry,
            closing=closing,
        )

    def _request(self, params: protocol.Params) -> httpx.Request:
        query = urlencode(self._query(params))
        if self._last_url is None or self._last_url[0] != query:
            self._last_url = (query, httpx.URL(f"{self.url}?{query}"))
        url = self._last_url[1]
        return httpx.Request("GET", url, headers=self._request_headers, extensions=self._extensions)

    async def _attempt(self, params: protocol.Params, parse: Callable[[str, int], T]) -> T:
        started = time.monotonic()
        error: NetworkError
        try:
            response = await self._client.send(self._request(params), follow_redirects=False)
        except httpx.HTTPError as exc:
            error = self._network_error(params["action"], exc, sent=not isinstance(exc, _UNSENT))
        else:
            return self._interpret(
                params, parse, (response.status_code, response.content, response.headers), started
            )
        raise error  # outside the handler, so the key-bearing transport error is not chained

    # --- profile -----------------------------------------------------------------------------

    async def get_balance(self) -> Balance:
        """Return the account balance."""
        return await self._send(protocol.get_balance_params(), protocol.parse_get_balance)

    async def get_countries(self) -> list[Country]:
        """Return the countries the server knows, with their opaque keys."""
        return await self._send(protocol.get_countries_params(), protocol.parse_get_countries)

    # --- single-service activations --------------------------------------------------------------

    async def get_numbers_status(
        self, country: str | int | None = None, operator: str | None = None
    ) -> list[ServiceStock]:
        """Return how many numbers each service has available.

        :param country: country key from :meth:`get_countries`; all countries when omitted.
        :param operator: operator name; any operator when omitted.
        """
        params = protocol.get_numbers_status_params(country, operator)
        return await self._send(params, protocol.parse_get_numbers_status)

    async def get_number(
        self, service: str, country: str | int | None = None, operator: str | None = None
    ) -> Activation:
        """Order a number for ``service`` (paid; never re-sent when its outcome is unknown).

        :param service: service code such as ``tg``.
        :param country: country key from :meth:`get_countries`.
        :param operator: operator name.
        :raises OutcomeUnknownError: the order may have reached the server; it was not re-sent.
        """
        params = protocol.get_number_params(service, country, operator)
        return await self._send(params, protocol.parse_get_number)

    async def get_status(self, activation_id: int) -> ActivationStatus:
        """Return the state of an activation and its code, once one arrived.

        :param activation_id: id from :meth:`get_number`.
        """
        return await self._send(protocol.get_status_params(activation_id), protocol.parse_get_status)

    async def get_full_sms(self, activation_id: int) -> FullSms:
        """Return the whole text of the SMS an activation received.

        :param activation_id: id from :meth:`get_number`.
        """
        return await self._send(protocol.get_full_sms_params(activation_id), protocol.parse_get_full_sms)

    async def set_status(self, activation_id: int, status: int | SetStatusCode) -> SetStatusReply:
        """Set the status of an activation (1 ready, 3 another code, 6 close, 8 cancel).

        :param activation_id: id from :meth:`get_number`.
        :param status: a :class:`SetStatusCode` or its number.
        """
        params = protocol.set_status_params(activation_id, status)
        return await self._send(params, protocol.parse_set_status, activation_closing(status))

    async def mark_ready(self, activation_id: int) -> SetStatusReply:
        """Tell the server the SMS was requested on the number (status 1).

        :param activation_id: id from :meth:`get_number`.
        """
        return await self.set_status(activation_id, 1)

    async def request_another_code(self, activation_id: int) -> SetStatusReply:
        """Ask for another code on the same number (status 3).

        :param activation_id: id from :meth:`get_number`.
        """
        return await self.set_status(activation_id, 3)

    async def complete_activation(self, activation_id: int) -> SetStatusReply:
        """Close the activation after use (status 6, irreversible).

        :param activation_id: id from :meth:`get_number`.
        """
        return await self.set_status(activation_id, 6)

    async def cancel_activation(self, activation_id: int) -> SetStatusReply:
        """Cancel the activation so the money comes back (status :attr:`cancel_status`).

        :param activation_id: id from :meth:`get_number`.
        """
        return await self.set_status(activation_id, self.cancel_status)

    # --- rent ------------------------------------------------------------------------------------------

    async def get_rent_services_and_countries(
        self, hours: int | None = None, country: str | int | None = None, operator: str | None = None
    ) -> RentOffer:
        """Return the countries, operators and services offered for rent, with prices.

        :param hours: rent period in hours; the server's default when omitted.
        :param country: country key.
        :param operator: operator name.
        """
        params = protocol.get_rent_services_and_countries_params(hours, country, operator)
        return await self._send(params, protocol.parse_get_rent_services_and_countries)

    async def get_rent_number(self, country: str | int, hours: int = 1) -> Rent:
        """Rent a number (paid; never re-sent when its outcome is unknown: see :meth:`get_rent_list`).

        :param country: country key from :meth:`get_rent_services_and_countries`.
        :param hours: rent period in hours, rounded up to whole days by the server.
        :raises OutcomeUnknownError: the order may have reached the server; it was not re-sent.
        """
        params = protocol.get_rent_number_params(country, hours)
        return await self._send(params, protocol.parse_get_rent_number)

    async def get_rent_list(self) -> list[Rent]:
        """Return the account's active rents (empty when there are none)."""
        return await self._send(protocol.get_rent_list_params(), protocol.parse_get_rent_list)

    async def get_rent_status(self, rent_id: int) -> RentStatus:
        """Return the messages a rented number received so far.

        :param rent_id: id from :meth:`get_rent_number`.
        :raises RentClosedError: the rent is cancelled or finished.
        """
        return await self._send(protocol.get_rent_status_params(rent_id), protocol.parse_get_rent_status)

    async def set_rent_status(self, rent_id: int, status: int = 2) -> None:
        """Set the status of a rent (2 closes it, irreversibly).

        :param rent_id: id from :meth:`get_rent_number`.
        :param status: 2 (close; the only value OnlineSIM accepts) or 1 (finish, on clones).
        """
        await self._send(
            protocol.set_rent_status_params(rent_id, status), protocol.parse_set_rent_status, RENT_CLOSING
        )

    async def close_rent(self, rent_id: int) -> None:
        """Close a rent (status 2, irreversible).

        :param rent_id: id from :meth:`get_rent_number`.
        """
        await self.set_rent_status(rent_id, 2)
