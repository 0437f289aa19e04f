"""What the sync and the async client share: settings, auth, redaction and reply interpretation.

:class:`ClientBase` validates the constructor arguments, knows where and how to authenticate,
turns a finished HTTP exchange into a model or a typed error, and builds the scrubbed
:class:`NetworkError` for a transport failure. The two clients add only their transport.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import ssl
import time
import warnings
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

from onlinesim_provider import __version__
from onlinesim_provider.api import protocol
from onlinesim_provider.api.errors import (
    CertificateVerifyError,
    InvalidInputError,
    NetworkError,
    OnlineSimError,
)
from onlinesim_provider.api.models import SetStatusCode
from onlinesim_provider.api.network import (
    NetworkSettings,
    Timeout,
    Verify,
    parse_proxies,
    parse_timeout,
    parse_verify,
)
from onlinesim_provider.api.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "AuthStyle",
    "ClientBase",
    "InsecureTransportWarning",
    "Timeout",
    "Verify",
    "check_settings",
]

log = logging.getLogger("onlinesim_provider.api")

T = TypeVar("T")
AuthStyle = Literal["header", "query"]

_KEY_CHARS = re.compile(r"[!-~]+")
_KEY_IN_TEXT = re.compile(r"(api_key=)[^&\s'\"]+|(Bearer\s+)[^\s'\"]+", re.IGNORECASE)
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)
_MESSAGE_LIMIT = 300


class InsecureTransportWarning(UserWarning):
    """The API key would travel unencrypted: plain ``http://`` to a host other than this machine."""


@functools.lru_cache(maxsize=64)
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
#: Loggers that may write request URLs: urllib3 at DEBUG, aiohttp's client on warnings.
URL_LOGGERS = ("urllib3.connectionpool", "aiohttp.client")


def _guard_url_loggers() -> None:
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACT_QUERY_KEY not in logger.filters:
            logger.addFilter(_REDACT_QUERY_KEY)


def _decode(content: bytes, content_type: str | None) -> str:
    match = _CHARSET.search(content_type or "")
    try:
        return content.decode(match.group(1) if match else "utf-8", errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


def _key_pattern(api_key: str) -> re.Pattern[str]:
    forms = sorted({api_key, quote(api_key, safe=""), quote(api_key), quote_plus(api_key)}, key=len)
    return re.compile("|".join(re.escape(form) for form in reversed(forms)), re.IGNORECASE)


def _check_api_key(value: object) -> str:
    if not isinstance(value, str) or not _KEY_CHARS.fullmatch(value):
        shown = "no API key" if not value else f"a {type(value).__name__}; its value is not shown"
        raise InvalidInputError(
            f"api_key must be a non-empty string of printable ASCII characters without spaces (got {shown})"
        )
    return value


def _check_base_url(value: object, scrub: Callable[[str], str]) -> str:
    expected = "an http:// or https:// URL with a host, without credentials, query or fragment"
    parts = urlsplit(value.strip()) if isinstance(value, str) else None
    try:
        valid = bool(parts and parts.scheme in ("http", "https") and parts.hostname and parts.port != 0)
    except ValueError:  # a port that is not a number
        valid = False
    if not parts or not valid or parts.username or parts.password or parts.query or parts.fragment:
        raise InvalidInputError(f"base_url must be {expected}, got {scrub(repr(value))}")
    path = parts.path.rstrip("/").removesuffix(protocol.HANDLER_PATH)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _check_auth(value: object) -> AuthStyle:
    text = value.strip().lower() if isinstance(value, str) else value
    if text == "header" or text == "query":
        return text
    raise InvalidInputError(f"auth must be 'header' or 'query', got {value!r}")


def _code(name: str, value: object, codes: Mapping[int, str]) -> int:
    """Return the status code in ``value`` (a number or its text, as a connection's extra holds it)."""
    key = value.strip() if isinstance(value, str) else value
    if not isinstance(value, bool) and isinstance(key, int | str) and str(key) in map(str, codes):
        return int(key)
    expected = " or ".join(f"{code} ({meaning})" for code, meaning in codes.items())
    raise InvalidInputError(f"{name} must be {expected}, got {value!r}")


def _check_cancel_status(value: object) -> SetStatusCode:
    return SetStatusCode(_code("cancel_status", value, {6: "OnlineSIM", 8: "SMS-Activate"}))


def _check_rent_close_status(value: object) -> int:
    return _code("rent_close_status", value, {2: "OnlineSIM: close", 1: "SMS-Activate: finish"})


#: Each client setting and its check; a check returns the setting in its normal form.
_CHECKS: dict[str, Callable[[Any], Any]] = {
    "auth": _check_auth,
    "timeout": parse_timeout,
    "proxies": parse_proxies,
    "verify": parse_verify,
    "cancel_status": _check_cancel_status,
    "rent_close_status": _check_rent_close_status,
}


def check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Return client settings checked and in normal form: the one validator of every setting.

    Accepts what a caller passes and what a connection's extra holds (``"7"``, ``"Header"``, a
    proxy URL or JSON text, ``"false"``), so clients and connections are checked alike.

    :param settings: ``api_key`` and ``base_url``, and any of ``auth``, ``timeout``, ``proxies``,
        ``verify``, ``cancel_status`` and ``rent_close_status``; other keys pass through unchecked.
    :raises InvalidInputError: naming the setting and the bad value (never the key).
    """
    checked = dict(settings)
    api_key = checked["api_key"] = _check_api_key(settings.get("api_key"))
    checked["base_url"] = _check_base_url(
        settings.get("base_url"), lambda text: _mask_credentials(_key_pattern(api_key).sub("***", text))
    )
    for name, check in _CHECKS.items():
        if name in checked:
            checked[name] = check(checked[name])
    return checked


class ClientBase:
    """Settings and reply handling shared by :class:`OnlineSimClient` and its async twin.

    :param api_key: the OnlineSIM API key.
    :param base_url: ``http(s)://host[:port][/prefix]``; the handler path is appended.
    :param auth: ``"header"`` (Bearer, the default) or ``"query"`` (``api_key`` parameter).
    :param timeout: seconds, or ``(connect, read)`` seconds, per request.
    :param proxies: proxy URL per scheme, e.g. ``{"https": "http://proxy:3128"}``; when omitted,
        the ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` environment variables decide.
    :param verify: TLS verification: ``True``, ``False`` or a CA bundle path; when omitted,
        ``REQUESTS_CA_BUNDLE`` or ``SSL_CERT_FILE``, else the default trust store (certifi).
    :param cancel_status: the ``setStatus`` value that cancels: 6 (OnlineSIM) or 8 (SMS-Activate).
    :param rent_close_status: the ``setRentStatus`` value that closes a rent: 2 (OnlineSIM's
        close) or 1 (finish, on SMS-Activate-style servers, where 2 cancels and is refused once
        a message arrived).
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
        verify: Verify | None,
        cancel_status: int,
        retry: RetryPolicy | None,
        rent_close_status: int = 2,
    ) -> None:
        settings = check_settings(
            {
                "api_key": api_key,
                "base_url": base_url,
                "auth": auth,
                "timeout": timeout,
                "proxies": proxies,
                "verify": verify,
                "cancel_status": cancel_status,
                "rent_close_status": rent_close_status,
            }
        )
        self._api_key = settings["api_key"]
        self._secret = _key_pattern(self._api_key)
        self.base_url: str = settings["base_url"]
        self.url = self.base_url + protocol.HANDLER_PATH
        _warn_if_insecure(self.base_url)
        self.auth: AuthStyle = settings["auth"]
        if self.auth == "query":
            _guard_url_loggers()
        self.proxies: dict[str, str] | None = settings["proxies"]
        #: Timeouts, the proxy and TLS verification, resolved once for :attr:`url`.
        self.network = NetworkSettings.resolve(
            self.url, timeout=settings["timeout"], proxies=self.proxies, verify=settings["verify"]
        )
        self.timeout = self.network.timeout
        self.cancel_status: SetStatusCode = settings["cancel_status"]
        self.rent_close_status: int = settings["rent_close_status"]
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InvalidInputError(f"retry must be a RetryPolicy or None, got {type(retry).__name__}")
        self.retry = retry or RetryPolicy()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, auth={self.auth!r}, "
            f"cancel_status={int(self.cancel_status)})"
        )

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

    def _network_error(
        self, action: str, error: Exception, *, maybe_sent: bool
    ) -> NetworkError | CertificateVerifyError:
        """Return the scrubbed error for a transport failure of ``action``.

        A refused certificate becomes a :class:`CertificateVerifyError` that names the reason (not
        retried: it will not go away by itself); every other failure a :class:`NetworkError`.

        :param action: the API action.
        :param error: the transport library's exception (its text may hold the URL and the key).
        :param maybe_sent: False only when the request surely never reached the server.
        """
        reason = _certificate_refusal(error)
        if reason is not None:
            reason = self.scrub(reason).rstrip(".")
            return CertificateVerifyError(
                f"{action}: TLS certificate verify failed: {reason}; nothing was sent. Give the "
                "connection's verify extra the CA bundle that signed the server's certificate"
            )
        what = (
            "the request may have reached the server" if maybe_sent else "could not connect; nothing was sent"
        )
        detail = self.scrub(str(error))[:_MESSAGE_LIMIT]
        return NetworkError(f"{action}: {what} ({type(error).__name__}: {detail})", maybe_sent=maybe_sent)


def _certificate_refusal(error: BaseException) -> str | None:
    """Return why the server's certificate was refused, if that is what ``error`` comes down to.

    The libraries wrap OpenSSL's error differently (requests: ``args[0].reason.args[0]``; aiohttp:
    an error that is itself a certificate error and holds OpenSSL's as ``certificate_error``), so
    causes, reasons and arguments are searched a few levels deep for its ``verify_message``.
    """
    queue: list[object] = [error]
    refused: ssl.SSLCertVerificationError | None = None
    for _ in range(16):
        if not queue:
            break
        found = queue.pop(0)
        if isinstance(found, ssl.SSLCertVerificationError):
            if getattr(found, "verify_message", None):
                return str(found.verify_message)
            refused = refused or found
        if isinstance(found, BaseException):
            queue.extend((found.__cause__, getattr(found, "reason", None)))
            queue.append(getattr(found, "certificate_error", None))
            queue.extend(arg for arg in found.args if isinstance(arg, BaseException))
    return None if refused is None else str(refused)
