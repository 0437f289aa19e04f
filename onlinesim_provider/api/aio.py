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

from onlinesim_provider.api import actions, protocol
from onlinesim_provider.api.actions import async_method
from onlinesim_provider.api.base import AuthStyle, ClientBase, Timeout
from onlinesim_provider.api.retry import acall_with_retry

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping
    from types import TracebackType
    from typing import Self

    from onlinesim_provider.api.actions import Call
    from onlinesim_provider.api.errors import NetworkError
    from onlinesim_provider.api.retry import RetryPolicy

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

    def _send(self, call: Call[T]) -> Awaitable[T]:
        """Send one call of an action through the retry policy and parse its reply."""
        return acall_with_retry(lambda: self._attempt(call.params, call.parse), call, self.retry)

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
            error = self._network_error(params["action"], exc, maybe_sent=not isinstance(exc, _UNSENT))
        else:
            return self._interpret(
                params, parse, (response.status_code, response.content, response.headers), started
            )
        raise error  # outside the handler, so the key-bearing transport error is not chained

    # --- the actions and intent helpers, defined once in actions.py -----------------------------

    get_balance = async_method(actions.get_balance)
    get_countries = async_method(actions.get_countries)
    get_numbers_status = async_method(actions.get_numbers_status)
    get_number = async_method(actions.get_number)
    get_status = async_method(actions.get_status)
    get_full_sms = async_method(actions.get_full_sms)
    set_status = async_method(actions.set_status)
    mark_ready = async_method(actions.mark_ready)
    request_another_code = async_method(actions.request_another_code)
    complete_activation = async_method(actions.complete_activation)
    cancel_activation = async_method(actions.cancel_activation)
    get_rent_services_and_countries = async_method(actions.get_rent_services_and_countries)
    get_rent_number = async_method(actions.get_rent_number)
    get_rent_list = async_method(actions.get_rent_list)
    get_rent_status = async_method(actions.get_rent_status)
    set_rent_status = async_method(actions.set_rent_status)
    close_rent = async_method(actions.close_rent)
