"""Every action under every fault, sync and async: the outcome the design promises, and the doc table.

The promises (``docs/fault-matrix.md`` shows what was observed):

- a read (and a close, which is harmless to repeat) recovers within the retry budget, with exactly
  the value it has without the fault; a fault on every call ends in the typed transient error;
- an order is re-sent only after HTTP 429 (surely not received); after any other failure it ends
  as ``OutcomeUnknownError`` after one call, paid once if the server applied it, never twice;
- a slow reply just under the timeout is simply a reply.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import pytest

from onlinesim_provider.api.client import OnlineSimClient
from onlinesim_provider.api.errors import AlreadyFinishError, BadStatusError
from onlinesim_provider.api.models import SetStatusReply
from onlinesim_provider.sandbox import SandboxConfig, SandboxServer
from tests.reliability.fault_matrix import (
    ACTIONS,
    CLIENTS,
    DOC,
    FAULTS,
    ORDERS,
    PERSISTENCE,
    POLICY,
    RETRY_AFTER,
    Matrix,
    Observation,
    render,
    run_matrix,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from onlinesim_provider.sandbox import SandboxControl

#: The typed error each fault ends in once the retry budget is spent.
TRANSIENT = {
    "429 + Retry-After": "RateLimitedError",
    "429": "RateLimitedError",
    "500": "ServerError",
    "502": "ServerError",
    "503": "ServerError",
    "reset": "NetworkError",
    "reset after apply": "NetworkError",
    "read timeout": "NetworkError",
    "garbage": "ProtocolError",
    "HTML page": "ProtocolError",
    "empty body": "ProtocolError",
    "truncated JSON": "ProtocolError",
    "ERROR_SQL": "ErrorSqlError",
}
#: Faults after which the server has applied the call (its reply was lost or cut).
APPLIED = {"reset after apply", "read timeout", "truncated JSON"}
#: Faults that prove the request was not received, so even an order may be sent again.
NOT_RECEIVED = {"429 + Retry-After", "429"}


def promised(persistence: str, fault: str, action: str) -> Observation:
    """Return the outcome the design promises for one cell."""
    attempts = POLICY.max_attempts
    once = persistence == "once"
    if action in ORDERS:
        if fault == "slow reply":
            return Observation("ok", 1, paid=1)
        if fault in NOT_RECEIVED:
            return Observation("ok", 2, paid=1) if once else Observation(TRANSIENT[fault], attempts, paid=0)
        return Observation("OutcomeUnknownError", 1, paid=1 if fault in APPLIED else 0)
    if fault == "slow reply":
        return Observation("ok", 1)
    return Observation("ok", 2) if once else Observation(TRANSIENT[fault], attempts)


@pytest.fixture(scope="module")
def matrix(onlinesim_sandbox_server: SandboxServer) -> Iterator[Matrix]:
    # The async client's run gets a sandbox of its own: a sandbox's request counts and ledger must
    # show one client's calls only, and the two clients' runs go side by side.
    with SandboxServer(SandboxConfig(api_key=onlinesim_sandbox_server.control.api_key), seed=1) as other:
        yield run_matrix({"sync": onlinesim_sandbox_server.control, "async": other.control})


CASES = list(itertools.product(CLIENTS, PERSISTENCE, FAULTS))


@pytest.mark.parametrize(("client", "persistence", "fault"), CASES, ids=["-".join(case) for case in CASES])
def test_every_action_keeps_the_promise(matrix: Matrix, client: str, persistence: str, fault: str) -> None:
    observed = {action: matrix[client, persistence, fault, action] for action in ACTIONS}
    assert observed == {action: promised(persistence, fault, action) for action in ACTIONS}


def test_both_clients_behave_identically(matrix: Matrix) -> None:
    differences = {
        key[1:]: (observation, matrix[("async", *key[1:])])
        for key, observation in matrix.items()
        if key[0] == "sync" and observation != matrix[("async", *key[1:])]
    }
    assert differences == {}
    assert len(matrix) == len(CLIENTS) * len(PERSISTENCE) * len(FAULTS) * len(ACTIONS) == 672


def test_retry_after_is_waited_for_before_the_retry(matrix: Matrix) -> None:
    waits = {key: obs.elapsed for key, obs in matrix.items() if key[1:3] == ("once", "429 + Retry-After")}
    assert len(waits) == 2 * len(ACTIONS)
    assert min(waits.values()) >= RETRY_AFTER


def test_docs_fault_matrix_is_current(matrix: Matrix) -> None:
    committed = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert render(matrix) == committed, (
        "docs/fault-matrix.md is stale: run `python -m tests.reliability.fault_matrix` and commit it"
    )


# --- a repeated close succeeds only when an earlier attempt may have closed it --------------------


def _client(sandbox: SandboxControl) -> OnlineSimClient:
    return OnlineSimClient(sandbox.api_key, base_url=sandbox.url, retry=POLICY)


@pytest.mark.parametrize("fault", ["none", "429"], ids=["no-fault", "429-first"])
def test_closing_an_order_closed_before_the_call_still_fails(
    onlinesim_sandbox: SandboxControl, fault: str
) -> None:
    with _client(onlinesim_sandbox) as client:
        activation = client.get_number("tg", "7")
        rent = client.get_rent_number("7", 24)
        client.complete_activation(activation.id)
        client.close_rent(rent.id)
        if fault == "429":  # the first attempt surely did not reach the server: nothing to adopt
            for action in ("setStatus", "setRentStatus"):
                onlinesim_sandbox.inject_fault("http_status", action=action, status=429)
        with pytest.raises(BadStatusError):
            client.complete_activation(activation.id)
        with pytest.raises(AlreadyFinishError):
            client.close_rent(rent.id)


@pytest.mark.parametrize("cancel_status", [6, 8], ids=["onlinesim-6", "sms-activate-8"])
def test_a_close_whose_reply_was_lost_reports_the_close(
    onlinesim_sandbox: SandboxControl, cancel_status: int
) -> None:
    onlinesim_sandbox.configure(cancel_status=cancel_status)
    with OnlineSimClient(
        onlinesim_sandbox.api_key, base_url=onlinesim_sandbox.url, retry=POLICY, cancel_status=cancel_status
    ) as client:
        activation = client.get_number("tg", "7")
        onlinesim_sandbox.inject_fault("reset", action="setStatus", processed=True)
        expected = SetStatusReply.ACTIVATION if cancel_status == 6 else SetStatusReply.CANCEL
        assert client.cancel_activation(activation.id) is expected
    [status] = [event for event in onlinesim_sandbox.ledger() if event["event"] == "status"]
    assert status["status"] == cancel_status
    assert onlinesim_sandbox.summary()["refunded"] == "10.00"
