"""The sandbox under hostile clients: always a protocol reply, never a crash, never a corrupt ledger.

Hypothesis sends random actions with random parameters (odd digits, huge numbers, empty and
duplicated values, invalid percent-encodings, non-UTF-8 bytes) by GET or POST, with every kind
of credential; threads hammer it concurrently with orders, status changes, deliveries and clock
jumps; clients hang up before their reply. After each run the ledger must add up, the server must
still answer, and its safety net ("unhandled error") must never have been needed. Bytes that are
not HTTP are aiohttp's to refuse (the sandbox's own refusals are in ``tests/sandbox/test_server.py``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import random
import re
import socket
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onlinesim_provider.api.client import OnlineSimClient
from onlinesim_provider.api.errors import HttpStatusError, OnlineSimError, ProtocolError
from tests.reliability.conftest import SEED
from tests.reliability.hostile import FUZZ, PARSERS
from tests.reliability.ledger import audit

if TYPE_CHECKING:
    from collections.abc import Iterator

    from onlinesim_provider.sandbox import SandboxControl

API_PATH = "/stubs/handler_api.php"
JSON_ACTIONS = {
    "getCountries",
    "getNumbersStatus",
    "getRentServicesAndCountries",
    "getRentNumber",
    "getRentList",
    "getRentStatus",
    "setRentStatus",
}
_TOKEN_LINE = re.compile(r"[A-Z][A-Z0-9_]*(:.*)?", re.DOTALL)

actions = st.one_of(
    st.sampled_from(list(PARSERS)),
    st.sampled_from(
        ["", "getbalance", "GETNUMBER", "getNumber ", "getStatus\x00", "../_sandbox/reset", "x;"]
    ),
    st.text(max_size=10),
)
names = st.one_of(
    st.sampled_from(["id", "id", "status", "service", "country", "time", "rent_time", "operator", "ID", ""]),
    st.text(max_size=5),
)
#: Digits Python reads as numbers but no wire protocol does, and other numeric oddities.
ODD_NUMBERS = [
    "\u00b2",
    "\u2460",
    "\u0661\u0662",
    "\uff11\uff12",
    "NaN",
    "inf",
    "1e308",
    "1e309",
    "0x10",
    "1_0",
]
values = st.one_of(
    st.sampled_from(
        ["", " ", "1", "2", "3", "6", "8", "10001", "10002", "50001", "tg", "wa", "7", "380", "24", "0", "-1"]
    ),
    st.sampled_from([*ODD_NUMBERS, "-0", "9" * 30]),
    st.integers(-(10**12), 10**12).map(str),
    st.text(max_size=16),
)
credentials = st.sampled_from(
    ["header", "header", "query", "none", "wrong-header", "wrong-query", "basic", "both"]
)


def _encode(text: str, how: str) -> str:
    """Percent-encode ``text`` in one of several ways, some of them broken on purpose."""
    if how == "utf-8":
        return quote(text, safe="")
    if how == "plus":
        return quote(text, safe="").replace("%20", "+")
    if how == "latin-1":
        return quote(text.encode("latin-1", errors="replace"), safe="")
    if how == "utf-16":
        return quote(text.encode("utf-16"), safe="")
    return quote(text, safe="") + "%G1%"  # a broken escape at the end


@st.composite
def requests_(draw: st.DrawFn) -> dict[str, Any]:
    """Return one hostile API request: method, action, parameters, encoding and credentials."""
    params = draw(st.lists(st.tuples(names, values), max_size=5))
    return {
        "method": draw(st.sampled_from(["GET", "GET", "POST", "POST-split"])),
        "action": draw(actions),
        "params": params,
        "encoding": draw(st.sampled_from(["utf-8", "utf-8", "plus", "latin-1", "utf-16", "broken"])),
        "credentials": draw(credentials),
    }


class RawApi:
    """Send hostile API requests over one keep-alive stdlib connection and return the raw reply."""

    def __init__(self, control: SandboxControl) -> None:
        self.key = control.api_key
        parts = urlsplit(control.url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)

    def send(self, request: dict[str, Any]) -> tuple[int, str, str]:
        how, action = request["encoding"], request["action"]
        pairs = [f"{_encode(name, how)}={_encode(value, how)}" for name, value in request["params"]]
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        credentials = request["credentials"]
        if credentials in ("header", "both"):
            headers["Authorization"] = f"Bearer {self.key}"
        elif credentials == "wrong-header":
            headers["Authorization"] = "Bearer not-the-key"
        elif credentials == "basic":
            headers["Authorization"] = "Basic dXNlcjpwYXNz"
        if credentials in ("query", "both"):
            pairs.append("api_key=" + quote(self.key, safe=""))
        elif credentials == "wrong-query":
            pairs.append("api_key=wrong")
        action_pair = "action=" + quote(action, safe="")
        if request["method"] == "GET":
            path, body = API_PATH + "?" + "&".join([action_pair, *pairs]), None
        elif request["method"] == "POST":
            path, body = API_PATH, "&".join([action_pair, *pairs])
        else:  # the action in the URL, the rest in the form
            path, body = API_PATH + "?" + action_pair, "&".join(pairs)
        method = "GET" if request["method"] == "GET" else "POST"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read().decode("utf-8")

    def close(self) -> None:
        self.conn.close()


def assert_protocol_reply(action: str, status: int, content_type: str, body: str) -> None:
    """Assert that the reply is what the protocol defines for ``action`` (a model or an error token)."""
    assert status == 200, (status, body)
    if action in JSON_ACTIONS and body not in ("BAD_ACTION", "BAD_KEY"):  # these two: text everywhere
        assert content_type.startswith("application/json")
        assert isinstance(json.loads(body), dict)
    else:
        assert content_type.startswith("text/plain")
        assert _TOKEN_LINE.fullmatch(body), body
    if action not in PARSERS:
        assert body in ("BAD_ACTION", "BAD_KEY"), body
        return
    try:
        PARSERS[action](body, status)
    except (ProtocolError, HttpStatusError) as error:  # not a reply of this protocol at all
        pytest.fail(f"{action}: the sandbox answered {body!r}, not a protocol reply ({error})")
    except OnlineSimError:
        pass  # a defined error token


@pytest.fixture
def raw_api(onlinesim_sandbox: SandboxControl) -> Iterator[RawApi]:
    api = RawApi(onlinesim_sandbox)
    yield api
    api.close()


def _prepare(control: SandboxControl) -> None:
    """Give the fuzzing something to work on: open activations (ids 10001..) and rents (50001..)."""
    with OnlineSimClient(control.api_key, base_url=control.url) as client:
        ids = [client.get_number(service, "7").id for service in ("tg", "wa", "vk")]
        client.get_rent_number("7", 24)
        client.get_rent_number("380", 24)
    control.deliver_sms(ids[0], code="1234")


def _unhandled(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("onlinesim_provider.sandbox") and r.levelno >= logging.ERROR
    ]


@settings(FUZZ, max_examples=150)
@given(batch=st.lists(requests_(), min_size=1, max_size=5))
def test_random_requests_get_protocol_replies_and_the_ledger_adds_up(
    raw_api: RawApi,
    onlinesim_sandbox: SandboxControl,
    caplog: pytest.LogCaptureFixture,
    batch: list[dict[str, Any]],
) -> None:
    caplog.clear()
    onlinesim_sandbox.reset()
    _prepare(onlinesim_sandbox)
    for request in batch:
        status, content_type, body = raw_api.send(request)
        assert_protocol_reply(request["action"], status, content_type, body)
    assert _unhandled(caplog) == []
    report = audit(onlinesim_sandbox, "1000.00")
    assert report.problems == []


def test_concurrent_clients_never_corrupt_the_ledger(
    onlinesim_sandbox: SandboxControl, caplog: pytest.LogCaptureFixture
) -> None:
    """Sixteen threads order, poll, close, deliver and jump the clock at once; the money adds up."""
    errors: list[BaseException] = []
    control = onlinesim_sandbox

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            with OnlineSimClient(control.api_key, base_url=control.url) as client:
                for _ in range(25):
                    step(client, rng)
        except BaseException as error:  # collected and asserted on below
            errors.append(error)

    def step(client: OnlineSimClient, rng: random.Random) -> None:
        activation_ids = [a["id"] for a in control.activations()] or [1]
        rent_ids = [r["id"] for r in control.rents()] or [1]
        moves = [
            lambda: client.get_number(rng.choice(["tg", "wa", "vk"]), rng.choice(["7", "380", "44"])),
            lambda: client.get_rent_number(rng.choice(["7", "380"]), rng.choice([1, 24, 48])),
            lambda: client.set_status(rng.choice(activation_ids), rng.choice([1, 3, 6, 8])),
            lambda: client.get_status(rng.choice(activation_ids)),
            lambda: client.set_rent_status(rng.choice(rent_ids), 2),
            lambda: client.get_rent_status(rng.choice(rent_ids)),
            lambda: client.get_balance(),
            lambda: control.deliver_sms(rng.choice(activation_ids), code=str(rng.randrange(10**6))),
            lambda: control.deliver_rent_sms(rng.choice(rent_ids), "code 42"),
            lambda: control.advance(rng.choice([1, 60, 600])),
        ]
        with contextlib.suppress(OnlineSimError, ValueError):  # refused moves are part of the game
            rng.choice(moves)()

    threads = [threading.Thread(target=worker, args=(SEED + n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert _unhandled(caplog) == []
    control.advance(2 * 86400)  # every activation and rent has ended by now
    report = audit(control, "1000.00")
    assert report.problems == []
    assert sum(report.activations.values()) > 10
    assert sum(report.rents.values()) > 5
    assert control.summary()["open_activations"] == control.summary()["open_rents"] == 0


#: Long enough that a client still waiting for its request to be logged hangs up before the reply.
DELAY = 2.0


def _wait_for_requests(control: SandboxControl, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (logged := len(control.requests())) < count:
        assert time.monotonic() < deadline, f"the sandbox logged {logged} requests, not {count}"
        time.sleep(0.01)


def test_a_client_that_leaves_before_the_reply_does_not_break_the_server(
    onlinesim_sandbox: SandboxControl, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A client that times out and hangs up while a slow reply is prepared: no error, still serving."""
    onlinesim_sandbox.inject_fault("delay", action="getBalance", delay=DELAY, count=3)
    parts = urlsplit(onlinesim_sandbox.url)
    for sent in range(1, 4):
        with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
            sock.sendall(
                b"GET /stubs/handler_api.php?action=getBalance HTTP/1.1\r\nHost: x\r\n"
                + f"Authorization: Bearer {onlinesim_sandbox.api_key}\r\n\r\n".encode()
            )
            # Hang up only once the sandbox has the request (and sits in its delay): a reset that
            # came first would discard the request unread and leave nothing to check.
            _wait_for_requests(onlinesim_sandbox, sent)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        # closed with RST before the reply: the sandbox writes into a dead socket
    # The check's own reply is delayed twice as long, and its timer starts after the three above:
    # whichever of the sandbox's event loops holds each handler has DELAY seconds more than it needs
    # to wake it and write into the dead socket before the check is answered (writing takes
    # microseconds), so the check below sees their outcome on a busy machine too.
    onlinesim_sandbox.inject_fault("delay", action="getBalance", delay=2 * DELAY, count=1)
    with OnlineSimClient(onlinesim_sandbox.api_key, base_url=onlinesim_sandbox.url) as client:
        assert str(client.get_balance().amount) == "1000.00"
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert _unhandled(caplog) == []
