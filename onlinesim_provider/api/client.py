"""The synchronous OnlineSIM client: one keep-alive ``requests.Session``, typed replies."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from onlinesim_provider.api.base import ClientBase
from onlinesim_provider.api.retry import call_with_retry

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self, Unpack

    from onlinesim_provider.api.actions import Call
    from onlinesim_provider.api.base import ClientOptions
    from onlinesim_provider.api.errors import OnlineSimError

__all__ = ["OnlineSimClient"]

T = TypeVar("T")

#: Keep-alive sockets kept per host: enough for a few threads sharing one client.
POOL_SIZE = 10
#: Failures that prove the request never reached the server (a refused connection is checked apart).
_UNSENT = (requests.ConnectTimeout, requests.exceptions.ProxyError, requests.exceptions.SSLError)


def _maybe_sent(error: requests.RequestException) -> bool:
    if isinstance(error, _UNSENT):
        return False
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return not isinstance(error, requests.ConnectionError) or not isinstance(
        reason, NewConnectionError | ConnectTimeoutError
    )


class OnlineSimClient(ClientBase):
    """Call the OnlineSIM Alternative API over one keep-alive HTTP session.

    Example::

        with OnlineSimClient("my-key") as client:
            activation = client.get_number("tg", country="7")
            client.complete_activation(activation.id)

    Reads are retried on transient failures; paid orders only when they surely were not sent
    (see :mod:`onlinesim_provider.api.retry`). Everything raised is an
    :class:`~onlinesim_provider.api.errors.OnlineSimError`, and none of it shows the key.

    :param api_key: the OnlineSIM API key.
    :param session: a ``requests.Session`` to use instead of a new one; the caller keeps ownership.
    :param options: the settings and ``retry``, as for :class:`~onlinesim_provider.api.base.ClientBase`.
    """

    def __init__(
        self, api_key: str, *, session: requests.Session | None = None, **options: Unpack[ClientOptions]
    ) -> None:
        super().__init__(api_key, **options)
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self._session = session

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

    def _send(self, call: Call[T]) -> T:
        return call_with_retry(lambda: self._attempt(call), call, self.retry)

    def _attempt(self, call: Call[T]) -> T:
        started = time.monotonic()
        error: OnlineSimError
        try:
            response = self._session.get(
                self.url,
                params=self._query(call.params),
                headers=self._headers,
                timeout=self.timeout,
                proxies=None if self.proxies is None else dict(self.proxies),  # requests adds to it
                verify=self.verify,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            certificate = isinstance(exc, requests.exceptions.SSLError)
            error = self._network_error(
                call.action, exc, maybe_sent=_maybe_sent(exc), certificate=certificate
            )
        else:
            with response:
                return self._interpret(
                    call, (response.status_code, response.content, response.headers), started
                )
        raise error  # outside the handler, so the key-bearing transport error is not chained
