"""Fault injection over real HTTP: each kind, counting, probability, scope and processing."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest
import requests

from onlinesim_provider.sandbox import SandboxControlError
from onlinesim_provider.sandbox.faults import FaultRule, FaultSet

if TYPE_CHECKING:
    from tests.sandbox.conftest import RawApi

pytestmark = pytest.mark.no_airflow


def _is_invalid_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return True
    return False


@pytest.mark.parametrize(
    ("fault", "action", "check"),
    [
        pytest.param(
            {"kind": "http_status", "status": 503},
            "getBalance",
            lambda r: r.status_code == 503 and r.text == "Service Unavailable",
            id="http-503",
        ),
        pytest.param(
            {"kind": "http_status", "status": 500},
            "getBalance",
            lambda r: r.status_code == 500,
            id="http-500",
        ),
        pytest.param(
            {"kind": "http_status", "status": 502},
            "getRentList",
            lambda r: r.status_code == 502,
            id="http-502",
        ),
        pytest.param(
            {"kind": "http_status", "status": 429, "retry_after": 7},
            "getBalance",
            lambda r: (
                r.status_code == 429 and r.headers["Retry-After"] == "7" and r.text == "TRY_AGAIN_LATER"
            ),
            id="http-429-retry-after",
        ),
        pytest.param(
            {"kind": "http_status", "status": 429},
            "getBalance",
            lambda r: r.status_code == 429 and "Retry-After" not in r.headers,
            id="http-429-bare",
        ),
        pytest.param(
            {"kind": "garbage", "seed": 3},
            "getBalance",
            lambda r: r.status_code == 200 and len(r.content) == 64 and r.content[0] == 0xFF,
            id="garbage",
        ),
        pytest.param(
            {"kind": "html"},
            "getCountries",
            lambda r: (
                r.status_code == 200
                and r.headers["Content-Type"].startswith("text/html")
                and b"<html>" in r.content
            ),
            id="html",
        ),
        pytest.param(
            {"kind": "empty"},
            "getBalance",
            lambda r: r.status_code == 200 and r.content == b"" and r.headers["Content-Length"] == "0",
            id="empty",
        ),
        pytest.param(
            {"kind": "truncated_json"},
            "getCountries",
            lambda r: r.status_code == 200 and r.content.startswith(b'{"7":') and _is_invalid_json(r.content),
            id="truncated-json",
        ),
        pytest.param(
            {"kind": "truncated_json"},
            "getBalance",
            lambda r: r.text in ("ACCESS_BAL", "ACCESS_BALA", "ACCESS_BALAN"),
            id="truncated-text",
        ),
        pytest.param(
            {"kind": "token"},
            "getBalance",
            lambda r: r.status_code == 200 and r.text == "ERROR_SQL",
            id="token-text",
        ),
        pytest.param(
            {"kind": "token", "token": "ERROR_SQL"},
            "getRentList",
            lambda r: r.json() == {"status": "error", "msg": "ERROR_SQL"},
            id="token-json",
        ),
        pytest.param(
            {"kind": "token", "token": "BANNED:2030-01-01 00:00:00"},
            "getNumber",
            lambda r: r.text == "BANNED:2030-01-01 00:00:00",
            id="token-banned",
        ),
    ],
)
def test_fault_kind(raw_api: RawApi, fault: dict[str, Any], action: str, check: Any) -> None:
    raw_api.control.inject_fault(action=action, **fault)
    response = raw_api.get(action, service="tg")
    assert check(response), (response.status_code, response.headers, response.content)
    assert raw_api.control.requests()[-1]["fault"] == fault["kind"]
    assert raw_api.control.faults() == []
    follow_up = raw_api.get(action, service="tg")
    assert follow_up.status_code == 200
    assert raw_api.control.requests()[-1]["fault"] is None


def test_reset_closes_the_connection_without_a_reply(raw_api: RawApi) -> None:
    raw_api.control.inject_fault("reset", action="getBalance")
    with pytest.raises(requests.ConnectionError):
        raw_api.get("getBalance")
    assert raw_api.text("getBalance") == "ACCESS_BALANCE:1000.00"
    assert raw_api.control.requests()[0]["status"] is None


def test_delay_answers_normally_after_waiting(raw_api: RawApi) -> None:
    raw_api.control.inject_fault("delay", action="getBalance", delay=0.3)
    started = time.monotonic()
    assert raw_api.text("getBalance") == "ACCESS_BALANCE:1000.00"
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(
    ("processed", "orders"), [(None, 0), (False, 0), (True, 1)], ids=["default-lost", "lost", "order-made"]
)
def test_processed_decides_whether_the_order_happened(
    raw_api: RawApi, processed: bool | None, orders: int
) -> None:
    raw_api.control.inject_fault("reset", action="getNumber", processed=processed)
    with pytest.raises(requests.ConnectionError):
        raw_api.get("getNumber", service="tg")
    assert raw_api.control.summary()["orders"] == orders


def test_truncated_json_is_always_processed(raw_api: RawApi) -> None:
    raw_api.control.inject_fault("truncated_json", action="getRentNumber")
    response = raw_api.get("getRentNumber", country="7")
    assert _is_invalid_json(response.content)
    assert raw_api.control.summary()["rent_orders"] == 1
    with pytest.raises(SandboxControlError, match="processed must be True"):
        raw_api.control.inject_fault("truncated_json", processed=False)


def test_count_action_filter_and_wildcard(raw_api: RawApi) -> None:
    raw_api.control.inject_fault("http_status", action="getStatus", status=500, count=2)
    assert raw_api.get("getBalance").status_code == 200
    assert [raw_api.get("getStatus", id=1).status_code for _ in range(3)] == [500, 500, 200]
    raw_api.control.inject_fault("empty", action="*", count=2)
    assert [raw_api.get(a).content for a in ("getBalance", "getCountries")] == [b"", b""]
    assert raw_api.get("getBalance").content == b"ACCESS_BALANCE:1000.00"


def test_probability_with_seed_is_reproducible(raw_api: RawApi) -> None:
    def run() -> list[int]:
        raw_api.control.clear_faults()
        raw_api.control.inject_fault("http_status", status=502, probability=0.5, seed=42)
        return [raw_api.get("getBalance").status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert 5 < first.count(502) < 35
    assert raw_api.control.faults()[0]["count"] is None


def test_probability_with_count_caps_the_firings(raw_api: RawApi) -> None:
    raw_api.control.inject_fault("http_status", status=500, probability=1.0, count=3)
    assert [raw_api.get("getBalance").status_code for _ in range(5)] == [500, 500, 500, 200, 200]


def test_controls_are_never_faulted(raw_api: RawApi) -> None:
    raw_api.control.inject_fault("reset", count=None, probability=1.0)
    assert raw_api.control.summary()["balance"] == "1000.00"
    assert raw_api.control.now() > 0
    raw_api.control.clear_faults()
    assert raw_api.text("getBalance") == "ACCESS_BALANCE:1000.00"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "meteor"}, "unknown fault kind"),
        ({"kind": "http_status", "status": 404}, "status"),
        ({"kind": "http_status"}, "status"),
        ({"kind": "delay"}, "delay"),
        ({"kind": "delay", "delay": 600}, "delay"),
        ({"kind": "empty", "count": 0}, "count"),
        ({"kind": "empty", "count": None}, "count or a probability"),
        ({"kind": "empty", "probability": 1.5}, "probability"),
        ({"kind": "empty", "action": ""}, "action"),
        ({"kind": "http_status", "status": 429, "retry_after": -1}, "retry_after"),
    ],
    ids=[
        "kind",
        "status-404",
        "status-missing",
        "delay-missing",
        "delay-too-long",
        "count-0",
        "count-none-alone",
        "probability",
        "action",
        "retry-after",
    ],
)
def test_fault_rule_validation(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FaultRule(**kwargs)


def test_first_matching_rule_wins() -> None:
    faults = FaultSet()
    faults.add(FaultRule("empty", action="getStatus"))
    faults.add(FaultRule("html"))
    first, second, third = faults.pick("getBalance"), faults.pick("getStatus"), faults.pick("getStatus")
    assert (first and first.kind, second and second.kind, third) == ("html", "empty", None)
