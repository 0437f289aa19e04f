"""The failover audit: what counts as a broken promise (the full run is ``make bench-deployment``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from deploy.failover import audit
from deploy.scale import Wait

END = datetime(2026, 1, 1, tzinfo=UTC)
DELIVERED = Wait(0, 101, "success", 1, END, END, 1_700_000_000.0, "completed", False)
NEVER = Wait(1, 102, "failed", 1, END, END, None, "cancelled", True)
SUMMARY = {"orders": 2}
LEDGER: list[dict[str, Any]] = [
    {"event": "charge", "activation_id": 101, "amount": "10.00"},
    {"event": "charge", "activation_id": 102, "amount": "10.00"},
    {"event": "refund", "activation_id": 102, "amount": "10.00"},
]


def test_a_clean_run_passes() -> None:
    assert audit([DELIVERED, NEVER], SUMMARY, LEDGER, 2) == []


def test_an_activation_charged_twice_is_a_double_order() -> None:
    ledger = [*LEDGER, {"event": "charge", "activation_id": 101, "amount": "10.00"}]
    assert audit([DELIVERED, NEVER], SUMMARY, ledger, 2) == ["charged more than once: activations [101]"]


def test_a_missing_order_is_reported() -> None:
    assert audit([DELIVERED], {"orders": 1}, LEDGER[:1], 2) == [
        "expected 2 orders and waits, got 1 orders, 1 waits"
    ]


@pytest.mark.parametrize(
    ("wait", "seen"),
    [
        (
            replace(DELIVERED, state="failed", activation_state="cancelled", refunded=True),
            "('failed', 'cancelled', True) in try 1",
        ),
        (replace(NEVER, state="success"), "('success', 'cancelled', True) in try 1"),
        (replace(DELIVERED, try_number=2), "('success', 'completed', False) in try 2"),
        (replace(NEVER, activation_state="waiting", refunded=False), "('failed', 'waiting', False) in try 1"),
    ],
    ids=["code-arrived-but-wait-failed", "no-sms-but-success", "a-second-try", "left-open-unrefunded"],
)
def test_a_wait_not_ended_by_its_sms_or_its_timeout_is_reported(wait: Wait, seen: str) -> None:
    waits = [wait, NEVER] if wait.map_index == 0 else [DELIVERED, wait]
    (problem,) = audit(waits, SUMMARY, LEDGER, 2)
    assert problem.endswith(seen)
