"""A paid order kept for a task's retries, and the ordering that records it.

XComs are cleared when a task starts again, so the record lives in the task instance's state
store (Airflow 3.3+) or in a Variable named after the task instance. It is written right after
the order; it is forgotten when the task instance succeeds, and when it fails for good the order
is closed first. A record written before the task instance was cleared is an earlier run's.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException, Variable

from onlinesim_provider.api.errors import NoNumbersError, OnlineSimError
from onlinesim_provider.api.models import ACTIVATION_LIFETIME, ActivationState
from onlinesim_provider.hooks.onlinesim import airflow_error
from onlinesim_provider.metrics import NUMBER_ORDERED, Labels, count
from onlinesim_provider.metrics import error as count_error
from onlinesim_provider.waits.deadline import utcnow

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.providers.common.compat.sdk import Context

    from onlinesim_provider.hooks.onlinesim import OnlineSimHook

__all__ = ["NoNumbersAnywhere", "PaidOrder", "add_record_callbacks", "order_activation", "still_serves"]

log = logging.getLogger(__name__)

#: The record's field naming the task instance's run: ``max_tries`` grows when it is cleared.
RUN_FIELD = "max_tries"


class NoNumbersAnywhere(AirflowFailException):
    """Every country answered ``NO_NUMBERS``: nothing was ordered."""


class PaidOrder:
    """The record of what a task instance's tries paid for and did not hand on yet.

    :param kind: ``activation``, ``rent`` or ``rotation``; each kind has its own record.
    :param context: the running task's context.
    """

    def __init__(self, kind: str, context: Context) -> None:
        ti = context["ti"]
        self.store = context.get("task_state_store")
        self.key = f"onlinesim_pending_{kind}"
        if self.store is None:
            self.key += f"__{ti.dag_id}__{ti.task_id}__{ti.run_id}__{ti.map_index}"
        self.run = getattr(ti, "max_tries", None)
        self.first_try = getattr(ti, "try_number", None) == 1
        self.from_earlier_run = False

    def load(self) -> dict[str, Any] | None:
        """Return the recorded order as it appears in XCom, or ``None``."""
        if self.store is not None:
            record = self.store.get(self.key)
        else:
            record = Variable.get(self.key, None, deserialize_json=True)
        if not isinstance(record, dict):
            return None
        order = dict(record)
        self.from_earlier_run = order.pop(RUN_FIELD, None) != self.run
        return order

    def take(self, close: Callable[[dict[str, Any]], object]) -> dict[str, Any] | None:
        """Return the order an earlier try of this run recorded; close and forget an earlier run's.

        A cleared task instance starts a new run, which must not reuse what an earlier run bought:
        that order may have been handed on before its record was forgotten. The first try reads
        nothing: no try came before it, and Airflow 3.0 and 3.1 log a missing Variable as an error.

        :param close: closes (refunds, where the server still can) an earlier run's order.
        """
        order = None if self.first_try else self.load()
        if order is None or not self.from_earlier_run:
            return order
        log.info("Closing the %s an earlier run of this task left", self.key)
        close(order)
        self.clear()
        return None

    def save(self, order: dict[str, Any], undo: Callable[[], object] | None = None) -> None:
        """Record an order (plain JSON values, never a secret).

        :param order: the order as it will appear in XCom.
        :param undo: closes a fresh order that could not be recorded, rather than lose track of it.
        """
        record = {**order, RUN_FIELD: self.run}
        try:
            if self.store is not None:
                self.store.set(self.key, record)
            else:
                Variable.set(self.key, record, serialize_json=True)
        except Exception:
            if undo is not None:
                undo()
            raise

    def clear(self) -> None:
        """Forget the order: it was handed on, reused or closed."""
        if self.store is not None:
            self.store.delete(self.key)
        else:
            Variable.delete(self.key)


def add_record_callbacks(operator: Any, kind: str, close: Callable[[dict[str, Any]], object]) -> None:
    """Forget an ordering task's record when it succeeds; close the order first when it fails for good.

    The DAG author's own callbacks (None, one callable or a list) are kept and run first.

    :param operator: the ordering operator, during its ``__init__``.
    :param kind: the record's kind.
    :param close: closes (refunds, where the server still can) a recorded order.
    """
    operator.on_success_callback = [*_as_list(operator.on_success_callback), partial(_forget, kind)]
    operator.on_failure_callback = [*_as_list(operator.on_failure_callback), partial(_close, kind, close)]


def _as_list(callbacks: Any) -> list[Any]:
    return callbacks if isinstance(callbacks, list) else [] if callbacks is None else [callbacks]


def _forget(kind: str, context: Context) -> None:
    PaidOrder(kind, context).clear()


def _close(kind: str, close: Callable[[dict[str, Any]], object], context: Context) -> None:
    """Close the recorded order, then forget it; a failed close keeps the record, the money's one trace."""
    record = PaidOrder(kind, context)
    order = record.load()
    if order is not None:
        try:
            close(order)
        except Exception:
            log.exception(
                "Could not close the %s the failed task left; its record %s stays", kind, record.key
            )
            return
    record.clear()


def order_activation(
    hook: OnlineSimHook, service: str, countries: list[str | None], operator: str | None
) -> dict[str, Any]:
    """Order a number in the first of ``countries`` that has one; return the order as a JSON dict.

    The dict holds the activation's fields plus ``service``, ``country``, ``ordered_at`` and
    ``expires_at`` (ISO 8601). ``NO_NUMBERS`` moves on to the next country, any other error stops.

    :param hook: the hook whose client orders.
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
            hook.log.warning("No numbers for service %s in country %s", service, country or "default")
            continue
        except OnlineSimError as error:
            count_error(error, labels)
            doing = f"Ordering a number for service {service!r} in country {country or 'default'!r}"
            raise airflow_error(error, doing) from error
        count(NUMBER_ORDERED, labels)
        ordered_at = utcnow()
        return {
            **activation.to_dict(),
            "service": service,
            "country": country,
            "ordered_at": ordered_at.isoformat(),
            "expires_at": (ordered_at + ACTIVATION_LIFETIME).isoformat(),
        }
    tried = ", ".join(repr(c or "default") for c in countries)
    raise NoNumbersAnywhere(f"No numbers for service {service!r} in country {tried} (NO_NUMBERS).")


def still_serves(hook: OnlineSimHook, activation_id: int) -> bool:
    """Return whether an earlier try's number can still receive this verification's code.

    A number that got an SMS before it was handed on got a stray one (a recycled number's), which
    cannot be this verification's: the number is kept and asked for another code (``setStatus 3``),
    so the wait takes only the next one. A closed number no longer serves.

    :param hook: the hook whose client asks.
    :param activation_id: the number's activation id.
    """
    state = hook.client.get_status(activation_id).state
    if state is ActivationState.OK:
        hook.log.info(
            "Activation %s got an SMS before it was handed on: asking for another code", activation_id
        )
        hook.client.request_another_code(activation_id)
    return state in (ActivationState.WAIT_CODE, ActivationState.OK, ActivationState.WAIT_RETRY)
