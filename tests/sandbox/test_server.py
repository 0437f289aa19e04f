"""The sandbox server's life cycle and its HTTPS mode (``sandbox/server.py``)."""

from __future__ import annotations

import http.client
import socket
import ssl
import time

import pytest
import requests

from onlinesim_provider.sandbox import SandboxConfig, SandboxControl, SandboxServer
from tests.sandbox.tls import TlsFiles, make_tls_files

pytestmark = pytest.mark.no_airflow


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def _port(server: SandboxServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _balance(url: str, key: str, **options: object) -> requests.Response:
    return requests.get(
        url + "/stubs/handler_api.php",
        params={"action": "getBalance"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
        **options,  # type: ignore[arg-type]
    )


def test_https_serves_the_api_and_the_controls(tls: TlsFiles) -> None:
    with SandboxServer(SandboxConfig(balance="12.50"), ssl_context=tls.server_context()) as server:
        assert server.url.startswith("https://127.0.0.1:")
        assert server.api_url == server.url + "/stubs/handler_api.php"
        reply = _balance(server.url, server.api_key, verify=str(tls.ca_cert))
        assert reply.status_code == 200
        assert reply.text == "ACCESS_BALANCE:12.50"
        activation = server.control.call("config")  # the server's own control speaks TLS too
        assert activation["balance"] == "12.50"


def test_https_refuses_a_client_that_does_not_trust_the_certificate(tls: TlsFiles) -> None:
    with SandboxServer(ssl_context=tls.server_context()) as server:
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            _balance(server.url, server.api_key)  # the system CAs do not know the test CA
        assert server.control.now() > 0  # the refused handshake did not hurt the server


def test_control_over_https_checks_the_certificate_it_is_given(tls: TlsFiles) -> None:
    with SandboxServer(ssl_context=tls.server_context()) as server:
        trusting = SandboxControl(server.url, ssl_context=tls.client_context())
        assert trusting.api_key == server.api_key
        trusting.close()
        doubting = SandboxControl(server.url)
        with pytest.raises(ssl.SSLCertVerificationError):
            doubting.now()
        doubting.close()


def test_plain_http_to_an_https_sandbox_gets_no_reply(tls: TlsFiles) -> None:
    with SandboxServer(ssl_context=tls.server_context()) as server:
        conn = http.client.HTTPConnection("127.0.0.1", _port(server), timeout=10)
        conn.request("GET", "/stubs/handler_api.php?action=getBalance")
        with pytest.raises((http.client.HTTPException, OSError)):
            conn.getresponse()
        conn.close()
        assert server.control.now() > 0


def test_start_is_idempotent_and_stop_frees_the_port() -> None:
    server = SandboxServer()
    assert server.start() is server.start()
    port = _port(server)
    assert "sandbox-key" not in repr(server)
    server.stop()
    server.stop()
    assert repr(server) == "SandboxServer(url=None)"
    with socket.create_server(("127.0.0.1", port)):  # the port is free again
        pass


def test_a_busy_port_raises_oserror_in_the_caller() -> None:
    with SandboxServer() as first, pytest.raises(OSError, match="in use"):
        SandboxServer(port=_port(first)).start()


def test_stop_cuts_a_reply_still_in_flight() -> None:
    """A delay far longer than the shutdown grace: stop() returns, the client sees a closed connection."""
    server = SandboxServer().start()
    server.control.inject_fault("delay", action="getBalance", delay=60)
    conn = http.client.HTTPConnection("127.0.0.1", _port(server), timeout=30)
    conn.request(
        "GET", "/stubs/handler_api.php?action=getBalance", headers={"Authorization": "Bearer sandbox-key"}
    )
    for _ in range(500):  # the call is logged before its delay starts
        if server.control.requests():
            break
        time.sleep(0.01)
    assert [r["fault"] for r in server.control.requests()] == ["delay"]
    server.stop()
    with pytest.raises((http.client.HTTPException, OSError)):
        conn.getresponse().read()
    conn.close()


def test_restart_after_stop_serves_again() -> None:
    server = SandboxServer(SandboxConfig(balance="3.00"))
    for _ in range(2):
        server.start()
        assert _balance(server.url, server.api_key).text == "ACCESS_BALANCE:3.00"
        server.stop()


def _send_and_read(conn: http.client.HTTPConnection) -> bytes:
    conn.request("GET", "/stubs/handler_api.php?action=getBalance")
    return conn.getresponse().read()


def test_stop_closes_idle_keep_alive_connections() -> None:
    server = SandboxServer().start()
    conn = http.client.HTTPConnection("127.0.0.1", _port(server), timeout=5)
    conn.request(
        "GET", "/stubs/handler_api.php?action=getBalance", headers={"Authorization": "Bearer sandbox-key"}
    )
    assert conn.getresponse().read() == b"ACCESS_BALANCE:1000.00"
    server.stop()
    conn.sock.settimeout(5)  # type: ignore[union-attr]
    with pytest.raises((http.client.HTTPException, OSError)):
        _send_and_read(conn)
    conn.close()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url


def test_faults_work_over_https(tls: TlsFiles) -> None:
    with SandboxServer(ssl_context=tls.server_context()) as server:
        server.control.inject_fault("reset", action="getBalance")
        server.control.inject_fault("http_status", action="getBalance", status=429, retry_after=7)
        with pytest.raises(requests.ConnectionError):
            _balance(server.url, server.api_key, verify=str(tls.ca_cert))
        limited = _balance(server.url, server.api_key, verify=str(tls.ca_cert))
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "7")
        assert _balance(server.url, server.api_key, verify=str(tls.ca_cert)).text == "ACCESS_BALANCE:1000.00"
