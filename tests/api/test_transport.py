"""The keep-alive transport of the triggers' shared pool: framing, reuse, limits, timeouts, TLS.

The parser is checked on literal bytes; the transport end to end against the sandbox, a scripted
server (the hostile one of the reliability tests) and a loopback TLS server; and differentially
against httpx's own transport on generated replies: whatever one accepts, the other reads the
same way.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from onlinesim_provider.api.aio import AsyncOnlineSimClient
from onlinesim_provider.api.errors import NetworkError
from onlinesim_provider.api.transport import MAX_HEAD, KeepAliveTransport, parse_reply
from tests.api.conftest import FAST
from tests.reliability.hostile import FUZZ, HostileReply, HostileServer, hostile_replies

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator
    from pathlib import Path

HANDLER = "/stubs/handler_api.php"


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(scenario())


def pool(**kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=KeepAliveTransport(**kwargs), trust_env=False)


# --- the parser, on literal bytes -----------------------------------------------------------------


def parsed(data: bytes, method: bytes = b"GET", *, eof: bool = False) -> tuple[int, bytes, bool, int]:
    result = parse_reply(bytearray(data), method, eof=eof)
    assert not isinstance(result, int), f"incomplete: wants {result} bytes"
    reply, used = result
    return reply.status, reply.body, reply.keep_alive, used


def test_content_length_reply_and_what_follows_it_stays_buffered() -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1"
    assert parsed(data) == (200, b"hello", True, len(data) - len(b"HTTP/1.1"))


def test_chunked_reply_with_extensions_and_trailers() -> None:
    data = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;name=x\r\nSTAT\r\nc\r\nUS_WAIT_CODE\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    assert parsed(data) == (200, b"STATUS_WAIT_CODE", True, len(data))


def test_a_body_ending_with_the_connection_needs_eof_and_is_not_reused() -> None:
    data = b"HTTP/1.1 200 OK\r\n\r\nACCESS_BALANCE:1.00"
    assert isinstance(parse_reply(bytearray(data), b"GET", eof=False), int)
    assert parsed(data, eof=True) == (200, b"ACCESS_BALANCE:1.00", False, len(data))


@pytest.mark.parametrize(
    ("head", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0", False),
        (b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0", False),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 0", True),
    ],
)
def test_keep_alive_follows_version_and_connection_header(head: bytes, keep_alive: bool) -> None:
    assert parsed(head + b"\r\n\r\n")[2] is keep_alive


def test_interim_replies_are_skipped_and_head_and_204_have_no_body() -> None:
    data = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assert parsed(data)[:2] == (200, b"ok")
    assert parsed(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", b"HEAD")[:2] == (200, b"")
    assert parsed(b"HTTP/1.1 204 No Content\r\n\r\n")[:2] == (204, b"")


@pytest.mark.parametrize(
    ("data", "wants"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Len", 28 + 1),  # the head's end: one byte more at least
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 39 + 10),  # head + length
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 50 + 5 + 2),  # chunk + CRLF
    ],
)
def test_an_incomplete_reply_says_how_many_bytes_to_wait_for(data: bytes, wants: int) -> None:
    assert parse_reply(bytearray(data), b"GET", eof=False) == wants


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"garbage\r\n\r\n", "malformed status line"),
        (b"HTTP/2 200 OK\r\n\r\n", "malformed status line"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"),
        (b"HTTP/1.1 20x OK\r\n\r\n", "malformed status code"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\n folded: value\r\n\r\n", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "malformed Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "conflicting"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", "too long"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n", "malformed chunked"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: " + b"y" * MAX_HEAD, "reply head too long"),
    ],
)
def test_malformed_replies_are_protocol_errors_naming_the_fault(data: bytes, message: str) -> None:
    with pytest.raises(httpx.RemoteProtocolError, match=message):
        parse_reply(bytearray(data), b"GET", eof=False)


# --- against the sandbox --------------------------------------------------------------------------


def test_calls_reuse_one_connection_and_match_httpx(onlinesim_sandbox) -> None:
    async def scenario() -> tuple[list[str], list[str], int]:
        transport = KeepAliveTransport()
        async with httpx.AsyncClient(transport=transport) as ours, httpx.AsyncClient() as reference:
            replies = []
            for client in (ours, reference):
                api = AsyncOnlineSimClient(
                    onlinesim_sandbox.api_key, base_url=onlinesim_sandbox.url, http_client=client
                )
                balance = await api.get_balance()
                activation = await api.get_number("tg")
                onlinesim_sandbox.deliver_sms(activation.id, code="424242")
                status = await api.get_status(activation.id)
                countries = await api.get_countries()
                replies.append([str(balance.amount), status.code, str(len(countries))])
            return replies[0], replies[1], transport.opened

    ours, reference, opened = run(scenario)
    assert ours[1] == reference[1] == "424242"
    assert ours[2] == reference[2] != "0"
    assert opened == 1


def test_at_most_max_connections_on_the_wire_and_the_rest_queue(onlinesim_sandbox) -> None:
    onlinesim_sandbox.inject_fault(
        "delay", action="getBalance", count=None, probability=1.0, seed=1, delay=0.3
    )

    async def scenario() -> tuple[list[int], KeepAliveTransport]:
        transport = KeepAliveTransport(max_connections=3)
        async with httpx.AsyncClient(transport=transport) as client:
            api = AsyncOnlineSimClient(
                onlinesim_sandbox.api_key, base_url=onlinesim_sandbox.url, http_client=client
            )
            balances = await asyncio.gather(*(api.get_balance() for _ in range(9)))
        return [int(b.amount) for b in balances], transport

    amounts, transport = run(scenario)
    assert len(amounts) == 9
    assert (transport.peak_in_flight, transport.in_flight, transport.opened) == (3, 0, 3)


def test_waiting_for_a_slot_past_the_pool_timeout_is_an_unsent_error(onlinesim_sandbox) -> None:
    onlinesim_sandbox.inject_fault("delay", action="getBalance", count=1, delay=1.0)

    async def scenario() -> NetworkError:
        async with pool(max_connections=1) as client:
            slow = asyncio.ensure_future(
                client.get(onlinesim_sandbox.url + HANDLER, params={"action": "getBalance"})
            )
            await asyncio.sleep(0.2)
            api = AsyncOnlineSimClient(
                onlinesim_sandbox.api_key,
                base_url=onlinesim_sandbox.url,
                timeout=(0.2, 0.2),
                http_client=client,
            )
            api.retry = FAST.__class__(max_attempts=1)
            with pytest.raises(NetworkError) as caught:
                await api.get_status(1)
            await slow
            return caught.value

    error = run(scenario)
    assert error.maybe_sent is False
    assert "PoolTimeout" in str(error)


def test_a_read_timeout_closes_the_connection_and_the_next_call_opens_a_fresh_one(onlinesim_sandbox) -> None:
    onlinesim_sandbox.inject_fault("delay", action="getBalance", count=1, delay=1.0)

    async def scenario() -> tuple[type[BaseException], str, int]:
        transport = KeepAliveTransport()
        async with httpx.AsyncClient(transport=transport) as client:
            url = onlinesim_sandbox.url + HANDLER
            with pytest.raises(httpx.TransportError) as caught:
                await client.get(url, params={"action": "getBalance"}, timeout=0.3)
            reply = await client.get(url, params={"action": "getBalance"}, headers=_auth(onlinesim_sandbox))
            return type(caught.value), reply.text, transport.opened

    error, text, opened = run(scenario)
    assert error is httpx.ReadTimeout
    assert text.startswith("ACCESS_BALANCE:")
    assert opened == 2


def test_a_reset_is_a_read_error_and_a_refused_connect_is_a_connect_error(
    onlinesim_sandbox, closed_url
) -> None:
    onlinesim_sandbox.inject_fault("reset", action="getBalance", count=1)

    async def scenario() -> list[type[BaseException]]:
        errors = []
        async with pool() as client:
            for url in (onlinesim_sandbox.url, closed_url):
                try:
                    await client.get(url + HANDLER, params={"action": "getBalance"})
                except httpx.TransportError as error:
                    errors.append(type(error))
        return errors

    reset, refused = run(scenario)
    assert issubclass(reset, httpx.ReadError | httpx.RemoteProtocolError)
    assert refused is httpx.ConnectError


def test_transport_errors_carry_no_url_so_no_key(onlinesim_sandbox) -> None:
    onlinesim_sandbox.inject_fault("reset", action="getBalance", count=1)

    async def scenario() -> str:
        async with pool() as client:
            with pytest.raises(httpx.TransportError) as caught:
                await client.get(
                    onlinesim_sandbox.url + HANDLER, params={"action": "getBalance", "api_key": "s3cr3t-k3y"}
                )
            return str(caught.value)

    message = run(scenario)
    assert "s3cr3t" not in message
    assert "127.0.0.1" not in message


def _auth(control: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {control.api_key}"}


# --- a server that closes idle connections --------------------------------------------------------


def test_a_connection_the_server_closed_while_idle_is_not_reused(hostile: HostileServer) -> None:
    keep_alive_reply = b"HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\nACCESS_BALANCE:1.00"
    hostile.serve(HostileReply(200, keep_alive_reply, framing="raw"))  # then it closes the socket

    async def scenario() -> tuple[list[str], int]:
        transport = KeepAliveTransport()
        async with httpx.AsyncClient(transport=transport) as client:
            texts = []
            for _ in range(3):
                texts.append((await client.get(hostile.url + HANDLER)).text)
                await asyncio.sleep(0.05)  # the server's FIN arrives while the connection idles
            return texts, transport.opened

    texts, opened = run(scenario)
    assert texts == ["ACCESS_BALANCE:1.00"] * 3
    assert opened == 3


# --- differential: the same reading as httpx's own transport ---------------------------------------


def _fetch(client: httpx.AsyncClient, url: str) -> Callable[[], Awaitable[tuple[int, bytes] | str]]:
    async def fetch() -> tuple[int, bytes] | str:
        try:
            reply = await client.get(url + HANDLER, timeout=1.0)
        except httpx.TransportError:
            return "transport error"
        return reply.status_code, reply.content

    return fetch


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


@settings(FUZZ, max_examples=120)
@given(data=st.data())
def test_every_reply_reads_as_httpx_own_transport_reads_it(
    hostile: HostileServer, data: st.DataObject
) -> None:
    action = data.draw(st.sampled_from(["getStatus", "getRentStatus", "getCountries"]), label="action")
    hostile.serve(data.draw(hostile_replies(action), label="reply"))

    async def scenario() -> tuple[Any, Any]:
        async with pool() as ours, httpx.AsyncClient(trust_env=False) as reference:
            return await _fetch(ours, hostile.url)(), await _fetch(reference, hostile.url)()

    ours, reference = run(scenario)
    assert ours == reference


# --- TLS ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return a self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_server(tls_files: tuple[Path, Path]) -> Iterator[tuple[str, list[int]]]:
    """Serve ``ACCESS_BALANCE`` over TLS on loopback in a thread; yield its URL and connection count."""
    cert_file, key_file = tls_files
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    connections = [0]
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    holder: dict[str, Any] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections[0] += 1
        body = b"ACCESS_BALANCE:12.50"
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()

    async def start() -> None:
        holder["server"] = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_context)
        holder["port"] = holder["server"].sockets[0].getsockname()[1]
        ready.set()

    thread = threading.Thread(
        target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True
    )
    thread.start()
    ready.wait(10)
    yield f"https://127.0.0.1:{holder['port']}", connections
    loop.call_soon_threadsafe(holder["server"].close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_https_with_a_trusted_certificate_reuses_one_tls_connection(tls_server, tls_files) -> None:
    url, connections = tls_server
    trusted = ssl.create_default_context(cafile=str(tls_files[0]))

    async def scenario() -> list[str]:
        async with pool(ssl_context=trusted) as client:
            api = AsyncOnlineSimClient("tls-key", base_url=url, http_client=client)
            return [str((await api.get_balance()).amount) for _ in range(3)]

    assert run(scenario) == ["12.50"] * 3
    assert connections[0] == 1


def test_https_with_an_untrusted_certificate_fails_to_connect_and_sends_nothing(tls_server) -> None:
    url, connections = tls_server

    async def scenario() -> NetworkError:
        async with pool() as client:  # httpx's default trust store: the self-signed cert is refused
            api = AsyncOnlineSimClient(
                "tls-key", base_url=url, http_client=client, retry=FAST.__class__(max_attempts=1)
            )
            with pytest.raises(NetworkError) as caught:
                await api.get_balance()
            return caught.value

    error = run(scenario)
    assert error.maybe_sent is False
    assert "ConnectError" in str(error)
    assert connections[0] == 0  # the handshake failed: no session, so no request, was ever made
