"""The fault matrix: each of the twelve actions under each fault the sandbox can inject.

For every fault, a fresh sandbox world is prepared (an activation and a rent with an SMS, one
more of each to close), the fault is injected for all twelve actions, either on the first call
only or on every call, and the actions run concurrently in two waves (the reads, then the
writes) with the sync or the async client. Each call ends as an :class:`Observation`: the value
(compared with the same call's value without faults) or the typed error, how many HTTP calls
the action made, and how many orders it paid for.

Run ``python -m tests.reliability.fault_matrix`` to rewrite ``docs/fault-matrix.md``;
``tests/reliability/test_fault_matrix.py`` fails when the committed table is stale.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import itertools
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onlinesim_provider.api.aio import AsyncOnlineSimClient
from onlinesim_provider.api.client import OnlineSimClient
from onlinesim_provider.api.errors import OnlineSimError
from onlinesim_provider.api.retry import RetryPolicy
from onlinesim_provider.triggers._polling import shared_http_client

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import aiohttp

    from onlinesim_provider.sandbox import SandboxControl

__all__ = [
    "ACTIONS",
    "CLIENTS",
    "DOC",
    "FAULTS",
    "PERSISTENCE",
    "Matrix",
    "Observation",
    "render",
    "run_matrix",
]

DOC = Path(__file__).resolve().parents[2] / "docs" / "fault-matrix.md"

#: The retry budget of the matrix: three attempts, no real backoff, no jitter (deterministic).
POLICY = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.01, max_total=30.0, jitter=0.0)
#: Connect and read timeout of the clients, in seconds. A reply that is not delayed must come well
#: inside it even when the machine is saturated (both suites on two workers each, the deployment
#: test and other work on two cores have made a plain reply take over three seconds), or a retry
#: would time out and the cell count one call more.
READ_TIMEOUT = 10.0
TIMEOUT = (10.0, READ_TIMEOUT)
#: "read timeout" answers after the client has given up (the call is applied at once, so the late
#: reply changes nothing); "slow reply" comes far inside the timeout.
TIMEOUT_DELAY = 2 * READ_TIMEOUT
SLOW_DELAY = 0.1
#: The Retry-After the 429 fault sends, in seconds.
RETRY_AFTER = 0.3

#: Fault name -> the sandbox fault (``inject_fault`` keywords).
FAULTS: dict[str, dict[str, Any]] = {
    "429 + Retry-After": {"kind": "http_status", "status": 429, "retry_after": RETRY_AFTER},
    "429": {"kind": "http_status", "status": 429},
    "500": {"kind": "http_status", "status": 500},
    "502": {"kind": "http_status", "status": 502},
    "503": {"kind": "http_status", "status": 503},
    "reset": {"kind": "reset"},
    "reset after apply": {"kind": "reset", "processed": True},
    "read timeout": {"kind": "delay", "delay": TIMEOUT_DELAY},
    "slow reply": {"kind": "delay", "delay": SLOW_DELAY},
    "garbage": {"kind": "garbage"},
    "HTML page": {"kind": "html"},
    "empty body": {"kind": "empty"},
    "truncated JSON": {"kind": "truncated_json"},
    "ERROR_SQL": {"kind": "token", "token": "ERROR_SQL"},
}
#: The fault hits the first call of each action only, or every call.
PERSISTENCE = {"once": 1, "always": 50}
CLIENTS = ("sync", "async")


@dataclass(frozen=True)
class World:
    """What the matrix prepares before each run: ids the actions work on."""

    activation: int  # has an SMS: read by getStatus / getFullSms
    to_complete: int  # has an SMS: closed by setStatus 6
    rent: int  # has a message: read by getRentStatus, listed by getRentList
    to_close: int  # no message: closed by setRentStatus 2 (refunded)


#: Action -> (wave, client method, arguments built from the world). Reads run first, then writes.
ACTIONS: dict[str, tuple[int, str, Callable[[World], tuple[Any, ...]]]] = {
    "getBalance": (1, "get_balance", lambda w: ()),
    "getCountries": (1, "get_countries", lambda w: ()),
    "getNumbersStatus": (1, "get_numbers_status", lambda w: ("7",)),
    "getStatus": (1, "get_status", lambda w: (w.activation,)),
    "getFullSms": (1, "get_full_sms", lambda w: (w.activation,)),
    "getRentServicesAndCountries": (1, "get_rent_services_and_countries", lambda w: (24, "7")),
    "getRentList": (1, "get_rent_list", lambda w: ()),
    "getRentStatus": (1, "get_rent_status", lambda w: (w.rent,)),
    "getNumber": (2, "get_number", lambda w: ("tg", "7")),
    "setStatus": (2, "set_status", lambda w: (w.to_complete, 6)),
    "getRentNumber": (2, "get_rent_number", lambda w: ("44", 24)),
    "setRentStatus": (2, "set_rent_status", lambda w: (w.to_close, 2)),
}
#: Paid actions and the ledger event each order writes.
ORDERS = {"getNumber": "order", "getRentNumber": "rent_order"}
#: Fields whose value depends on when the call ran, left out of the comparison with the baseline.
_TIME_FIELDS = frozenset({"end_date", "date"})


@dataclass(frozen=True)
class Observation:
    """How one action ended under one fault.

    :param result: ``ok`` (the fault-free value), ``wrong value``, or the error class name.
    :param calls: HTTP requests the action made.
    :param paid: orders the action paid for (order actions only).
    :param elapsed: seconds the call took (not rendered: real time varies).
    """

    result: str
    calls: int
    paid: int | None = None
    elapsed: float = dataclasses.field(default=0.0, compare=False)

    def text(self) -> str:
        """Return the table form, e.g. ``ok (2 calls)`` or ``OutcomeUnknown (1 call), paid 0``."""
        name = self.result.removesuffix("Error")
        calls = f"{self.calls} call" + ("s" if self.calls != 1 else "")
        text = name if (self.result, self.calls) == ("ok", 1) else f"{name} ({calls})"
        return text if self.paid is None else f"{text}, paid {self.paid}"


#: (client, persistence, fault, action) -> observation.
Matrix = dict[tuple[str, str, str, str], Observation]


def _normal(value: Any) -> Any:
    """Return ``value`` with time-dependent fields dropped, for comparison with the baseline."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple(
            (f.name, _normal(getattr(value, f.name)))
            for f in dataclasses.fields(value)
            if f.name not in _TIME_FIELDS
        )
    if isinstance(value, list | tuple):
        return tuple(_normal(item) for item in value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _prepare(control: SandboxControl) -> World:
    control.reset()
    with OnlineSimClient(control.api_key, base_url=control.url) as client:
        activation = client.get_number("tg", "7").id
        to_complete = client.get_number("wa", "7").id
        rent = client.get_rent_number("7", 24).id
        to_close = client.get_rent_number("380", 24).id
    control.deliver_sms(activation, code="424242")
    control.deliver_sms(to_complete, code="515151")
    control.deliver_rent_sms(rent, "Your code is 777888")
    return World(activation, to_complete, rent, to_close)


def _settings(control: SandboxControl) -> dict[str, Any]:
    return {"base_url": control.url, "timeout": TIMEOUT, "retry": POLICY}


def _call_sync(control: SandboxControl, method: str, args: tuple[Any, ...]) -> tuple[str, Any]:
    with OnlineSimClient(control.api_key, **_settings(control)) as client:
        try:
            return "ok", getattr(client, method)(*args)
        except OnlineSimError as error:
            return type(error).__name__, None
        except Exception as error:  # anything untyped is a finding, reported as such
            return f"untyped {type(error).__name__}", None


async def _call_async(
    control: SandboxControl, pool: aiohttp.ClientSession, method: str, args: tuple[Any, ...]
) -> tuple[str, Any]:
    async with AsyncOnlineSimClient(control.api_key, **_settings(control), http_client=pool) as client:
        try:
            return "ok", await getattr(client, method)(*args)
        except OnlineSimError as error:
            return type(error).__name__, None
        except Exception as error:  # anything untyped is a finding, reported as such
            return f"untyped {type(error).__name__}", None


def _timed(call: Callable[[], tuple[str, Any]]) -> tuple[str, Any, float]:
    started = time.monotonic()
    result, value = call()
    return result, value, time.monotonic() - started


async def _atimed(call: Any) -> tuple[str, Any, float]:
    started = time.monotonic()
    result, value = await call
    return result, value, time.monotonic() - started


def _run_wave(
    control: SandboxControl, client: str, world: World, actions: list[str]
) -> dict[str, tuple[str, Any, float]]:
    calls = {action: (ACTIONS[action][1], ACTIONS[action][2](world)) for action in actions}
    if client == "sync":
        with ThreadPoolExecutor(max_workers=len(actions)) as pool:
            futures = {
                action: pool.submit(_timed, lambda m=method, a=args: _call_sync(control, m, a))
                for action, (method, args) in calls.items()
            }
            return {action: future.result() for action, future in futures.items()}

    async def run_all() -> list[tuple[str, Any, float]]:
        async with shared_http_client() as pool:  # the triggers' shared pool, on its own loop
            return await asyncio.gather(
                *(_atimed(_call_async(control, pool, method, args)) for method, args in calls.values())
            )

    return dict(zip(calls, asyncio.run(run_all()), strict=True))


def _run(
    control: SandboxControl, client: str, fault: dict[str, Any] | None, count: int
) -> dict[str, tuple[str, Any, float, int, int | None]]:
    """Prepare, inject ``fault`` for every action, run both waves; return per action what happened."""
    world = _prepare(control)
    orders_before = Counter(event["event"] for event in control.ledger())
    if fault is not None:
        for action in ACTIONS:
            control.inject_fault(action=action, count=count, **fault)
    results: dict[str, tuple[str, Any, float]] = {}
    for wave in (1, 2):
        results |= _run_wave(control, client, world, [a for a, spec in ACTIONS.items() if spec[0] == wave])
    control.clear_faults()
    calls = Counter(request["action"] for request in control.requests())
    ledger = Counter(event["event"] for event in control.ledger())
    prepared = Counter({"getNumber": 2, "getRentNumber": 2})
    return {
        action: (
            result,
            value,
            elapsed,
            calls[action] - prepared[action],
            ledger[ORDERS[action]] - orders_before[ORDERS[action]] if action in ORDERS else None,
        )
        for action, (result, value, elapsed) in results.items()
    }


def _client_matrix(control: SandboxControl, client: str) -> Matrix:
    matrix: Matrix = {}
    baseline = {action: _normal(run[1]) for action, run in _run(control, client, None, 1).items()}
    for (persistence, count), (name, fault) in itertools.product(PERSISTENCE.items(), FAULTS.items()):
        for action, (result, value, elapsed, calls, paid) in _run(control, client, fault, count).items():
            if result == "ok" and _normal(value) != baseline[action]:
                result = "wrong value"
            matrix[client, persistence, name, action] = Observation(result, calls, paid, elapsed)
    return matrix


def run_matrix(controls: Mapping[str, SandboxControl]) -> Matrix:
    """Run every action under every fault, once and always, with both clients at the same time.

    :param controls: one sandbox per client (each is reset before each run), as the request
        counts and the ledger of a sandbox must show one client's calls only.
    """
    with ThreadPoolExecutor(max_workers=len(CLIENTS)) as pool:
        parts = [pool.submit(_client_matrix, controls[client], client) for client in CLIENTS]
        return {key: observation for part in parts for key, observation in part.result().items()}


_HEADER = """\
# Fault matrix

Generated by `python -m tests.reliability.fault_matrix` from a real run of both clients (sync
`OnlineSimClient`, and async `AsyncOnlineSimClient` over the triggers' shared keep-alive pool)
against the sandbox; do not edit by hand.
`tests/reliability/test_fault_matrix.py` re-runs the matrix, checks every cell against the
design's promises, checks that both clients agree, and fails when this file is stale.

Setup: a retry budget of {attempts} attempts (`RetryPolicy(max_attempts={attempts})`), a read timeout
of {read_timeout} s; "read timeout" answers after {timeout_delay} s, "slow reply" after {slow_delay} s
(well under the timeout); "429 + Retry-After" asks for {retry_after} s, which the client waits.
"reset" closes the connection before the sandbox applies the call, "reset after apply" after it
(the call took effect but its reply was lost); "read timeout" and "truncated JSON" are applied too.

How to read a cell:

- `ok` — the call returned exactly the value it returns without the fault; `ok (2 calls)` — the
  same, after 2 HTTP calls (the client retried).
- `Server (3 calls)` (and the other names) — the typed error the caller gets (`ServerError`), after
  3 HTTP calls: `RateLimited`, `Server`, `Network`, `Protocol` and `ErrorSql` are transient
  (`TransientError`: Airflow may retry the task), `OutcomeUnknown` is fatal (no Airflow retry).
- `paid N` (orders only: `getNumber`, `getRentNumber`) — how many orders the sandbox charged.
  An order is re-sent only when it surely did not reach the server (HTTP 429); after any other
  failure it ends as `OutcomeUnknown (1 call)` — never sent twice, never paid twice.
"""


def _table(matrix: Matrix, client: str, persistence: str) -> list[str]:
    actions = list(ACTIONS)
    lines = ["| fault | " + " | ".join(f"`{a}`" for a in actions) + " |"]
    lines.append("|---|" + "---|" * len(actions))
    for fault in FAULTS:
        cells = (matrix[client, persistence, fault, action].text() for action in actions)
        lines.append(f"| {fault} | " + " | ".join(cells) + " |")
    return lines


def render(matrix: Matrix) -> str:
    """Return the Markdown document of the matrix (from the sync client's observations).

    :param matrix: the observations of :func:`run_matrix`.
    """
    cells = len(ACTIONS) * len(FAULTS)
    text = _HEADER.format(
        attempts=POLICY.max_attempts,
        read_timeout=READ_TIMEOUT,
        timeout_delay=TIMEOUT_DELAY,
        slow_delay=SLOW_DELAY,
        retry_after=RETRY_AFTER,
    )
    parts = [text]
    titles = {"once": "the first call of each action fails", "always": "every call fails"}
    for persistence, title in titles.items():
        parts += [f"## When {title}", "", *_table(matrix, "sync", persistence), ""]
    parts.append(
        f"{len(ACTIONS)} actions by {len(FAULTS)} faults: {cells} cells per table; "
        f"{cells * len(PERSISTENCE) * len(CLIENTS)} observations in all (both tables, both clients), "
        "and the async client's are identical to these."
    )
    return "\n".join(parts) + "\n"


def main() -> None:
    """Run the matrix against a fresh sandbox and rewrite ``docs/fault-matrix.md``."""
    from onlinesim_provider.sandbox import SandboxConfig, SandboxServer

    logging.basicConfig(level=logging.ERROR)  # the retry warnings of 672 faulted calls are expected
    with SandboxServer(SandboxConfig(), seed=1) as first, SandboxServer(SandboxConfig(), seed=1) as second:
        matrix = run_matrix(dict(zip(CLIENTS, (first.control, second.control), strict=True)))
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render(matrix), encoding="utf-8")
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
