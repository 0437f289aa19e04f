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

from onlinesim_provider.api import actions, protocol
from onlinesim_provider.api.actions import sync_method
from onlinesim_provider.api.base import AuthStyle, ClientBase
from onlinesim_provider.api.retry import call_with_retry

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import TracebackType
    from typing import Self

    from onlinesim_provider.api.actions import Call
    from onlinesim_provider.api.errors import OnlineSimError
    from onlinesim_provider.api.network import Timeout, Verify
    from onlinesim_provider.api.retry import RetryPolicy

__all__ = ["OnlineSimClient"]

T = TypeVar("T")

#: Keep-alive sockets kept per host: enough for a few threads sharing one client.
POOL_SIZE = 10


def _maybe_sent(error: requests.RequestException) -> bool:
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
    :param rent_close_status: the ``setRentStatus`` value that closes a rent: 2 (OnlineSIM) or 1
        (finish, on SMS-Activate-style servers).
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
        rent_close_status: int = 2,
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
            rent_close_status=rent_close_status,
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

    def _send(self, call: Call[T]) -> T:
        """Send one call of an action through the retry policy and parse its reply."""
        return call_with_retry(lambda: self._attempt(call.params, call.parse), call, self.retry)

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
            error = self._network_error(params["action"], exc, maybe_sent=_maybe_sent(exc))
        else:
            with response:
                return self._interpret(
                    params, parse, (response.status_code, response.content, response.headers), started
                )
        raise error  # outside the handler, so the key-bearing transport error is not chained

    # --- the actions and intent helpers, defined once in actions.py -----------------------------

    get_balance = sync_method(actions.get_balance)
    get_countries = sync_method(actions.get_countries)
    get_numbers_status = sync_method(actions.get_numbers_status)
    get_number = sync_method(actions.get_number)
    get_status = sync_method(actions.get_status)
    get_full_sms = sync_method(actions.get_full_sms)
    set_status = sync_method(actions.set_status)
    mark_ready = sync_method(actions.mark_ready)
    request_another_code = sync_method(actions.request_another_code)
    complete_activation = sync_method(actions.complete_activation)
    cancel_activation = sync_method(actions.cancel_activation)
    get_rent_services_and_countries = sync_method(actions.get_rent_services_and_countries)
    get_rent_number = sync_method(actions.get_rent_number)
    get_rent_list = sync_method(actions.get_rent_list)
    get_rent_status = sync_method(actions.get_rent_status)
    set_rent_status = sync_method(actions.set_rent_status)
    close_rent = sync_method(actions.close_rent)
