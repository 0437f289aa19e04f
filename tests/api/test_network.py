"""Network settings: proxies, TLS verification and timeouts reach the server alike from both clients.

What the clients resolve themselves is checked on its own first; then every scenario runs in poke
mode (the hook's sync client, requests) and in deferrable mode (the triggers' path:
:func:`get_async_client` on the shared aiohttp pool, and a trigger itself where the outcome is an
event), against the sandbox through a real forwarding proxy (proxy.py on loopback) and over TLS
with trustme certificates.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import shutil
import ssl
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import certifi
import proxy
import pytest
import trustme
from yarl import URL

from onlinesim_provider.api import base, errors
from onlinesim_provider.api.aio import AsyncOnlineSimClient, _proxy
from onlinesim_provider.api.base import ca_bundle, ssl_context
from onlinesim_provider.api.client import OnlineSimClient
from onlinesim_provider.api.retry import RetryPolicy
from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.hooks.settings import get_async_client
from onlinesim_provider.sandbox import SandboxConfig, SandboxServer
from onlinesim_provider.triggers._polling import aclose_shared_http_client, shared_http_client
from onlinesim_provider.triggers.onlinesim import OnlineSimSmsTrigger
from onlinesim_provider.waits.deadline import utcnow
from tests.api.conftest import FAST
from tests.conftest import CONN_ENV, connection_uri_json

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from onlinesim_provider.sandbox.control import SandboxControl

MODES = ["poke", "deferrable"]
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test without proxy or CA variables (in either letter case)."""
    for name in (*PROXY_VARIABLES, *CA_VARIABLES):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


# --- what the clients resolve themselves: the CA bundle, and a proxy from the settings ------------


def test_the_ca_variables_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first, second = tmp_path / "first.pem", tmp_path / "second.pem"
    for path in (first, second):
        shutil.copy(certifi.where(), path)
    assert ca_bundle(None) is True
    monkeypatch.setenv("SSL_CERT_FILE", str(second))
    assert ca_bundle(None) == str(second)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(first))
    assert ca_bundle(None) == str(first)
    assert ca_bundle(False) is False, "the connection's verify wins"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "gone.pem"))
    with pytest.raises(errors.InvalidInputError, match=r"REQUESTS_CA_BUNDLE.*gone\.pem"):
        ca_bundle(None)


def test_a_ca_bundle_that_cannot_be_loaded_is_named(tmp_path: Path) -> None:
    bundle = tmp_path / "not-pem.txt"
    bundle.write_text("not a certificate")
    with pytest.raises(errors.InvalidInputError, match=r"CA bundle .*not-pem\.txt.* could not be loaded"):
        OnlineSimClient("k", base_url="https://api.test", verify=str(bundle))


def test_one_tls_context_per_ca_bundle(ca_bundle_path: str) -> None:
    assert ssl_context(ca_bundle_path) is ssl_context(ca_bundle_path)
    assert ssl_context(True) is not ssl_context(ca_bundle_path)
    assert ssl_context(False) is False


def test_the_async_client_picks_the_settings_proxy_as_requests_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://env.test:1")
    proxies = {
        "https://api.test": "http://user:secret@host.test:2",
        "https": "http://scheme.test:3",
        "all": "http://all.test:4",
    }
    assert _proxy(URL("https://api.test/x"), proxies) == URL("http://user:secret@host.test:2")
    assert _proxy(URL("https://other.test/x"), proxies) == URL("http://scheme.test:3")
    assert _proxy(URL("http://other.test/x"), proxies) == URL("http://all.test:4")
    assert _proxy(URL("http://other.test/x"), {"https": "http://p.test:1"}) == URL("http://env.test:1")


# --- a forwarding proxy and a TLS sandbox, in poke and deferrable mode -------------------------------


def _proxy_py(*extra: str) -> Iterator[str]:
    """Run proxy.py on a free loopback port with ``extra`` flags; yield its URL."""
    flags = ["--hostname", "127.0.0.1", "--port", "0", "--num-workers", "1", "--num-acceptors", "1"]
    with proxy.Proxy([*flags, "--threaded", *extra]) as running:
        yield f"http://127.0.0.1:{running.flags.port}"


@pytest.fixture(scope="module")
def forwarding_proxy() -> Iterator[str]:
    """Run proxy.py as an open forwarding proxy; return its URL."""
    yield from _proxy_py()


@pytest.fixture(scope="module")
def authenticating_proxy() -> Iterator[str]:
    """Run proxy.py asking for Basic credentials ``user:secret``; return its URL without them."""
    yield from _proxy_py("--basic-auth", "user:secret")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_bundle_path(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def _tls_sandbox(context: ssl.SSLContext) -> Iterator[SandboxServer]:
    try:
        server = SandboxServer(SandboxConfig(), ssl_context=context)  # type: ignore[call-arg]
    except TypeError:
        pytest.skip("this sandbox serves plain HTTP only")
    with server:
        yield server


@pytest.fixture(scope="module")
def tls_sandbox(ca: trustme.CA) -> Iterator[SandboxServer]:
    """The sandbox over HTTPS, its certificate issued by the trustme CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    yield from _tls_sandbox(context)


@pytest.fixture(scope="module")
def self_signed_sandbox(ca: trustme.CA) -> Iterator[SandboxServer]:
    """The sandbox over HTTPS with a self-signed certificate (the CA's own)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with ca.private_key_pem.tempfile() as key, ca.cert_pem.tempfile() as cert:
        context.load_cert_chain(cert, key)
    yield from _tls_sandbox(context)


def use_connection(monkeypatch: pytest.MonkeyPatch, url: str, api_key: str, **extra: Any) -> None:
    monkeypatch.setenv(CONN_ENV, connection_uri_json(url, api_key, **extra))


def balance(mode: str) -> str:
    """Read the balance through the ``onlinesim_default`` connection, as ``mode`` would."""
    if mode == "poke":
        return str(OnlineSimHook().client.get_balance().amount)

    async def deferred() -> str:
        try:
            async with await get_async_client(
                "onlinesim_default", http_client=shared_http_client()
            ) as client:
                return str((await client.get_balance()).amount)
        finally:
            await aclose_shared_http_client()

    return asyncio.run(deferred())


@pytest.mark.parametrize("mode", MODES)
def test_through_the_connection_proxies(
    mode: str, onlinesim_sandbox: SandboxControl, forwarding_proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, onlinesim_sandbox.url, onlinesim_sandbox.api_key, proxies=forwarding_proxy)
    assert balance(mode) == "1000.00"
    assert [r["action"] for r in onlinesim_sandbox.requests()] == ["getBalance"]


@pytest.mark.parametrize("mode", MODES)
def test_proxy_credentials_in_the_url_are_sent(
    mode: str, onlinesim_sandbox: SandboxControl, authenticating_proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, url = onlinesim_sandbox.api_key, onlinesim_sandbox.url
    use_connection(monkeypatch, url, key, proxies=authenticating_proxy)
    with pytest.raises(errors.OnlineSimError):
        balance(mode)  # no credentials: the proxy refuses
    assert onlinesim_sandbox.requests() == []
    use_connection(monkeypatch, url, key, proxies=authenticating_proxy.replace("://", "://user:secret@"))
    assert balance(mode) == "1000.00"


@pytest.mark.parametrize("mode", MODES)
def test_through_the_environment_proxy(
    mode: str, onlinesim_sandbox: SandboxControl, forwarding_proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, onlinesim_sandbox.url, onlinesim_sandbox.api_key)
    monkeypatch.setenv("HTTP_PROXY", forwarding_proxy)
    assert balance(mode) == "1000.00"


def record_default_pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make the clients' default retry policy record its pauses instead of sleeping through them.

    The policy itself (attempts, backoff, which errors retry) stays the default one.
    """
    pauses: list[float] = []
    monkeypatch.setattr(base, "RetryPolicy", functools.partial(RetryPolicy, sleep=pauses.append))
    return pauses


@pytest.mark.parametrize("mode", MODES)
def test_a_dead_environment_proxy_is_used_unless_no_proxy_names_the_host(
    mode: str, onlinesim_sandbox: SandboxControl, closed_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, onlinesim_sandbox.url, onlinesim_sandbox.api_key, timeout=5)
    monkeypatch.setenv("HTTP_PROXY", closed_url)
    pauses = record_default_pauses(monkeypatch)
    with pytest.raises(errors.NetworkError) as caught:
        balance(mode)
    assert len(pauses) == RetryPolicy().max_attempts - 1, "nothing was sent, so every attempt was made"
    assert not caught.value.maybe_sent
    assert onlinesim_sandbox.requests() == [], "the proxy refused: nothing reached the server"
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert balance(mode) == "1000.00"


def test_the_shared_pool_keeps_proxied_and_direct_clients_apart(
    onlinesim_sandbox: SandboxControl, forwarding_proxy: str, closed_url: str
) -> None:
    """Clients of three connections on one pool: direct, through a live proxy, through a dead one."""

    async def scenario() -> list[object]:
        pool = shared_http_client()
        key, url = onlinesim_sandbox.api_key, onlinesim_sandbox.url
        clients = [
            AsyncOnlineSimClient(key, base_url=url, http_client=pool, retry=FAST),
            AsyncOnlineSimClient(
                key, base_url=url, proxies={"http": forwarding_proxy}, http_client=pool, retry=FAST
            ),
            AsyncOnlineSimClient(
                key, base_url=url, proxies={"http": closed_url}, http_client=pool, retry=FAST
            ),
        ]
        try:
            outcomes = await asyncio.gather(*(c.get_balance() for c in clients * 3), return_exceptions=True)
        finally:
            await aclose_shared_http_client()
        return [type(o).__name__ for o in outcomes]

    assert asyncio.run(scenario()) == ["Balance", "Balance", "NetworkError"] * 3


@pytest.mark.parametrize("mode", MODES)
def test_tls_with_the_ca_given_by_the_verify_extra(
    mode: str, tls_sandbox: SandboxServer, ca_bundle_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls_sandbox.control.reset()
    use_connection(monkeypatch, tls_sandbox.url, tls_sandbox.api_key, verify=ca_bundle_path)
    assert tls_sandbox.url.startswith("https://")
    assert balance(mode) == "1000.00"


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
@pytest.mark.parametrize("mode", MODES)
def test_tls_with_the_ca_from_the_environment(
    mode: str, variable: str, tls_sandbox: SandboxServer, ca_bundle_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, tls_sandbox.url, tls_sandbox.api_key)
    monkeypatch.setenv(variable, ca_bundle_path)
    assert balance(mode) == "1000.00"


@pytest.mark.parametrize("credentials", [False, True], ids=["open-proxy", "proxy-with-credentials"])
@pytest.mark.parametrize("mode", MODES)
def test_tls_through_the_proxy(
    mode: str,
    credentials: bool,
    tls_sandbox: SandboxServer,
    ca_bundle_path: str,
    request: pytest.FixtureRequest,
) -> None:
    """A CONNECT tunnel to the TLS sandbox; with credentials, they go on the CONNECT only."""
    monkeypatch = request.getfixturevalue("monkeypatch")
    proxy_url = request.getfixturevalue("authenticating_proxy" if credentials else "forwarding_proxy")
    if credentials:
        proxy_url = proxy_url.replace("://", "://user:secret@")
    use_connection(
        monkeypatch, tls_sandbox.url, tls_sandbox.api_key, verify=ca_bundle_path, proxies=proxy_url
    )
    assert balance(mode) == "1000.00"


@pytest.mark.parametrize("mode", MODES)
def test_an_untrusted_certificate_fails_at_once_with_its_reason_and_nothing_sent(
    mode: str,
    self_signed_sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    self_signed_sandbox.control.reset()
    use_connection(monkeypatch, self_signed_sandbox.url, self_signed_sandbox.api_key)
    caplog.set_level(logging.WARNING, logger="onlinesim_provider")
    with pytest.raises(errors.CertificateVerifyError) as caught:
        balance(mode)
    assert "certificate verify failed: self-signed certificate" in str(caught.value)
    assert caught.value.maybe_sent is False
    assert not caught.value.retryable
    assert self_signed_sandbox.api_key not in str(caught.value)
    assert not [r for r in caplog.records if "retrying" in r.getMessage()], "no retry"
    assert self_signed_sandbox.control.requests() == []


def test_an_untrusted_certificate_ends_a_deferred_wait_at_once(
    self_signed_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trigger fires one error event naming the reason; it does not poll on until its deadline."""
    use_connection(monkeypatch, self_signed_sandbox.url, self_signed_sandbox.api_key)
    deadline = (utcnow() + timedelta(hours=1)).isoformat()
    trigger = OnlineSimSmsTrigger(activation_id=1, deadline=deadline, poll_interval=0.05)

    async def events() -> list[Any]:
        try:
            return [event async for event in trigger.run()]
        finally:
            await aclose_shared_http_client()

    (event,) = asyncio.run(asyncio.wait_for(events(), timeout=60))
    assert event.payload["status"] == "error"
    assert "certificate verify failed: self-signed certificate" in event.payload["message"]


@pytest.mark.parametrize("client_class", [OnlineSimClient, AsyncOnlineSimClient], ids=["sync", "async"])
def test_the_clients_resolve_alike(
    client_class: type, monkeypatch: pytest.MonkeyPatch, ca_bundle_path: str
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("SSL_CERT_FILE", ca_bundle_path)
    client = client_class("k", base_url="https://api.test", timeout=(2, 9))
    assert (client.timeout, client.verify) == ((2.0, 9.0), ca_bundle_path)
