"""What the sync and the async client share: settings, auth, redaction and reply interpretation.

:class:`ClientBase` validates the constructor arguments, knows where and how to authenticate,
turns a finished HTTP exchange into a model or a typed error, and builds the scrubbed
:class:`NetworkError` for a transport failure. The two clients add only their transport.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
import warnings
from typing import TYPE_CHECKING, Literal, TypeVar
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

from onlinesim_provider import __version__
from onlinesim_provider.api import protocol
from onlinesim_provider.api.errors import InvalidInputError, NetworkError, OnlineSimError
from onlinesim_provider.api.models import SetStatusCode
from onlinesim_provider.api.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "AuthStyle",
    "ClientBase",
    "InsecureTransportWarning",
    "Timeout",
]

log = logging.getLogger("onlinesim_provider.api")

T = TypeVar("T")
AuthStyle = Literal["header", "query"]
Timeout = float | tuple[float, float]

_KEY_CHARS = re.compile(r"[!-~]+")
_KEY_IN_TEXT = re.compile(r"(api_key=)[^&\s'\"]+|(Bearer\s+)[^\s'\"]+", re.IGNORECASE)
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)
_MESSAGE_LIMIT = 300


class InsecureTransportWarning(UserWarning):
    """The API key would travel unencrypted: plain ``http://`` to a host other than this machine."""


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _warn_if_insecure(base_url: str) -> None:
    """Warn (log and ``warnings``) when the key would be sent over plain http to another machine."""
    parts = urlsplit(base_url)
    if parts.scheme != "http" or _is_loopback(parts.hostname or ""):
        return
    https = urlunsplit(("https", parts.netloc, parts.path, "", ""))
    message = (
        f"The OnlineSIM API key will be sent unencrypted: base_url {base_url} is plain http:// to "
        f"another machine, so anyone on the way can read the key. Use {https} if the server offers it."
    )
    log.warning("%s", message)
    warnings.warn(message, InsecureTransportWarning, stacklevel=4)


def _mask_credentials(text: str) -> str:
    return _KEY_IN_TEXT.sub(lambda m: (m.group(1) or m.group(2)) + "***", text)


class _RedactQueryKey(logging.Filter):
    """Mask ``api_key=...`` in records of HTTP libraries that log request URLs (query auth)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "api_key=" in message.lower():
            record.msg, record.args = _mask_credentials(message), ()
        return True


_REDACT_QUERY_KEY = _RedactQueryKey()
#: Loggers that write request URLs: urllib3 at DEBUG, httpx at INFO.
URL_LOGGERS = ("urllib3.connectionpool", "httpx")


def _guard_url_loggers() -> None:
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACT_QUERY_KEY not in logger.filters:
            logger.addFilter(_REDACT_QUERY_KEY)


def _positive_seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return None
    return float(value)


def _timeout(value: object) -> tuple[float, float]:
    pair = value if isinstance(value, tuple | list) and len(value) == 2 else (value, value)
    connect, read = (_positive_seconds(item) for item in pair)
    if connect is None or read is None:
        raise InvalidInputError(
            f"timeout must be seconds > 0 or a (connect, read) pair of them, got {value!r}"
        )
    return connect, read


def _decode(content: bytes, content_type: str | None) -> str:
    match = _CHARSET.search(content_type or "")
    try:
        return content.decode(match.group(1) if match else "utf-8", errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


class ClientBase:
    """Settings and reply handling shared by :class:`OnlineSimClient` and its async twin.

    :param api_key: the OnlineSIM API key.
    :param base_url: ``http(s)://host[:port][/prefix]``; the handler path is appended.
    :param auth: ``"header"`` (Bearer, the default) or ``"query"`` (``api_key`` parameter).
    :param timeout: seconds, or ``(connect, read)`` seconds, per request.
    :param proxies: proxy URL per scheme, e.g. ``{"https": "http://proxy:3128"}``.
    :param cancel_status: the ``setStatus`` value that cancels: 6 (OnlineSIM) or 8 (SMS-Activate).
    :param retry: attempts, backoff and time budget; :class:`RetryPolicy` defaults when omitted.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str,
        auth: AuthStyle,
        timeout: Timeout,
        proxies: Mapping[str, str] | None,
        cancel_status: int,
        retry: RetryPolicy | None,
    ) -> None:
        if not isinstance(api_key, str) or not _KEY_CHARS.fullmatch(api_key):
            raise InvalidInputError(
                "api_key must be a non-empty string of printable ASCII characters without spaces "
                f"(got a {type(api_key).__name__}; its value is not shown)"
            )
        self._api_key = api_key
        forms = sorted({api_key, quote(api_key, safe=""), quote(api_key), quote_plus(api_key)}, key=len)
        self._secret = re.compile("|".join(re.escape(form) for form in reversed(forms)), re.IGNORECASE)
        self.base_url = self._base_url(base_url)
        self.url = self.base_url + protocol.HANDLER_PATH
        _warn_if_insecure(self.base_url)
        if auth not in ("header", "query"):
            raise InvalidInputError(f"auth must be 'header' or 'query', got {auth!r}")
        self.auth: AuthStyle = auth
        if auth == "query":
            _guard_url_loggers()
        self.timeout = _timeout(timeout)
        self.proxies = self._proxies(proxies)
        if isinstance(cancel_status, bool) or cancel_status not in (
            SetStatusCode.CLOSE,
            SetStatusCode.CANCEL,
        ):
            raise InvalidInputError(
                f"cancel_status must be 6 (OnlineSIM) or 8 (SMS-Activate), got {cancel_status!r}"
            )
        self.cancel_status = SetStatusCode(cancel_status)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InvalidInputError(f"retry must be a RetryPolicy or None, got {type(retry).__name__}")
        self.retry = retry or RetryPolicy()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, auth={self.auth!r}, "
            f"cancel_status={int(self.cancel_status)})"
        )

    def _base_url(self, value: object) -> str:
        expected = "an http:// or https:// URL with a host, without credentials, query or fragment"
        parts = urlsplit(value.strip()) if isinstance(value, str) else None
        try:
            valid = bool(parts and parts.scheme in ("http", "https") and parts.hostname and parts.port != 0)
        except ValueError:  # a port that is not a number
            valid = False
        if not parts or not valid or parts.username or parts.password or parts.query or parts.fragment:
            raise InvalidInputError(f"base_url must be {expected}, got {self.scrub(repr(value))}")
        path = parts.path.rstrip("/").removesuffix(protocol.HANDLER_PATH)
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))

    @staticmethod
    def _proxies(value: object) -> dict[str, str] | None:
        if value is None:
            return None
        items = value.items() if hasattr(value, "items") else None
        proxies = dict(items) if items is not None else None
        if not proxies or not all(isinstance(k, str) and isinstance(v, str) for k, v in proxies.items()):
            raise InvalidInputError(
                'proxies must map schemes to proxy URLs, e.g. {"https": "http://proxy:3128"}, '
                f"got a {type(value).__name__}"
            )
        return proxies

    def scrub(self, text: str) -> str:
        """Return ``text`` with the API key, ``api_key=...`` and Bearer credentials masked.

        :param text: any text that might carry the key, such as a transport error message.
        """
        return _mask_credentials(self._secret.sub("***", text))

    def _query(self, params: protocol.Params) -> protocol.Params:
        return {**params, "api_key": self._api_key} if self.auth == "query" else params

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": f"airflow-provider-onlinesim/{__version__}", "Accept": "*/*"}
        if self.auth == "header":
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _interpret(
        self,
        params: protocol.Params,
        parse: Callable[[str, int], T],
        response: tuple[int, bytes, Mapping[str, str]],
        started: float,
    ) -> T:
        """Turn one HTTP exchange into a model, or raise its typed error with the key scrubbed.

        :param params: the query sent (without the key).
        :param parse: the action's parser from :mod:`protocol`.
        :param response: HTTP status, body bytes and headers (case-insensitive mapping).
        :param started: ``time.monotonic()`` when the request started.
        """
        status_code, content, headers = response
        elapsed_ms = (time.monotonic() - started) * 1000
        shown = {k: v for k, v in params.items() if k != "action"}
        log.debug("OnlineSIM %s %s -> HTTP %d in %.0f ms", params["action"], shown, status_code, elapsed_ms)
        body = _decode(content, headers.get("content-type"))
        try:
            by_status = protocol.status_error(
                status_code, body, headers.get("retry-after"), headers.get("location")
            )
            if by_status is not None:
                raise by_status
            return parse(body, status_code)
        except OnlineSimError as error:
            error.message, error.body = self.scrub(error.message), self.scrub(error.body)
            error.args = (error.message,)
            raise

    def _network_error(self, action: str, error: Exception, *, maybe_sent: bool) -> NetworkError:
        """Return the scrubbed NetworkError for a transport failure of ``action``.

        :param action: the API action.
        :param error: the transport library's exception (its text may hold the URL and the key).
        :param maybe_sent: False only when the request surely never reached the server.
        """
        what = (
            "the request may have reached the server" if maybe_sent else "could not connect; nothing was sent"
        )
        detail = self.scrub(str(error))[:_MESSAGE_LIMIT]
        return NetworkError(f"{action}: {what} ({type(error).__name__}: {detail})", maybe_sent=maybe_sent)
