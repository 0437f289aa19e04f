"""Many concurrent keep-alive clients: no errors, no lost or doubled money."""

from __future__ import annotations

import http.client
import threading
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from onlinesim_provider.sandbox import SandboxControl

pytestmark = pytest.mark.no_airflow

CLIENTS = 200
REQUESTS_PER_CLIENT = 20


def _client(control: SandboxControl, errors: list[str], barrier: threading.Barrier) -> None:
    host, port = control.url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Authorization": f"Bearer {control.api_key}"}
    path = "/stubs/handler_api.php?action="

    def call(query: str) -> str:
        conn.request("GET", path + query, headers=headers)
        response = conn.getresponse()
        body = response.read().decode()
        if response.status != 200:
            errors.append(f"HTTP {response.status}: {body}")
        return body

    try:
        conn.connect()
        sock = conn.sock
        barrier.wait()
        ordered = call("getNumber&service=tg")
        activation = ordered.split(":")[1]
        for _ in range(REQUESTS_PER_CLIENT - 2):
            status = call(f"getStatus&id={activation}")
            if status != "STATUS_WAIT_CODE":
                errors.append(f"unexpected status {status}")
        if call(f"setStatus&id={activation}&status=6") != "ACCESS_ACTIVATION":
            errors.append("close failed")
        if conn.sock is not sock:
            errors.append("the keep-alive connection was not reused")
    except Exception as failure:  # every failure is reported by the assertion below
        errors.append(repr(failure))
    finally:
        conn.close()


def test_200_keep_alive_clients_20_requests_each(onlinesim_sandbox: SandboxControl) -> None:
    onlinesim_sandbox.set_stock("7", "tg", CLIENTS)
    onlinesim_sandbox.set_balance("2000.00")
    errors: list[str] = []
    barrier = threading.Barrier(CLIENTS)
    threads = [
        threading.Thread(target=_client, args=(onlinesim_sandbox, errors, barrier)) for _ in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    summary = onlinesim_sandbox.summary()
    assert summary["orders"] == CLIENTS
    assert summary["cancelled"] == CLIENTS
    assert Decimal(summary["charged"]) == Decimal(summary["refunded"]) == Decimal("10.00") * CLIENTS
    assert summary["balance"] == "2000.00"
    assert len(onlinesim_sandbox.requests()) == CLIENTS * REQUESTS_PER_CLIENT
    ids = {a["id"] for a in onlinesim_sandbox.activations()}
    assert len(ids) == CLIENTS
