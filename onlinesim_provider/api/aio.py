"""The asynchronous OnlineSIM client on ``aiohttp``: the sync client's twin, same methods as coroutines.

Pass a shared ``http_client`` (:func:`new_session`) to pool connections across many clients, one
pool per event loop; :meth:`AsyncOnlineSimClient.aclose` leaves it open. Each request carries its
client's proxy and TLS settings, so clients of different connections can share one pool.
"""

from __future__ import annotations

import functools
import os
import time
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlencode

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from multidict import CIMultiDict
from yarl import URL

from onlinesim_provider.api.base import ClientBase
from onlinesim_provider.api.retry import acall_with_retry
from onlinesim_provider.version_compat import never_resend_on_a_reused_connection

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType
    from typing import Self, Unpack

    from onlinesim_provider.api.actions import Call
    from onlinesim_provider.api.base import ClientOptions
    from onlinesim_provider.api.errors import OnlineSimError

__all__ = ["AsyncOnlineSimClient", "new_session"]

T = TypeVar("T")

#: Connections of a client's own pool (a shared ``http_client`` brings its own limit).
POOL_SIZE = 20
#: Failures that prove the request never reached the server: no connection (refused, DNS, TLS,
#: proxy refused), no connect within the timeout, or a proxy that refused the tunnel.
_UNSENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.ClientHttpProxyError)


def new_session(limit: int = POOL_SIZE) -> aiohttp.ClientSession:
    """Return a keep-alive ``aiohttp.ClientSession`` set up for OnlineSIM clients to share.

    Must be called in the event loop that will use it. At most ``limit`` connections at once;
    further requests wait for a free one. It reads no proxy from the environment: each client
    resolves its own once, instead of every request doing so in a thread.

    :param limit: connections at once, across all hosts.
    """
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, keepalive_timeout=30.0, ttl_dns_cache=300)
    session = aiohttp.ClientSession(connector=connector, trust_env=False, raise_for_status=False)
    # an order is a GET, and aiohttp re-sends a GET whose kept-alive connection dropped: a second payment
    never_resend_on_a_reused_connection(session)
    return session


@functools.lru_cache(maxsize=64)
def _environment_proxy(url: URL, environment: frozenset[tuple[str, str]]) -> URL | None:
    """Return aiohttp's proxy for ``url`` from the environment (``environment`` keys the cache)."""
    try:
        proxy, auth = get_env_proxy_for_url(url)
    except LookupError:
        return None
    return proxy if auth is None else proxy.with_user(auth.login).with_password(auth.password)


def _proxy(url: URL, proxies: Mapping[str, str] | None) -> URL | None:
    """Return the proxy with credentials: the setting's for ``url`` as requests picks it, else the env's."""
    keys = (f"{url.scheme}://{url.host}", url.scheme, f"all://{url.host}", "all")
    chosen = next((proxies[key] for key in keys if key in proxies), None) if proxies else None
    if chosen is not None:
        return URL(chosen)
    return _environment_proxy(
        url, frozenset((k, v) for k, v in os.environ.items() if k.lower().endswith("_proxy"))
    )


class AsyncOnlineSimClient(ClientBase):
    """Call the OnlineSIM Alternative API from asyncio, without blocking the event loop.

    Example::

        async with AsyncOnlineSimClient("my-key") as client:
            status = await client.get_status(activation_id)

    :param api_key: the OnlineSIM API key; sent with each request, never set on a shared pool.
    :param http_client: a shared ``aiohttp.ClientSession`` (see :func:`new_session`); the caller
        keeps ownership of it.
    :param options: the settings and ``retry``, as for :class:`~onlinesim_provider.api.base.ClientBase`.
    """

    def __init__(
        self,
        api_key: str,
        *,
        http_client: aiohttp.ClientSession | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(api_key, **options)
        self._owns_session = http_client is None
        self._session = http_client  # an own session is opened on first use, inside the loop
        self._proxy = _proxy(URL(self.url), self.proxies)  # aiohttp sends its credentials to the proxy
        self._request_headers = CIMultiDict(self._headers)
        connect, read = self.timeout
        # ``connect`` also bounds the wait for a free pooled connection: as long as a read may take.
        self._client_timeout = aiohttp.ClientTimeout(
            connect=max(connect, read), sock_connect=connect, sock_read=read
        )
        self._last_url: tuple[str, URL] | None = None  # a poll repeats one query: its URL is built once

    async def aclose(self) -> None:
        """Close the connection pool, unless it is a shared ``http_client``."""
        if self._owns_session:
            self._session = self._session or new_session()  # a client never used stays closed all the same
            await self._session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _send(self, call: Call[T]) -> T:
        return await acall_with_retry(lambda: self._attempt(call), call, self.retry)

    def _url(self, params: dict[str, str]) -> URL:
        query = urlencode(self._query(params))
        if self._last_url is None or self._last_url[0] != query:
            self._last_url = (query, URL(f"{self.url}?{query}", encoded=True))
        return self._last_url[1]

    async def _attempt(self, call: Call[T]) -> T:
        started = time.monotonic()
        error: OnlineSimError
        self._session = self._session or new_session()
        try:
            async with self._session.get(
                self._url(call.params),
                headers=self._request_headers,
                timeout=self._client_timeout,
                proxy=self._proxy,
                ssl=self._ssl,
                allow_redirects=False,
            ) as response:
                exchange = (response.status, await response.read(), response.headers)
        except (aiohttp.ClientError, OSError) as exc:  # OSError: timeouts too
            certificate = isinstance(exc, aiohttp.ClientConnectorCertificateError)
            error = self._network_error(
                call.action, exc, maybe_sent=not isinstance(exc, _UNSENT), certificate=certificate
            )
        else:
            return self._interpret(call, exchange, started)
        raise error  # outside the handler, so the key-bearing transport error is not chained
