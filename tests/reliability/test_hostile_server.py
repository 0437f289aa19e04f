"""The clients against hostile servers: whatever comes back, the caller gets a model or an OnlineSimError.

Hypothesis generates reply bodies per action (near-valid documents with parts replaced or
dropped, replies cut anywhere, error envelopes with odd tokens, random JSON and text), statuses,
headers (Retry-After and Location included) and framings (honest length, cut in transport, no
length, broken chunking, no HTTP at all). Parsed models must survive the XCom boundary
(``to_dict()`` is plain JSON); huge and slow replies end in typed errors, and no error shows the key.
"""

from __future__ import annotations

import asyncio
import json
import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onlinesim_provider.api.aio import AsyncOnlineSimClient, new_session
from onlinesim_provider.api.client import OnlineSimClient
from onlinesim_provider.api.errors import NetworkError, OnlineSimError, OutcomeUnknownError, ProtocolError
from onlinesim_provider.api.models import (
    Activation,
    ActivationStatus,
    Balance,
    Country,
    FullSms,
    Rent,
    RentOffer,
    RentStatus,
    ServiceStock,
    SetStatusReply,
)
from onlinesim_provider.api.protocol import status_error
from onlinesim_provider.api.retry import RetryPolicy
from onlinesim_provider.triggers._polling import aclose_shared_http_client, shared_http_client
from tests.api.conftest import EXAMPLES as CALLS
from tests.reliability.hostile import (
    FUZZ,
    PARSERS,
    VALID_REPLIES,
    HostileReply,
    HostileServer,
    bodies,
    hostile_replies,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    import aiohttp

#: What a successful parse of each action returns (``list`` items checked one by one).
MODELS: dict[str, type | tuple[type, ...]] = {
    "getBalance": Balance,
    "getCountries": Country,
    "getNumbersStatus": ServiceStock,
    "getNumber": Activation,
    "getStatus": ActivationStatus,
    "getFullSms": FullSms,
    "setStatus": SetStatusReply,
    "getRentServicesAndCountries": RentOffer,
    "getRentNumber": Rent,
    "getRentList": Rent,
    "getRentStatus": RentStatus,
    "setRentStatus": type(None),
}
#: Retry at once, twice at most, and never wait longer than a second (Retry-After included).
QUICK = RetryPolicy(max_attempts=2, initial_backoff=0.0, max_backoff=0.0, max_total=1.0, jitter=0.0)


def check_model(action: str, result: Any) -> None:
    """Assert that a parsed reply is the action's model, sane, and plain JSON for XCom."""
    items = result if isinstance(result, list) else [result]
    for item in items:
        assert isinstance(item, MODELS[action])
        if isinstance(item, SetStatusReply) or item is None:
            continue
        json.dumps(item.to_dict(), allow_nan=False)
    if isinstance(result, Balance):
        assert isinstance(result.amount, Decimal)
        assert result.amount.is_finite()
    if isinstance(result, Activation | Rent):
        assert result.id >= 1
        assert result.phone.strip()
    if isinstance(result, ActivationStatus) and result.code is not None:
        assert result.code.strip()


@pytest.mark.parametrize("action", list(PARSERS))
@settings(FUZZ, max_examples=100)
@given(data=st.data())
def test_parsers_return_the_model_or_a_typed_error(action: str, data: st.DataObject) -> None:
    body = data.draw(bodies(action), label="body")
    status = data.draw(st.sampled_from([200, 200, 201, 301, 400, 404, 429, 500, 503]), label="status")
    retry_after = data.draw(st.none() | st.text(max_size=12), label="retry_after")
    result: Any = None
    error = status_error(status, body, retry_after, None)
    if error is None:
        try:
            result = PARSERS[action](body, status)
        except OnlineSimError as raised:
            error = raised
    if error is not None:
        assert error.message.strip()  # a typed error with something to show
    else:
        check_model(action, result)


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def _expect_typed(action: str, call: Any) -> None:
    try:
        result = call()
    except OnlineSimError:
        return
    check_model(action, result)


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_sync_client_returns_the_model_or_a_typed_error(hostile: HostileServer, data: st.DataObject) -> None:
    action = data.draw(st.sampled_from(list(CALLS)), label="action")
    hostile.serve(data.draw(hostile_replies(action), label="reply"))
    method, args = CALLS[action]
    with OnlineSimClient("hostile-key", base_url=hostile.url, timeout=(1.0, 1.0), retry=QUICK) as client:
        _expect_typed(action, lambda: getattr(client, method)(*args))


class _Loop:
    """One event loop and one connection pool for all examples (as a triggerer shares one)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pool = self.loop.run_until_complete(self._pool())

    @staticmethod
    async def _pool() -> aiohttp.ClientSession:
        return new_session()

    def close(self) -> None:
        self.loop.run_until_complete(self.pool.close())
        self.loop.close()


@pytest.fixture(scope="module")
def loop() -> Iterator[_Loop]:
    loop = _Loop()
    yield loop
    loop.close()


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_async_client_returns_the_model_or_a_typed_error(
    hostile: HostileServer, loop: _Loop, data: st.DataObject
) -> None:
    action = data.draw(st.sampled_from(list(CALLS)), label="action")
    hostile.serve(data.draw(hostile_replies(action), label="reply"))
    method, args = CALLS[action]
    client = AsyncOnlineSimClient(
        "hostile-key", base_url=hostile.url, timeout=(1.0, 1.0), retry=QUICK, http_client=loop.pool
    )
    _expect_typed(action, lambda: loop.loop.run_until_complete(getattr(client, method)(*args)))


# --- a reply cut in transport is never taken for a shorter reply ------------------------------------


def call(
    client_kind: str, hostile: HostileServer, method: str, args: tuple[Any, ...], **settings: Any
) -> Any:
    """Call one client method against the hostile server with a fresh sync or async client.

    ``async-shared`` sends through the triggers' shared pool.
    """
    settings = {"api_key": "hostile-key", "base_url": hostile.url, "retry": QUICK, **settings}
    if client_kind == "sync":
        with OnlineSimClient(**settings) as client:
            return getattr(client, method)(*args)

    async def acall() -> Any:
        shared = shared_http_client() if client_kind == "async-shared" else None
        try:
            async with AsyncOnlineSimClient(**settings, http_client=shared) as client:
                return await getattr(client, method)(*args)
        finally:
            await aclose_shared_http_client()

    return asyncio.run(acall())


def _valid_bytes(action: str) -> bytes:
    valid = VALID_REPLIES[action]
    return (valid if isinstance(valid, str) else json.dumps(valid)).encode()


@pytest.mark.parametrize("client_kind", ["sync", "async-shared"])
@pytest.mark.parametrize("action", list(CALLS))
def test_a_reply_cut_in_transport_is_a_network_error_never_a_value(
    hostile: HostileServer, action: str, client_kind: str
) -> None:
    valid = _valid_bytes(action)
    hostile.serve(HostileReply(200, valid[: math.ceil(len(valid) / 2)], framing="short"))
    method, args = CALLS[action]
    with pytest.raises(OnlineSimError) as caught:
        call(client_kind, hostile, method, args)
    if action in ("getNumber", "getRentNumber"):
        assert isinstance(caught.value, OutcomeUnknownError)
        assert isinstance(caught.value.cause, NetworkError)
        assert hostile.requests == 1  # the order was not re-sent
    else:
        assert isinstance(caught.value, NetworkError)
        assert hostile.requests == QUICK.max_attempts


@pytest.mark.parametrize("client_kind", ["sync", "async-shared"])
def test_the_hostile_server_serves_valid_replies_faithfully(hostile: HostileServer, client_kind: str) -> None:
    """Control: with honest framing and valid bodies, the same server gives the right values."""
    results = {}
    for action, (method, args) in CALLS.items():
        hostile.serve(HostileReply(200, _valid_bytes(action)))
        results[action] = call(client_kind, hostile, method, args)
        check_model(action, results[action])
    assert results["getBalance"] == Balance(Decimal("1000.00"))
    assert results["getNumber"] == Activation(10001, "79161234567")
    assert results["getStatus"].code == "123456"
    assert results["getFullSms"].text == "Your code is 123456"
    assert results["getRentStatus"].messages[0].text == "code 1"


# --- huge, slow and key-echoing replies ----------------------------------------------------------

KEY = "Hostile-9f/Q+w&z=Yx%41~KEY"


@pytest.mark.parametrize("client_kind", ["sync", "async-shared"])
def test_a_huge_reply_is_a_protocol_error_with_a_capped_body(
    hostile: HostileServer, client_kind: str
) -> None:
    hostile.serve(HostileReply(200, b"<html>" + b"x" * 5_000_000))
    with pytest.raises(ProtocolError) as caught:
        call(client_kind, hostile, "get_balance", ())
    assert len(caught.value.body) == 2000
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("client_kind", ["sync", "async-shared"])
def test_a_reply_slower_than_the_timeout_is_a_network_error(hostile: HostileServer, client_kind: str) -> None:
    hostile.serve(HostileReply(200, b"ACCESS_BALANCE:1", delay=2.0))
    with pytest.raises(NetworkError) as caught:
        call(client_kind, hostile, "get_balance", (), timeout=(1.0, 0.2))
    assert caught.value.maybe_sent


@pytest.mark.parametrize("auth", ["header", "query"])
@pytest.mark.parametrize("client_kind", ["sync", "async-shared"])
def test_a_page_that_echoes_the_request_never_shows_the_key(
    hostile: HostileServer, client_kind: str, auth: str
) -> None:
    """The server sends back what it received (URL and headers), as some error pages do."""
    hostile.serve(HostileReply(502, b"", echo=True))
    with pytest.raises(OnlineSimError) as caught:
        call(client_kind, hostile, "get_balance", (), api_key=KEY, auth=auth)
    assert "getBalance" in caught.value.body, "the request was echoed"
    shown = [str(caught.value), repr(caught.value), caught.value.body, caught.value.message]
    assert not [
        text for text in shown for form in (KEY, quote(KEY, safe=""), quote_plus(KEY)) if form in text
    ]
