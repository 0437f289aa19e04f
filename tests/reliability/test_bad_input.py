"""Bad input across operators, sensors, hook and connection: a clear error, before any order, no retry.

Each case either fails when the DAG is parsed (building the operator raises a validation error)
or, for values known only at run time (rendered templates, the connection, what the server knows),
fails in ``execute()`` with ``AirflowFailException``, which Airflow never retries. The message
must name the bad value and say what was expected; the sandbox's ledger must show no order and,
except where only the server can tell (an unknown service or country, a wrong key), no order
request at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.operators.onlinesim import (
    OnlineSimGetBalanceOperator,
    OnlineSimGetNumberOperator,
    OnlineSimGetRentNumberOperator,
    OnlineSimSetRentStatusOperator,
    OnlineSimSetStatusOperator,
)
from onlinesim_provider.sensors.onlinesim import OnlineSimRentSmsSensor, OnlineSimSmsSensor
from tests.conftest import CONN_ENV
from tests.reliability.chaos import FlowTI
from tests.reliability.secrets_scan import KEY

if TYPE_CHECKING:
    from collections.abc import Callable

    from onlinesim_provider.sandbox import SandboxControl

ORDER_ACTIONS = {"getNumber", "getRentNumber"}


@dataclass(frozen=True)
class Bad:
    """One bad input.

    :param build: builds the task (this is where a DAG file fails when it is parsed).
    :param value: how the message shows the bad value.
    :param expected: how the message says what was expected.
    :param run: runs the built task; ``None`` when building must already fail.
    :param connection: the ``onlinesim_default`` connection to use (the sandbox's when None).
    :param asks_server: only the server can tell: one order request, answered with an error.
    """

    build: Callable[[], Any]
    value: str
    expected: str
    run: Callable[[Any], Any] | None = None
    connection: dict[str, Any] | None = None
    asks_server: bool = False


def _context() -> dict[str, Any]:
    ti = FlowTI("test_dag_rel_bad_input", "task", "manual__bad", 1)
    return {"ti": ti, "task_instance": ti, "params": {}}


def _execute(task: Any) -> Any:
    return task.execute(_context())


def _rendered(**values: Any) -> Callable[[Any], Any]:
    """Run the task after Airflow rendered its templated fields to ``values``."""

    def run(task: Any) -> Any:
        for name, value in values.items():
            setattr(task, name, value)
        return task.execute(_context())

    return run


def order(**kwargs: Any) -> Callable[[], Any]:
    return lambda: OnlineSimGetNumberOperator(task_id="order", **{"service": "tg", "country": "7", **kwargs})


def rent(**kwargs: Any) -> Callable[[], Any]:
    return lambda: OnlineSimGetRentNumberOperator(task_id="rent", **{"country": "7", **kwargs})


def sms(**kwargs: Any) -> Callable[[], Any]:
    return lambda: OnlineSimSmsSensor(
        task_id="wait", **{"activation_id": 10001, "poke_interval": 0.1, **kwargs}
    )


def rent_sms(**kwargs: Any) -> Callable[[], Any]:
    return lambda: OnlineSimRentSmsSensor(
        task_id="wait", **{"rent_id": 50001, "poke_interval": 0.1, **kwargs}
    )


def conn(**fields: Any) -> dict[str, Any]:
    return {"conn_type": "onlinesim", "host": "{url}", "password": KEY, **fields}


EXPECTED_CODE = "printable characters without spaces"
EXPECTED_ID = "expected a positive integer"
EXPECTED_HOURS = "a whole number of hours from 1 to 8760"

CASES = {
    # --- OnlineSimGetNumberOperator ------------------------------------------------------------
    "service-empty": Bad(order(service=""), "got ''", EXPECTED_CODE),
    "service-with-space": Bad(order(service="t g"), "'t g'", EXPECTED_CODE),
    "service-missing-value": Bad(order(service=None), "got None", "a service code such as 'tg'"),
    "service-unknown-to-the-server": Bad(
        order(service="nosuchsvc"), "'nosuchsvc'", "not known to the server", _execute, asks_server=True
    ),
    "service-rendered-empty": Bad(
        order(service="{{ params.service }}"), "got ''", EXPECTED_CODE, _rendered(service="")
    ),
    "country-float": Bad(order(country=7.5), "got 7.5", "a country key"),
    "country-bool": Bad(order(country=True), "got True", "a country key"),
    "country-empty-list": Bad(order(country=[]), "got []", "a non-empty list of keys"),
    "country-dict": Bad(order(country={"7": 1}), "{'7': 1}", "a country key", _execute),
    "country-unknown-to-the-server": Bad(
        order(country="999"), "'999'", "No numbers for service", _execute, asks_server=True
    ),
    "operator-with-space": Bad(order(operator="a b"), "'a b'", "an operator name"),
    # --- OnlineSimSetStatusOperator --------------------------------------------------------------
    "activation-id-negative": Bad(
        lambda: OnlineSimSetStatusOperator(task_id="s", activation_id=-5, status="complete"),
        "got -5",
        EXPECTED_ID,
    ),
    "activation-id-not-numeric": Bad(
        lambda: OnlineSimSetStatusOperator(task_id="s", activation_id="abc", status="complete"),
        "'abc'",
        EXPECTED_ID,
    ),
    "activation-id-bool": Bad(
        lambda: OnlineSimSetStatusOperator(task_id="s", activation_id=True, status="complete"),
        "got True",
        EXPECTED_ID,
    ),
    "activation-id-rendered-empty": Bad(
        lambda: OnlineSimSetStatusOperator(
            task_id="s", activation_id="{{ ti.xcom_pull('x') }}", status="cancel"
        ),
        "got ''",
        EXPECTED_ID,
        _rendered(activation_id=""),
    ),
    "status-unknown-name": Bad(
        lambda: OnlineSimSetStatusOperator(task_id="s", activation_id=5, status="done"),
        "'done'",
        "'complete', 'cancel'",
    ),
    "status-number-not-name": Bad(
        lambda: OnlineSimSetStatusOperator(task_id="s", activation_id=5, status=6),
        "got 6",
        "expected one of 'ready'",
    ),
    # --- rents ---------------------------------------------------------------------------------------
    "rent-hours-zero": Bad(rent(hours=0), "got 0", EXPECTED_HOURS),
    "rent-hours-negative": Bad(rent(hours=-3), "got -3", EXPECTED_HOURS),
    "rent-hours-absurd": Bad(rent(hours=100000), "got 100000", EXPECTED_HOURS),
    "rent-hours-words": Bad(rent(hours="two"), "'two'", EXPECTED_HOURS),
    "rent-hours-fraction": Bad(rent(hours=1.5), "got 1.5", EXPECTED_HOURS),
    "rent-country-missing-value": Bad(rent(country=None), "got None", "a country key"),
    "rent-status-unknown": Bad(
        lambda: OnlineSimSetRentStatusOperator(task_id="c", rent_id=5, status="cancel"),
        "'cancel'",
        "'close', 'finish'",
    ),
    "rent-id-not-numeric": Bad(
        lambda: OnlineSimSetRentStatusOperator(task_id="c", rent_id="x1"), "'x1'", EXPECTED_ID
    ),
    "balance-minimum-words": Bad(
        lambda: OnlineSimGetBalanceOperator(task_id="b", minimum="lots"), "'lots'", "a non-negative amount"
    ),
    "balance-minimum-negative": Bad(
        lambda: OnlineSimGetBalanceOperator(task_id="b", minimum=-1), "got -1", "a non-negative amount"
    ),
    # --- sensors -------------------------------------------------------------------------------------
    "wait-for-unknown": Bad(sms(wait_for="sms"), "'sms'", "expected 'code' or 'full_sms'"),
    "code-pattern-invalid-regex": Bad(
        sms(wait_for="full_sms", code_pattern="("), "'('", "not a valid regular"
    ),
    "code-pattern-without-code-group": Bad(
        sms(wait_for="full_sms", code_pattern=r"\d+"), r"'\\d+'", "expected e.g. r'code is (?P<code>"
    ),
    "code-pattern-without-full-sms": Bad(
        sms(code_pattern=r"(?P<code>\d+)"), "code_pattern", "wait_for='full_sms'"
    ),
    "sensor-activation-id-zero": Bad(sms(activation_id=0), "got 0", EXPECTED_ID),
    "sensor-timeout-negative": Bad(sms(timeout=-5), "timeout", "non-negative number"),
    "sensor-poke-interval-negative": Bad(sms(poke_interval=-1), "poke_interval", "non-negative number"),
    "sensor-expires-at-not-a-date": Bad(sms(expires_at="soon"), "'soon'", "ISO 8601", _execute),
    "rent-text-pattern-invalid-regex": Bad(rent_sms(text_pattern="["), "'['", "not a valid regular"),
    "rent-sensor-id-zero": Bad(rent_sms(rent_id=0), "got 0", EXPECTED_ID),
    "rent-received-after-not-a-date": Bad(
        rent_sms(received_after="yesterday"), "'yesterday'", "ISO 8601", _execute
    ),
    # --- hook and connection (the order task fails before it orders) ----------------------------------
    "connection-missing": Bad(
        lambda: OnlineSimGetNumberOperator(task_id="order", service="tg", onlinesim_conn_id="no_such_conn"),
        "'no_such_conn'",
        "expected an 'onlinesim' connection",
        _execute,
    ),
    "connection-without-key": Bad(
        order(), "'onlinesim_default'", "got no API key", _execute, conn(password="")
    ),
    "connection-wrong-key": Bad(
        order(), "BAD_KEY", "The API key is invalid or missing", _execute, conn(password="not-the-key"), True
    ),
    "connection-url-not-http": Bad(
        order(), "'ftp://example.com'", "an http:// or https:// URL", _execute, conn(host="ftp://example.com")
    ),
    "connection-url-port-not-a-number": Bad(
        order(),
        "'http://127.0.0.1:abc'",
        "an http:// or https:// URL",
        _execute,
        conn(host="http://127.0.0.1:abc"),
    ),
    "connection-url-with-credentials": Bad(
        order(),
        "without credentials",
        "an http:// or https:// URL",
        _execute,
        conn(host="http://user:pw@127.0.0.1:1"),
    ),
    "connection-auth-unknown": Bad(
        order(), "'cookie'", "'header' or 'query'", _execute, conn(extra={"auth": "cookie"})
    ),
    "connection-timeout-words": Bad(
        order(), "'fast'", "seconds > 0 or a (connect, read) pair", _execute, conn(extra={"timeout": "fast"})
    ),
    "connection-timeout-negative": Bad(
        order(), "-1", "seconds > 0 or a (connect, read) pair", _execute, conn(extra={"timeout": -1})
    ),
    "connection-cancel-status-7": Bad(
        order(), "7", "6 (OnlineSIM) or 8", _execute, conn(extra={"cancel_status": 7})
    ),
    "connection-proxies-not-a-url": Bad(
        order(),
        "'proxy please'",
        "a proxy URL or map schemes to proxy URLs",
        _execute,
        conn(extra={"proxies": "proxy please"}),
    ),
}


def _connection(sandbox: SandboxControl, fields: dict[str, Any]) -> str:
    fields = {**fields, "host": fields["host"].replace("{url}", sandbox.url)}
    return json.dumps(fields)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_fails_clearly_before_any_order_without_retry(
    onlinesim_conn: SandboxControl, monkeypatch: pytest.MonkeyPatch, case: Bad
) -> None:
    if case.connection is not None:
        monkeypatch.setenv(CONN_ENV, _connection(onlinesim_conn, case.connection))
    if case.run is None:  # the DAG file fails to parse: the task never exists
        with pytest.raises((AirflowFailException, ValueError, AirflowException)) as caught:
            case.build()
    else:
        task = case.build()
        with pytest.raises(AirflowFailException) as caught:  # Airflow never retries this one
            case.run(task)
    message = str(caught.value)
    assert case.value in message, message
    assert case.expected in message, message
    assert KEY not in message
    ledger = onlinesim_conn.ledger()
    assert [e for e in ledger if e["event"] in ("order", "rent_order", "charge")] == []
    order_requests = [r for r in onlinesim_conn.requests() if r["action"] in ORDER_ACTIONS]
    assert len(order_requests) == (1 if case.asks_server else 0)


def test_the_table_has_at_least_thirty_cases_across_all_four_parts() -> None:
    assert len(CASES) >= 30
    parts = {name.split("-")[0] for name in CASES}
    assert {"service", "country", "activation", "status", "rent", "wait", "sensor", "connection"} <= parts


def test_a_timeout_beyond_the_order_lifetime_is_capped_to_it_not_an_error(
    onlinesim_conn: SandboxControl,
) -> None:
    """Design rule 3: the wait's one deadline is the timeout capped by the order's lifetime."""
    activation = OnlineSimHook().client.get_number("tg", "7")
    onlinesim_conn.deliver_sms(activation.id, code="5555")
    sensor = OnlineSimSmsSensor(task_id="wait", activation_id=activation.id, timeout=3600, poke_interval=0.1)
    assert sensor.execute(_context())["code"] == "5555"
    assert sensor._deadline is not None
    assert sensor._start is not None
    assert (sensor._deadline - sensor._start).total_seconds() == 15 * 60
