"""What neither HTTP library does alike: the CA bundle from the environment, and its TLS context.

requests reads ``REQUESTS_CA_BUNDLE`` but not ``SSL_CERT_FILE``; aiohttp reads ``SSL_CERT_FILE``
(through OpenSSL) but not ``REQUESTS_CA_BUNDLE``, and not certifi's bundle. Both clients verify
against :func:`ca_bundle` instead, so poke and deferrable waits trust the same certificates.
"""

from __future__ import annotations

import functools
import os
import ssl
from typing import TYPE_CHECKING

import certifi

from onlinesim_provider.api.errors import InvalidInputError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["CA_BUNDLE_VARIABLES", "ca_bundle", "ssl_context"]

#: Where a CA bundle is looked up when neither the caller nor the connection names one, in order.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


def ca_bundle(verify: bool | Path | None) -> bool | str:
    """Return what to verify the server's certificate against: ``False``, a bundle, or ``True`` (certifi's).

    :param verify: the ``verify`` setting; when ``None``, the first CA variable that is set.
    :raises InvalidInputError: a CA variable names a file that does not exist.
    """
    if verify is not None:
        return verify if isinstance(verify, bool) else str(verify)
    for name in CA_BUNDLE_VARIABLES:
        path = os.environ.get(name)
        if path:
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
