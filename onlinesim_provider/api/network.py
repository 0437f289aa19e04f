"""How both clients reach the server: timeouts, proxies and TLS verification, decided in one place.

:func:`parse_timeout`, :func:`parse_proxies` and :func:`parse_verify` check what a caller or a
connection gives (Python values or the text of a connection's extra). :class:`NetworkSettings`
then resolves them for one server URL, falling back to the standard environment variables:
``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY`` for proxies, ``REQUESTS_CA_BUNDLE``
then ``SSL_CERT_FILE`` for the CA bundle. The sync client (requests) and the async client
(aiohttp) are both handed the resolved values and consult the environment no further, so poke
and deferrable waits reach the server the same way.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import ssl
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

import certifi

from onlinesim_provider.api.errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "CA_BUNDLE_VARIABLES",
    "NetworkSettings",
    "Timeout",
    "Verify",
    "parse_proxies",
    "parse_timeout",
    "parse_verify",
]

Timeout = float | tuple[float, float]
#: ``True`` (the default trust store), ``False`` (no verification) or a CA bundle file or directory.
Verify = bool | str
#: Where a CA bundle is looked up when neither the caller nor the connection names one, in order.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")

_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})


def _positive_seconds(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def parse_timeout(value: object) -> tuple[float, float]:
    """Return ``(connect, read)`` seconds from seconds or a pair of them (numbers or numeric text).

    :param value: e.g. ``10``, ``"10"``, ``(3, 30)``, ``[3, 30]`` or ``"3,30"``.
    :raises InvalidInputError: naming the value, when it is not that.
    """
    parts = value
    if isinstance(value, str) and "," in value:  # a form field's "5,30" or "[5, 30]"
        parts = value.strip().removeprefix("[").removesuffix("]").split(",")
    pair = parts if isinstance(parts, tuple | list) and len(parts) == 2 else (parts, parts)
    connect, read = (_positive_seconds(item) for item in pair)
    if connect is None or read is None:
        raise InvalidInputError(
            f"timeout must be seconds > 0 or a (connect, read) pair of them, got {value!r}"
        )
    return connect, read


def parse_proxies(value: object) -> dict[str, str] | None:
    """Return the proxy URL per scheme (``requests``' form), or None for no proxies setting.

    :param value: a mapping such as ``{"https": "http://proxy:3128"}``, its JSON text, or one proxy
        URL for every scheme; ``None`` or ``""`` for none (the environment then decides).
    :raises InvalidInputError: naming the value, when it is not that.
    """
    if value is None or value == "":
        return None
    parsed = value
    if isinstance(value, str):
        text = value.strip()
        if "://" in text and not text.startswith("{"):
            return {"http": text, "https": text}
        with contextlib.suppress(ValueError):
            parsed = json.loads(text)
    items = parsed.items() if hasattr(parsed, "items") else None
    proxies = dict(items) if items is not None else None
    if not proxies or not all(isinstance(k, str) and isinstance(v, str) for k, v in proxies.items()):
        raise InvalidInputError(
            'proxies must be a proxy URL or map schemes to proxy URLs, e.g. {"https": "http://proxy:3128"}, '
            f"got {value!r}"
        )
    return proxies


def _ca_bundle(path: str, source: str) -> str:
    if not os.path.exists(path):
        raise InvalidInputError(f"{source} names a CA bundle that does not exist: {path!r}")
    return path


def parse_verify(value: object) -> Verify | None:
    """Return the TLS verification setting, or None when not set (the environment then decides).

    :param value: ``True`` / ``False`` (or their text: ``"true"``, ``"false"``, ...), or the path of
        a CA bundle file or directory that signed the server's certificate.
    :raises InvalidInputError: naming the value, when it is none of these or the path is missing.
    """
    if value is None or value == "" or isinstance(value, bool):
        return value if isinstance(value, bool) else None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        return _ca_bundle(text, "verify")
    raise InvalidInputError(f"verify must be true, false or the path of a CA bundle, got {value!r}")


def _select(proxies: Mapping[str, str], scheme: str, host: str) -> str | None:
    """Pick a proxy the way ``requests`` does: most specific key first."""
    for key in (f"{scheme}://{host}", scheme, f"all://{host}", "all"):
        if key in proxies:
            return proxies[key]
    return None


def _proxy_environment() -> tuple[tuple[str, str], ...]:
    """Return the proxy variables that are set, as urllib reads them (lower case first)."""
    found = []
    for scheme in ("all", "http", "https", "no"):
        value = os.environ.get(f"{scheme}_proxy") or os.environ.get(f"{scheme.upper()}_PROXY")
        if value:
            found.append((scheme, value))
    return tuple(found)


def _environment_proxy(scheme: str, host: str, environment: tuple[tuple[str, str], ...]) -> str | None:
    found = dict(environment)
    # NO_PROXY as urllib reads it (host suffixes, ports, "*"); public, though missing from typeshed.
    if not found or urllib.request.proxy_bypass_environment(host, found):  # type: ignore[attr-defined]
        return None
    return found.get(scheme) or found.get("all")


@functools.lru_cache(maxsize=16)
def _ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Build a verifying TLS context once per CA bundle, so pooled connections can be shared."""
    try:
        if ca_bundle is not None and os.path.isdir(ca_bundle):
            return ssl.create_default_context(capath=ca_bundle)
        return ssl.create_default_context(cafile=ca_bundle or certifi.where())
    except (ssl.SSLError, OSError) as error:
        raise InvalidInputError(f"the CA bundle {ca_bundle!r} could not be loaded: {error}") from None


@dataclass(frozen=True)
class NetworkSettings:
    """How one client reaches its server: resolved once, used by both HTTP libraries alike.

    :param timeout: ``(connect, read)`` seconds.
    :param proxy: the proxy URL for the server, or None to connect directly.
    :param verify: ``False``, or the CA bundle to verify against (``True``: certifi's, as
        ``requests`` uses by default).
    """

    timeout: tuple[float, float]
    proxy: str | None
    verify: Verify

    @classmethod
    def resolve(
        cls, url: str, *, timeout: object, proxies: Mapping[str, str] | None, verify: Verify | None
    ) -> NetworkSettings:
        """Resolve the settings for ``url``: the given values first, else the environment.

        Resolved once per distinct input and environment (every trigger of a connection builds
        a client with the same settings).

        :param url: the server URL the client calls.
        :param timeout: seconds or ``(connect, read)`` seconds.
        :param proxies: proxy URL per scheme; the proxy environment variables when None.
        :param verify: see :func:`parse_verify`; the CA variables, else ``True``, when None.
        """
        return _resolve(
            url,
            parse_timeout(timeout),
            None if proxies is None else tuple(sorted(proxies.items())),
            verify,
            _proxy_environment(),
            tuple((name, os.environ.get(name) or "") for name in CA_BUNDLE_VARIABLES),
        )

    @property
    def requests_proxies(self) -> dict[str, str]:
        """Return the proxies argument for ``requests`` (empty: connect directly)."""
        return {} if self.proxy is None else {"http": self.proxy, "https": self.proxy}

    @property
    def ssl(self) -> ssl.SSLContext | bool:
        """Return the ``ssl`` argument for aiohttp: a verifying context shared per CA bundle, or False."""
        if self.verify is False:
            return False
        return _ssl_context(None if self.verify is True else self.verify)


@functools.lru_cache(maxsize=256)
def _resolve(
    url: str,
    timeout: tuple[float, float],
    proxies: tuple[tuple[str, str], ...] | None,
    verify: Verify | None,
    proxy_environment: tuple[tuple[str, str], ...],
    ca_environment: tuple[tuple[str, str], ...],
) -> NetworkSettings:
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if proxies is not None:
        proxy = _select(dict(proxies), scheme, hostname)
    else:
        proxy = _environment_proxy(scheme, host, proxy_environment)
    if verify is None:
        verify = next((_ca_bundle(path, name) for name, path in ca_environment if path), True)
    settings = NetworkSettings(timeout, proxy, verify)
    settings.ssl  # noqa: B018  (a bundle that cannot be loaded fails here, alike for both clients)
    return settings
