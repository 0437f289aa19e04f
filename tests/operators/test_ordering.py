"""Ordering an activation in the first country that has a number, and recording it safely."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.operators._ordering import NoNumbersAnywhere, order_activation, remember
from onlinesim_provider.waits.inputs import instant

if TYPE_CHECKING:
    from onlinesim_provider.sandbox import SandboxControl

log = logging.getLogger(__name__)


def _get_numbers(sandbox: SandboxControl) -> list[Any]:
    return [r["query"].get("country") for r in sandbox.requests() if r["action"] == "getNumber"]


def test_orders_in_the_first_country_that_has_a_number(onlinesim_conn: SandboxControl) -> None:
    onlinesim_conn.set_stock("44", "tg", 0)
    order = order_activation(OnlineSimHook(), log, "tg", ["44", "7"], None)
    [activation] = onlinesim_conn.activations()
    assert order["activation_id"] == activation["id"]
    assert (order["phone"], order["service"], order["country"]) == (activation["phone"], "tg", "7")
    ordered_at = instant("ordered_at", order["ordered_at"])
    expires_at = instant("expires_at", order["expires_at"])
    assert ordered_at is not None
    assert expires_at is not None
    assert (expires_at - ordered_at).total_seconds() == 15 * 60
    assert _get_numbers(onlinesim_conn) == ["44", "7"], "one call per country, no more"


def test_no_numbers_anywhere_names_every_country_and_orders_nothing(onlinesim_conn: SandboxControl) -> None:
    onlinesim_conn.set_stock("44", "tg", 0)
    onlinesim_conn.set_stock("7", "tg", 0)
    with pytest.raises(
        NoNumbersAnywhere, match=r"No numbers for service 'tg' in country '44', '7' \(NO_NUMBERS\)"
    ):
        order_activation(OnlineSimHook(), log, "tg", ["44", "7"], None)
    assert issubclass(NoNumbersAnywhere, AirflowFailException), "no retry: nothing to buy"
    assert onlinesim_conn.summary()["orders"] == 0


def test_another_error_stops_at_once(onlinesim_conn: SandboxControl) -> None:
    onlinesim_conn.set_balance("0.00")
    with pytest.raises(AirflowFailException, match=r"in country '44' failed: .*NO_BALANCE"):
        order_activation(OnlineSimHook(), log, "tg", ["44", "7"], None)
    assert _get_numbers(onlinesim_conn) == ["44"]


class _BrokenSlot:
    key = "broken"

    def save(self, record: dict[str, Any]) -> None:
        raise AirflowException("the metadata database is gone")


def test_an_order_that_cannot_be_recorded_is_cancelled() -> None:
    cancelled: list[str] = []
    with pytest.raises(AirflowException, match="metadata database is gone"):
        remember(_BrokenSlot(), {"activation_id": 5}, lambda: cancelled.append("cancelled"))  # type: ignore[arg-type]
    assert cancelled == ["cancelled"]
