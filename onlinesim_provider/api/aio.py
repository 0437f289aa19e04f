"""The asynchronous OnlineSIM client on ``aiohttp``: the sync client's twin.

Same constructor, same methods (``async def``), same protocol, retry policy, error
classification and network settings (:class:`~onlinesim_provider.api.network.NetworkSettings`).
Pass a shared ``http_client`` (an ``aiohttp.ClientSession``) to pool connections across many
clients, one pool per event loop; it is not closed by :meth:`AsyncOnlineSimClient.aclose`. The
proxy and TLS settings travel with each request, so clients of different connections can share
one pool: aiohttp keeps a proxied or differently verified connection apart from the others.

Example::

    from onlinesim_provider.api.aio import AsyncOnlineSimClient

    async with AsyncOnlineSimClient("my-key") as client:
        status = await client.get_status(activation_id)
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlencode

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from onlinesim_provider.api import actions, protocol
from onlinesim_provider.api.actions import async_method
from onlinesim_provider.api.base import AuthStyle, ClientBase
from onlinesim_provider.api.retry import acall_with_retry

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping
    from types import TracebackType
    from typing import Self

    from onlinesim_provider.api.actions import Call
    from onlinesim_provider.api.errors import OnlineSimError
    from onlinesim_provider.api.network import NetworkSettings, Timeout, Verify
    from onlinesim_provider.api.retry import RetryPolicy

__all__ = ["AsyncOnlineSimClient", "new_session"]

T = TypeVar("T")

#: Connections of a client's own pool (a shared ``http_client`` brings its own limit).
POOL_SIZE = 20
#: Failures that prove the request never reached the server: no connection (refused, DNS, TLS
#: handshake, proxy refused), no free connection or no connect within the timeout, or a proxy
#: that refused the tunnel. Everything else may have reached it.
_UNSENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.ClientHttpProxyError)
#: What aiohttp raises for a failed exchange (its own errors; timeouts are among them).
_TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


def new_session(limit: int = POOL_SIZE) -> aiohttp.ClientSession:
    """Return a keep-alive ``aiohttp.ClientSession`` set up for OnlineSIM clients to share.

    Must be called in the event loop that will use it. At most ``limit`` connections at once;
    further requests wait for a free one (within the connect timeout). Neither proxies nor CA
    bundles are read from the environment here: each client sends its resolved settings.

    :param limit: connections at once, across all hosts.
    """
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, keepalive_timeout=30.0, ttl_dns_cache=300)
    session = aiohttp.ClientSession(
        connector=connector, trust_env=False, auto_decompress=True, raise_for_status=False
    )
    # aiohttp re-sends an idempotent request once when a reused connection drops; an order is a
    # GET too, and re-sending one could pay twice, so the retry policy alone decides.
    session._retry_connection = False
    return session


def _client_timeout(network: NetworkSettings) -> aiohttp.ClientTimeout:
    connect, read = network.timeout
    # ``connect`` also bounds the wait for a free pooled connection: as long as a read may take.
    return aiohttp.ClientTimeout(total=None, connect=max(connect, read), sock_connect=connect, sock_read=read)


def _proxy_credentials(proxy: str | None) -> tuple[URL | None, dict[str, str]]:
    """Split a proxy URL into the URL without credentials and its ``Proxy-Authorization`` header.

    aiohttp takes proxy credentials only as a header: on the request itself to an ``http://``
    server (the proxy reads it), on the ``CONNECT`` to an ``https://`` one (never sent inside the
    tunnel). requests reads them from the URL; both clients send them alike.
    """
    if proxy is None:
        return None, {}
    url = URL(proxy)
    if url.user is None:
        return url, {}
    # Basic credentials encoded as requests encodes them (latin-1), so both clients send the same.
    token = base64.b64encode(f"{url.user}:{url.password or ''}".encode("latin-1")).decode("ascii")
    return url.with_user(None), {"Proxy-Authorization": f"Basic {token}"}


class AsyncOnlineSimClient(ClientBase):
    """Call the OnlineSIM Alternative API from asyncio, without blocking the event loop.

    :param api_key: the OnlineSIM API key.
    :param base_url: the server, ``https://api-conserver.onlinesim.io`` by default.
    :param auth: ``"header"`` (Bearer, the default) or ``"query"`` (``api_key`` parameter);
        sent with each request, never set on a shared ``http_client``.
    :param timeout: seconds, or ``(connect, read)`` seconds, per request.
    :param proxies: proxy URL per scheme; the proxy environment variables when omitted.
    :param verify: TLS verification: ``True``, ``False`` or a CA bundle path; the CA environment
        variables, else certifi's bundle, when omitted.
    :param cancel_status: the ``setStatus`` value that cancels: 6 (OnlineSIM) or 8 (SMS-Activate).
    :param rent_close_status: the ``setRentStatus`` value that closes a rent: 2 (OnlineSIM) or 1
        (finish, on SMS-Activate-style servers).
    :param retry: attempts, backoff and time budget; :class:`RetryPolicy` defaults when omitted.
    :param http_client: a shared ``aiohttp.ClientSession`` (see :func:`new_session`); the caller
        keeps ownership of it.
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
        rent_close_status: int = 2,
        retry: RetryPolicy | None = None,
        http_client: aiohttp.ClientSession | None = None,
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
            rent_close_status=rent_close_status,
        )
        self._owns_session = http_client is None
        self._session = http_client  # an own session is opened on first use, inside the loop
        # Built once: headers, timeouts, proxy and TLS context; a poll repeats one query, so its
        # URL is built once too.
        self._proxy, proxy_authorization = _proxy_credentials(self.network.proxy)
        tunnelled = self.url.startswith("https://")
        self._proxy_headers = proxy_authorization if tunnelled else None
        self._request_headers = CIMultiDict({**self._headers(), **({} if tunnelled else proxy_authorization)})
        self._client_timeout = _client_timeout(self.network)
        self._ssl = self.network.ssl
        self._last_url: tuple[str, URL] | None = None

    async def aclose(self) -> None:
        """Close the connection pool, unless it is a shared ``http_client``."""
        if self._owns_session:
            if self._session is None:  # never used: a closed client stays closed all the same
                self._session = new_session()
            await self._session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _send(self, call: Call[T]) -> Awaitable[T]:
        """Send one call of an action through the retry policy and parse its reply."""
        return acall_with_retry(lambda: self._attempt(call.params, call.parse), call, self.retry)

    def _url(self, params: protocol.Params) -> URL:
        query = urlencode(self._query(params))
        if self._last_url is None or self._last_url[0] != query:
            self._last_url = (query, URL(f"{self.url}?{query}", encoded=True))
        return self._last_url[1]

    async def _exchange(self, url: URL) -> tuple[int, bytes, Mapping[str, str]]:
        if self._session is None:
            self._session = new_session()
        async with self._session.get(
            url,
            headers=self._request_headers,
            timeout=self._client_timeout,
            proxy=self._proxy,
            proxy_headers=self._proxy_headers,
            ssl=self._ssl,
            allow_redirects=False,
        ) as response:
            return response.status, await response.read(), response.headers

    async def _attempt(self, params: protocol.Params, parse: Callable[[str, int], T]) -> T:
        started = time.monotonic()
        error: OnlineSimError
        try:
            response = await self._exchange(self._url(params))
        except _TRANSPORT_ERRORS as exc:
            error = self._network_error(params["action"], exc, maybe_sent=not isinstance(exc, _UNSENT))
        else:
            return self._interpret(params, parse, response, started)
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
