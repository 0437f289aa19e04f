"""The synchronous OnlineSIM client: one keep-alive ``requests.Session``, typed replies.

Example::

    from onlinesim_provider.api.client import OnlineSimClient

    with OnlineSimClient("my-key") as client:
        activation = client.get_number("tg", country="7")
        client.complete_activation(activation.id)
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from onlinesim_provider.api.base import ClientBase, ClientSettings
from onlinesim_provider.api.protocol import DEFAULT_BASE_URL
from onlinesim_provider.api.retry import call_with_retry

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType
    from typing import Literal, Self

    from onlinesim_provider.api.actions import Call
    from onlinesim_provider.api.errors import OnlineSimError
    from onlinesim_provider.api.retry import RetryPolicy

__all__ = ["OnlineSimClient"]

T = TypeVar("T")

#: Keep-alive sockets kept per host: enough for a few threads sharing one client.
POOL_SIZE = 10


def _maybe_sent(error: requests.RequestException) -> bool:
    """Return False only when ``error`` proves the request never reached the server."""
    if isinstance(
        error, requests.ConnectTimeout | requests.exceptions.ProxyError | requests.exceptions.SSLError
    ):
        return False
    if isinstance(error, requests.ConnectionError):
        reason = getattr(error.args[0], "reason", None) if error.args else None
        return not isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return True


class OnlineSimClient(ClientBase):
    """Call the OnlineSIM Alternative API over one keep-alive HTTP session.

    Reads are retried on transient failures; paid orders only when they surely were not sent
    (see :mod:`onlinesim_provider.api.retry`). Everything raised is an
    :class:`~onlinesim_provider.api.errors.OnlineSimError`, and none of it shows the key.

    :param api_key: the OnlineSIM API key.
    :param base_url: the server, ``https://api-conserver.onlinesim.io`` by default.
    :param auth: ``"header"`` (Bearer, the default) or ``"query"`` (``api_key`` parameter).
    :param timeout: seconds, or ``(connect, read)`` seconds, per request.
    :param proxies: proxy URL per scheme; the proxy environment variables for the others.
    :param verify: ``True``, ``False`` or a CA bundle path; the CA variables when omitted.
    :param cancel_status: the ``setStatus`` value that cancels: 6 (OnlineSIM) or 8 (SMS-Activate).
    :param rent_close_status: the ``setRentStatus`` value that closes a rent: 2 (OnlineSIM) or 1.
    :param retry: attempts, backoff and time budget; :class:`RetryPolicy` defaults when omitted.
    :param session: a session to use instead of a new one; the caller keeps ownership of it.
    :raises InvalidInputError: a setting is invalid (:class:`~onlinesim_provider.api.base.ClientSettings`).
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        auth: Literal["header", "query"] = "header",
        timeout: float | tuple[float, float] = (5.0, 30.0),
        proxies: Mapping[str, str] | None = None,
        verify: bool | str | None = None,
        cancel_status: int = 6,
        rent_close_status: int = 2,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        settings: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "auth": auth,
            "timeout": timeout,
        }
        settings |= {"proxies": proxies, "verify": verify}
        settings |= {"cancel_status": cancel_status, "rent_close_status": rent_close_status}
        super().__init__(ClientSettings.checked(settings), retry)
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
        """Send one call of an action through the retry policy and parse its reply."""
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
