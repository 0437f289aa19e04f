"""What the sync and the async client share: settings, auth, TLS, key scrubbing and reply reading.

:class:`ClientSettings` is the one validator of every client setting. :class:`ClientBase` turns an
HTTP exchange into a model or a typed error and a transport failure into a scrubbed one; the two
clients add only their transport.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
import logging
import os
import re
import ssl
import time
import warnings
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypedDict, TypeVar, Unpack
from urllib.parse import quote, quote_plus, urlsplit

import certifi
from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    DirectoryPath,
    Field,
    FilePath,
    PositiveFloat,
    ValidationError,
)

from onlinesim_provider import __version__
from onlinesim_provider.api.actions import Actions
from onlinesim_provider.api.errors import (
    CertificateVerifyError,
    InvalidInputError,
    NetworkError,
    OnlineSimError,
    invalid_input,
)
from onlinesim_provider.api.models import SetStatusCode, expect
from onlinesim_provider.api.protocol import DEFAULT_BASE_URL, HANDLER_PATH, status_error
from onlinesim_provider.api.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from onlinesim_provider.api.actions import Call

__all__ = ["CA_BUNDLE_VARIABLES", "ClientBase", "ClientSettings", "InsecureTransportWarning", "scrub"]

log = logging.getLogger("onlinesim_provider.api")

T = TypeVar("T")

_KEY_IN_TEXT = re.compile(r"(api_key=)[^&\s'\"]+|(Bearer\s+)[^\s'\"]+", re.IGNORECASE)
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)
#: Loggers that may write request URLs: urllib3 at DEBUG, aiohttp's client on warnings.
URL_LOGGERS = ("urllib3.connectionpool", "aiohttp.client")
#: Where a CA bundle is looked up when neither the caller nor the connection names one, in order.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


class InsecureTransportWarning(UserWarning):
    """The API key would travel unencrypted: plain ``http://`` to a host other than this machine."""


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _base_url(text: str) -> str:
    url = AnyHttpUrl(text)
    if url.username or url.password or url.query or url.fragment or url.port == 0:
        raise ValueError("credentials, query, fragment or port 0")
    path = url.path or ""
    return str(url).removesuffix(path) + path.rstrip("/").removesuffix(HANDLER_PATH)


def _timeout(value: Any) -> Any:
    if isinstance(value, str) and "," in value:  # a form field's "5,30" or "[5, 30]"
        value = value.strip().removeprefix("[").removesuffix("]").split(",")
    pair = tuple(value) if isinstance(value, list | tuple) else (value, value)
    return tuple(None if isinstance(seconds, bool) else seconds for seconds in pair)


def _proxies(value: Any) -> Any:
    if value == "":
        return None
    if isinstance(value, str) and "://" in value and not value.strip().startswith("{"):
        return {"http": value.strip(), "https": value.strip()}
    return json.loads(value) if isinstance(value, str) else value


def _number(value: Any) -> Any:
    """Return the int in ``value`` or its text (as a connection's extra holds it); refuse anything else."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value if type(value) is int else None


class ClientSettings(BaseModel):
    """The settings of a client: the one validator of each, for clients and connections alike.

    Accepts what a caller passes and what a connection's extra holds (``"8"``, ``"Header"``,
    ``"5,30"``, a proxy URL or JSON text, ``"false"``). Build it with :meth:`checked`.

    :param api_key: the OnlineSIM API key (printable ASCII, no spaces); never shown.
    :param base_url: ``http(s)://host[:port][/prefix]``; the handler path is appended.
    :param auth: ``"header"`` (Bearer, the default) or ``"query"`` (``api_key`` parameter).
    :param timeout: ``(connect, read)`` seconds per request.
    :param proxies: proxy URL per scheme, as ``requests`` takes them; the proxy environment
        variables (``HTTPS_PROXY``, ``NO_PROXY`` ...) for the schemes it does not name.
    :param verify: TLS verification: ``True``, ``False`` or a CA bundle file or directory; the
        CA variables (:data:`CA_BUNDLE_VARIABLES`) when omitted.
    :param cancel_status: the ``setStatus`` value that cancels: 6 (OnlineSIM) or 8 (SMS-Activate).
    :param rent_close_status: the ``setRentStatus`` value that closes a rent: 2 (OnlineSIM's close)
        or 1 (finish, on SMS-Activate-style servers, where 2 cancels).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: Annotated[
        str,
        Field(strict=True, pattern=r"^[!-~]+$", repr=False),
        expect("a non-empty string of printable ASCII characters without spaces"),
    ]
    base_url: Annotated[
        str,
        BeforeValidator(_stripped),
        AfterValidator(_base_url),
        expect("an http:// or https:// URL with a host, without credentials, query or fragment"),
    ] = DEFAULT_BASE_URL
    auth: Annotated[
        Literal["header", "query"],
        BeforeValidator(lambda value: _stripped(value).lower() if isinstance(value, str) else value),
        expect("'header' or 'query'"),
    ] = "header"
    timeout: Annotated[
        tuple[PositiveFloat, PositiveFloat],
        BeforeValidator(_timeout),
        expect("seconds > 0 or a (connect, read) pair of them"),
    ] = (5.0, 30.0)
    proxies: Annotated[
        Annotated[dict[str, Annotated[str, Field(strict=True)]], Field(min_length=1)] | None,
        BeforeValidator(_proxies),
        expect('a proxy URL or map schemes to proxy URLs, e.g. {"https": "http://proxy:3128"}'),
    ] = None
    verify: Annotated[
        bool | FilePath | DirectoryPath | None,
        BeforeValidator(lambda value: None if value == "" else _stripped(value)),
        expect("true, false or the path of a CA bundle file or directory"),
    ] = None
    cancel_status: Annotated[
        Literal[6, 8], BeforeValidator(_number), expect("6 (OnlineSIM) or 8 (SMS-Activate)")
    ] = 6
    rent_close_status: Annotated[
        Literal[2, 1], BeforeValidator(_number), expect("2 (OnlineSIM: close) or 1 (SMS-Activate: finish)")
    ] = 2

    @classmethod
    def checked(cls, settings: Mapping[str, Any]) -> ClientSettings:
        """Return the settings, or raise the error naming the first bad one (never showing the key).

        :param settings: ``api_key`` and any of the other settings, by name.
        :raises InvalidInputError: naming the setting, its value and what was expected.
        """
        try:
            return cls.model_validate(settings)
        except ValidationError as error:
            problem = invalid_input(error)
        key = settings.get("api_key")
        raise InvalidInputError(scrub(problem.message, key if isinstance(key, str) else None))


def key_forms(api_key: str) -> frozenset[str]:
    """Return the forms an API key takes in text: as is, URL-encoded (path or form style) and base64.

    :param api_key: the key.
    """
    encoded = {quote(api_key, safe=""), quote(api_key), quote_plus(api_key)}
    lowered = {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), form) for form in encoded}
    raw = api_key.encode()
    b64 = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    return frozenset({api_key, *encoded, *lowered, *b64})


def scrub(text: str, api_key: str | None) -> str:
    """Return ``text`` with the API key (in each of its forms), ``api_key=...`` and Bearer credentials masked.

    :param text: any text that might carry the key, such as a transport error message.
    :param api_key: the key; only the ``api_key=`` and Bearer forms are masked when ``None``.
    """
    if api_key:
        forms = sorted(key_forms(api_key), key=len)
        text = re.sub("|".join(map(re.escape, reversed(forms))), "***", text, flags=re.IGNORECASE)
    return _KEY_IN_TEXT.sub(lambda m: (m.group(1) or m.group(2)) + "***", text)


def _redact_query_key(record: logging.LogRecord) -> bool:
    """Mask ``api_key=...`` in records of HTTP libraries that log request URLs (query auth)."""
    message = record.getMessage()
    if "api_key=" in message.lower():
        record.msg, record.args = scrub(message, None), ()
    return True


def ca_bundle(verify: bool | Path | None) -> bool | str:
    """Return what to verify the server's certificate against: ``False``, a bundle, or ``True`` (certifi's).

    requests reads ``REQUESTS_CA_BUNDLE`` but not ``SSL_CERT_FILE``, aiohttp (through OpenSSL) the
    other way round and not certifi's bundle: both clients verify against this instead.

    :param verify: the ``verify`` setting; when ``None``, the first CA variable that is set.
    :raises InvalidInputError: a CA variable names a file that does not exist.
    """
    if verify is not None:
        return verify if isinstance(verify, bool) else str(verify)
    for name in CA_BUNDLE_VARIABLES:
        if path := os.environ.get(name):
            if not os.path.exists(path):
                raise InvalidInputError(f"{name} names a CA bundle that does not exist: {path!r}")
            return path
    return True


@functools.lru_cache(maxsize=16)
def ssl_context(verify: bool | str) -> ssl.SSLContext | bool:
    """Return aiohttp's ``ssl`` argument: ``False``, or a verifying context built once per bundle.

    :param verify: what :func:`ca_bundle` returned.
    :raises InvalidInputError: the bundle cannot be loaded.
    """
    if verify is False:
        return False
    bundle = certifi.where() if verify is True else verify
    try:
        if os.path.isdir(bundle):
            return ssl.create_default_context(capath=bundle)
        return ssl.create_default_context(cafile=bundle)
    except (ssl.SSLError, OSError) as error:
        raise InvalidInputError(f"the CA bundle {bundle!r} could not be loaded: {error}") from None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")


class ClientOptions(TypedDict, total=False):
    """The keyword arguments of both clients: the settings (:class:`ClientSettings`) and ``retry``."""

    base_url: str
    auth: Literal["header", "query"]
    timeout: float | tuple[float, float]
    proxies: Mapping[str, str] | None
    verify: bool | str | None
    cancel_status: int
    rent_close_status: int
    retry: RetryPolicy | None


class ClientBase(Actions):
    """Settings and reply handling shared by :class:`OnlineSimClient` and its async twin.

    :param api_key: the OnlineSIM API key; never shown.
    :param options: the settings (see :class:`ClientSettings`) and ``retry``: attempts, backoff
        and time budget (:class:`RetryPolicy` defaults when omitted).
    :raises InvalidInputError: a setting is invalid.
    """

    def __init__(self, api_key: str, **options: Unpack[ClientOptions]) -> None:
        retry = options.pop("retry", None)
        self.settings = settings = ClientSettings.checked({"api_key": api_key, **options})
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InvalidInputError(f"retry must be a RetryPolicy or None, got {type(retry).__name__}")
        self.retry = retry or RetryPolicy()
        self.base_url = settings.base_url
        self.url = self.base_url + HANDLER_PATH
        self.auth = settings.auth
        self.timeout = settings.timeout
        self.proxies = settings.proxies
        self.cancel_status = SetStatusCode(settings.cancel_status)
        self.rent_close_status = settings.rent_close_status
        #: What the server's certificate is verified against, the same for both clients.
        self.verify = ca_bundle(settings.verify)
        self._ssl = ssl_context(self.verify)  # a bundle that cannot be loaded fails here, for both
        parts = urlsplit(self.base_url)
        if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
            message = (
                f"The OnlineSIM API key will be sent unencrypted: base_url {self.base_url} is plain "
                "http:// to another machine, so anyone on the way can read the key. "
                f"Use https://{self.base_url.removeprefix('http://')} if the server offers it."
            )
            log.warning("%s", message)
            warnings.warn(message, InsecureTransportWarning, stacklevel=3)
        if self.auth == "query":
            for name in URL_LOGGERS:
                if _redact_query_key not in logging.getLogger(name).filters:
                    logging.getLogger(name).addFilter(_redact_query_key)
        self._headers = {"User-Agent": f"airflow-provider-onlinesim/{__version__}", "Accept": "*/*"}
        if self.auth == "header":
            self._headers["Authorization"] = f"Bearer {settings.api_key}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, auth={self.auth!r}, "
            f"cancel_status={int(self.cancel_status)})"
        )

    def scrub(self, text: str) -> str:
        """Return ``text`` with the API key, ``api_key=...`` and Bearer credentials masked.

        :param text: any text that might carry the key, such as a transport error message.
        """
        return scrub(text, self.settings.api_key)

    def _query(self, params: dict[str, str]) -> dict[str, str]:
        return {**params, "api_key": self.settings.api_key} if self.auth == "query" else params

    def _interpret(self, call: Call[T], response: tuple[int, bytes, Mapping[str, str]], started: float) -> T:
        """Turn an HTTP exchange (status, body, headers) into a model, or raise its typed error, scrubbed."""
        status_code, content, headers = response
        elapsed_ms = (time.monotonic() - started) * 1000
        shown = {k: v for k, v in call.params.items() if k != "action"}
        log.debug("OnlineSIM %s %s -> HTTP %d in %.0f ms", call.action, shown, status_code, elapsed_ms)
        charset = _CHARSET.search(headers.get("content-type") or "")
        try:
            body = content.decode(charset.group(1) if charset else "utf-8", errors="replace")
        except LookupError:
            body = content.decode("utf-8", errors="replace")
        try:
            error = status_error(status_code, body, headers.get("retry-after"), headers.get("location"))
            if error is not None:
                raise error
            return call.parse(body, status_code)
        except OnlineSimError as error:
            error.message, error.body = self.scrub(error.message), self.scrub(error.body)
            error.args = (error.message,)
            raise

    def _network_error(
        self, action: str, error: Exception, *, maybe_sent: bool, certificate: bool
    ) -> OnlineSimError:
        """Return the scrubbed error for a transport failure that ``maybe_sent`` the request."""
        detail = self.scrub(str(error))[:300]
        if certificate:
            return CertificateVerifyError(
                f"{action}: TLS certificate refused, nothing was sent ({detail}). Give the connection's "
                "verify extra the CA bundle that signed the server's certificate"
            )
        what = (
            "the request may have reached the server" if maybe_sent else "could not connect; nothing was sent"
        )
        return NetworkError(f"{action}: {what} ({type(error).__name__}: {detail})", maybe_sent=maybe_sent)
