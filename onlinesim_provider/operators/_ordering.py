"""Ordering an activation: the first country that has a number, recorded before anything else.

Shared by ``OnlineSimGetNumberOperator`` (one order per task) and
``OnlineSimVerificationOperator`` (one order per attempt of a rotation), so both pay the same way:
one ``getNumber`` per country at most, ``NO_NUMBERS`` moves on to the next country, any other
error stops at once, and a fresh order is recorded for the task's retries before anything else
can fail. Each order and each error is counted in the metrics.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from onlinesim_provider.api.errors import NoNumbersError, OnlineSimError
from onlinesim_provider.api.models import ACTIVATION_LIFETIME
from onlinesim_provider.hooks.onlinesim import airflow_error
from onlinesim_provider.metrics import NUMBER_ORDERED, Labels, count
from onlinesim_provider.metrics import error as count_error

if TYPE_CHECKING:
    from collections.abc import Callable

    from onlinesim_provider.hooks.onlinesim import OnlineSimHook
    from onlinesim_provider.operators._orders import PendingOrder

__all__ = ["NoNumbersAnywhere", "order_activation", "remember"]


class NoNumbersAnywhere(AirflowFailException):
    """Every country answered ``NO_NUMBERS``: nothing was ordered."""


def order_activation(
    hook: OnlineSimHook,
    log: Any,
    service: str,
    countries: list[str | None],
    operator: str | None,
) -> dict[str, Any]:
    """Order a number in the first of ``countries`` that has one; return the order as a JSON dict.

    The dict holds the activation's fields plus ``service``, ``country``, ``ordered_at`` and
    ``expires_at`` (ISO 8601).

    :param hook: the hook whose client orders.
    :param log: the task's logger, where a country without numbers is reported.
    :param service: the service code.
    :param countries: the countries to try, in order (``None``: the server's default).
    :param operator: the mobile operator, or ``None`` for any.
    :raises NoNumbersAnywhere: when no country has a number.
    """
    for country in countries:
        labels = Labels.of_order({"service": service, "country": country}).with_dag()
        try:
            activation = hook.client.get_number(service, country, operator)
        except NoNumbersError as error:
            count_error(error, labels)
            log.warning("No numbers for service %s in country %s", service, country or "default")
            continue
        except OnlineSimError as error:
            count_error(error, labels)
            doing = f"Ordering a number for service {service!r} in country {country or 'default'!r}"
            raise airflow_error(error, doing) from error
        count(NUMBER_ORDERED, labels)
        ordered_at = datetime.now(UTC)
        return {
            **activation.to_dict(),
            "service": service,
            "country": country,
            "ordered_at": ordered_at.isoformat(),
            "expires_at": (ordered_at + ACTIVATION_LIFETIME).isoformat(),
        }
    tried = ", ".join(repr(c or "default") for c in countries)
    raise NoNumbersAnywhere(f"No numbers for service {service!r} in country {tried} (NO_NUMBERS).")


def remember(pending: PendingOrder, record: dict[str, Any], cancel: Callable[[], object]) -> None:
    """Record a fresh order for a retry; if that fails, cancel the order rather than lose track of it.

    :param pending: the task instance's record slot.
    :param record: what to record (plain JSON values).
    :param cancel: cancels the order just made.
    """
    try:
        pending.save(record)
    except Exception:
        cancel()
        raise
